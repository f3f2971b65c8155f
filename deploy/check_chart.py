#!/usr/bin/env python3
"""Lint and render deploy/helm/ladder with the Helm SDK, without a helm binary.

Uses PyPI's helm-python-sdk (import name helm_python: ctypes bindings to libhelm_c, a C
ABI over Helm's Go SDK, bundled in the wheel). For each scenario it lints the chart
strictly (a warning fails) and renders it (`helm template`), writing every rendered
document to <out>/<scenario>/manifests.yaml: one folder of plain manifests, which
crates/promote/tests/deploy_chart.rs checks with ladder's readiness checklist. It also
checks that values the chart must refuse (an inline token, an HTTPRoute without a
Gateway) fail to render.

    python3 deploy/check_chart.py --out DIR [--chart deploy/helm/ladder]

Exit 0 when everything passed, 1 when a check failed, 2 when helm_python is missing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

try:
    import helm_python as helm
except ImportError as exc:  # pragma: no cover - reported to the caller
    print(
        f"check_chart.py: cannot import helm_python ({exc}); "
        "install it with `python3 -m pip install helm-python-sdk==0.2.2`",
        file=sys.stderr,
    )
    sys.exit(2)

RELEASE = "ladder"
NAMESPACE = "ladder-system"

# A tenant with a GitHub forge, its token and webhook secret mounted from Secrets.
TENANTS = {
    "config": {
        "tenants": [
            {
                "name": "acme",
                "repo": "https://github.com/acme/platform-config.git",
                "branch": "main",
                "pollInterval": "60s",
                "forge": {
                    "type": "github",
                    "apiUrl": "https://api.github.com",
                    "tokenFile": "/etc/ladder/secrets/acme-github/token",
                },
                "webhookSecretFile": "/etc/ladder/secrets/acme-webhook/secret",
                "render": {"branch": "rendered"},
            }
        ]
    },
    "secrets": [{"name": "acme-github"}, {"name": "acme-webhook"}],
}

SCENARIOS: dict[str, dict] = {
    "default": {},
    "httproute": {
        **TENANTS,
        "httpRoute": {
            "enabled": True,
            "parentRefs": [
                {"name": "public", "namespace": "gateway-system", "sectionName": "https"}
            ],
            "hostnames": ["ladder.example.com"],
        },
    },
}

# Values the chart must refuse, with a piece of the expected message.
REFUSED: dict[str, tuple[dict, str]] = {
    "inline forge token": (
        {
            "config": {
                "tenants": [
                    {"name": "acme", "repo": "x", "forge": {"type": "github", "token": "t"}}
                ]
            }
        },
        "config.tenants[0].forge.token",
    ),
    "inline webhook secret": (
        {"config": {"tenants": [{"name": "acme", "repo": "x", "webhookSecret": "s"}]}},
        "config.tenants[0].webhookSecret",
    ),
    "httpRoute without parentRefs": (
        {"httpRoute": {"enabled": True}},
        "httpRoute.parentRefs",
    ),
}

SEVERITY = {0: "unknown", 1: "info", 2: "warning", 3: "error"}


def lint(chart: Path, name: str, values: dict) -> list[str]:
    report = helm.lint(chart, values, strict=True, namespace=NAMESPACE)
    problems = []
    for message in report.get("messages") or []:
        severity = message.get("severity", 0)
        line = f"lint {name}: [{SEVERITY.get(severity, severity)}] {message.get('path')}: {message.get('error')}"
        if severity >= 2:
            problems.append(line)
        else:
            print(line, file=sys.stderr)
    problems.extend(f"lint {name}: {error}" for error in report.get("errors") or [])
    return problems


def render(chart: helm.Chart, values: dict) -> dict[str, str]:
    return chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)


def write(manifests: dict[str, str], folder: Path) -> int:
    """All documents in one file, in template order; returns how many."""
    folder.mkdir(parents=True, exist_ok=True)
    documents = []
    for path in sorted(manifests):
        if path.endswith("NOTES.txt"):
            continue
        for document in manifests[path].split("\n---"):
            if document.strip().strip("-").strip():
                documents.append(f"# Source: {path}\n{document.strip().removeprefix('---').strip()}\n")
    (folder / "manifests.yaml").write_text("---\n".join(documents))
    return len(documents)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chart", type=Path, default=Path(__file__).parent / "helm" / "ladder")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    started = time.monotonic()
    problems: list[str] = []
    print(
        f"helm-c {helm.helm_c_version()}, Helm SDK {helm.helm_sdk_version()}, chart {args.chart}",
        file=sys.stderr,
    )
    with helm.Chart.load(args.chart) as chart:
        for name, values in SCENARIOS.items():
            problems += lint(args.chart, name, values)
            try:
                manifests = render(chart, values)
            except helm.HelmError as exc:
                problems.append(f"render {name}: {exc}")
                continue
            notes = next((v for k, v in manifests.items() if k.endswith("NOTES.txt")), "")
            if not notes.strip():
                problems.append(f"render {name}: NOTES.txt rendered empty")
            count = write(manifests, args.out / name)
            print(f"render {name}: {count} documents in {args.out / name}", file=sys.stderr)
        for name, (values, expected) in REFUSED.items():
            try:
                render(chart, values)
                problems.append(f"refuse {name}: rendered, but the chart must refuse it")
            except helm.HelmError as exc:
                if expected not in str(exc):
                    problems.append(f"refuse {name}: failed without naming {expected!r}: {exc}")
    for problem in problems:
        print(problem, file=sys.stderr)
    print(
        f"check_chart.py: {'FAILED' if problems else 'ok'} in {time.monotonic() - started:.2f}s",
        file=sys.stderr,
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
