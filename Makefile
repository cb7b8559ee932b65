# praxiskiosk — the two commands a fresh Debian 12 machine needs: `make demo` and `make test`.
# Both install the Debian packages they need first (as root, or with sudo).

SHELL := /bin/bash
# rustup installs cargo into ~/.cargo/bin, which a non-login shell (CI, sudo) may not have on PATH.
export PATH := $(HOME)/.cargo/bin:$(PATH)

# How long the demo call runs, in seconds.
DEMO_SECONDS ?= 20
export DEMO_SECONDS

.DEFAULT_GOAL := help
# deps must finish before anything compiles against GStreamer, also under `make -j`.
.NOTPARALLEL:
.PHONY: help deps build test demo bench clean

help:
	@echo "praxiskiosk — targets:"
	@echo "  make deps    install missing Debian packages (GStreamer, Mosquitto, jq); checks for Rust"
	@echo "  make build   build kioskd and kioskctl (target/debug/)"
	@echo "  make test    deps, then cargo fmt --check, clippy -D warnings, cargo test"
	@echo "  make demo    deps, build, then a whole consultation on this machine"
	@echo "               (DEMO_SECONDS=$(DEMO_SECONDS); a window when DISPLAY or WAYLAND_DISPLAY is set)"
	@echo "  make bench   benchmarks (UI rendering, idle CPU), a table and target/bench/*.json"
	@echo "  make clean   remove target/"

deps:
	.ci/install-deps

build:
	cargo build --locked --bins

test: deps
	cargo fmt --check
	cargo clippy --locked --all-targets -- -D warnings
	cargo test --locked

demo: deps build
	config/demo/run-demo.sh

bench: deps
	cargo bench --locked --bench render --bench idle

clean:
	cargo clean
