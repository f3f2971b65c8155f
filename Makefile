# The one entry point for checks; CI (.ci/run) calls `make test`.
CARGO ?= cargo

.PHONY: test fmt lint unit bench render

test: fmt lint unit

fmt:
	$(CARGO) fmt --all -- --check

lint:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

unit:
	$(CARGO) test --workspace --locked

bench:
	$(CARGO) bench --workspace --locked

render:
	$(CARGO) run --release --locked -- render --repo examples/acme --out rendered
