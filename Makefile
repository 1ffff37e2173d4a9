# Shortcuts for developers; the README's two scripts are what CI and a fresh machine use.
.PHONY: fmt lint test test-quick bench fuzz demo deps

deps:
	./scripts/install-deps.sh

fmt:
	cargo fmt --all

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

# Everything, as CI runs it (installs what is missing).
test:
	./scripts/test.sh

# Unit and integration tests only, assuming the dependencies are installed.
test-quick:
	cargo nextest run --workspace || cargo test --workspace

bench:
	cargo bench -p mail-exporters-common
	cargo bench -p postfix-exporter
	./benches/idle-rss.sh
	./benches/postfix-log.sh
	./benches/postfix-queue.sh
	./benches/reliability.sh

fuzz:
	./scripts/fuzz-smoke.sh

demo:
	./scripts/demo.sh
