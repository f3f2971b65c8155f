# syntax=docker/dockerfile:1
#
# The ladder image: `ladder run` (the daemon, issue 12) with `git`, non-root, and the
# release binary without debug info.
#
#   docker build -t ladder .
#   docker run --rm -p 8080:8080 -v "$PWD/config.yaml:/etc/ladder/config.yaml:ro" ladder
#
# Image size: `docker image inspect ladder --format '{{.Size}}'` after a build. The
# machine this file was written on has no Docker daemon, so BENCHMARKS.md states the size
# of the runtime stage's contents assembled without Docker (debootstrap of bookworm with
# the slim image's exclusions, the same packages, the same stripped binary): 205 MB, 75 MB
# gzipped. `make deploy-check` lints this file with hadolint; it does not build it.
#
# No HEALTHCHECK: the image runs in Kubernetes, where the chart in deploy/helm/ladder
# probes /healthz (liveness) and /readyz (readiness); Kubernetes ignores HEALTHCHECK.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# ---- build ----------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
WORKDIR /src
# Cargo features of the `ladder` package to build, space separated (none today: leader
# election is always built in, on a small client of its own).
ARG LADDER_FEATURES=""
# The release profile keeps line tables (Cargo.toml: 114 MB binary); the image gets the
# binary without any debug info and stripped (27 MB with the daemon).
ENV CARGO_PROFILE_RELEASE_DEBUG=false \
    CARGO_PROFILE_RELEASE_STRIP=symbols \
    CARGO_TERM_COLOR=never
# The whole context (see .dockerignore): the binary embeds files from environments/ and
# templates/ with include_str!, and the workspace needs every member's manifest.
COPY . .
# The registry and target folders are BuildKit cache mounts, so a rebuild after a source
# change reuses the compiled dependencies; the binary is copied out of the cache mount.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p ladder --features "${LADDER_FEATURES}" \
    && install -D -m 0755 target/release/ladder /out/ladder

# ---- runtime --------------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# git: ladder fetches and pushes with it; ca-certificates: https remotes and the forge
# API; openssh-client: ssh:// and scp-like remotes use the system `ssh`.
# Versions are not pinned: the image follows the Debian release's security updates.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates openssh-client \
    && rm -rf /var/lib/apt/lists/*
# A numeric, non-root user (Kubernetes' runAsNonRoot can only verify a numeric UID), and
# the cache folder it owns (mirrors of the tenant repos; an emptyDir in the chart).
ARG LADDER_UID=10001
RUN groupadd --system --gid "${LADDER_UID}" ladder \
    && useradd --system --uid "${LADDER_UID}" --gid ladder --home-dir /var/cache/ladder \
        --no-create-home --shell /usr/sbin/nologin ladder \
    && install -d -m 0750 -o "${LADDER_UID}" -g "${LADDER_UID}" /var/cache/ladder \
    && install -d -m 0755 /etc/ladder
COPY --from=build /out/ladder /usr/local/bin/ladder
ENV LADDER_CACHE_DIR=/var/cache/ladder
WORKDIR /var/cache/ladder
USER ${LADDER_UID}:${LADDER_UID}
# HTTP: webhooks, /healthz, /readyz, /metrics, /api/v1/status. The daemon listens on
# 127.0.0.1:8080 unless told otherwise: set `listen: 0.0.0.0:8080` in the config (the
# chart does) or LADDER__LISTEN=0.0.0.0:8080.
EXPOSE 8080
ENTRYPOINT ["ladder"]
CMD ["run", "--config", "/etc/ladder/config.yaml"]
