# The one entry point for checks; CI (.ci/run) calls `make test`.
CARGO ?= cargo

MSRV := $(shell sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)

.PHONY: test fmt lint msrv unit bench render

test: fmt lint msrv unit

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

unit:
	$(CARGO) test --workspace --locked

bench:
	$(CARGO) bench --workspace --locked

render:
	$(CARGO) run --release --locked -- render --repo examples/acme --out rendered
