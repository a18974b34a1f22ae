# The two commands (see README): `make run` and `make test`. Both install what they need
# on a fresh Debian 12 machine (run as root) and are safe to run twice.

SHELL := /bin/bash
APT_PACKAGES := build-essential pkg-config libclang-dev \
	libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev \
	gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
	gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav \
	ffmpeg fonts-dejavu-core
# Real peers the tests talk to: SRT receivers, an RTMP server, network namespaces and tc.
TEST_PACKAGES := srt-tools nginx libnginx-mod-rtmp iproute2 python3 curl chromium
CARGO ?= cargo

.PHONY: deps test-deps web run test lint build bench

## Installs the system packages and Rust components the build and the box use.
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust 1.95 with rustup first"; exit 1; }
	@rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt

## The peers the tests run against.
test-deps: deps
	@missing=$$(for p in $(TEST_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	fi

## The web UI (web-ui/dist, embedded into the daemon at build time): hls.js and the
## browser-test driver from npm (package-lock.json), then our files and their gzip copies.
web: deps
	@command -v npm >/dev/null || { export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm; }
	cd web-ui && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build

build: deps web
	$(CARGO) build --locked --release -p fourcastd

## Runs the box on the virtual board: web UI, HLS and status on port 8080 (URLs printed).
run: build
	./target/release/fourcastd run $(ARGS)

## Lints, then every test: unit, store crash loop, engine, and end to end against the daemon.
test: test-deps lint
	$(CARGO) build --locked -p fourcastd
	$(CARGO) test --locked --workspace --exclude fourcast-e2e
	# End-to-end tests run one at a time: each runs the box live on this machine's cores.
	$(CARGO) test --locked -p fourcast-e2e --tests -- --test-threads=1

## The benchmark: Fourcast's engine against ffmpeg on the standard workload, how cost grows,
## RTMP fan-out and live probes. Prints tables; writes target/bench/results.json.
bench: test-deps build
	$(CARGO) build --locked --release -p fourcast-e2e --bin fourcast-g2g
	python3 tests/bench/bench.py $(BENCH_ARGS)

lint: deps web
	$(CARGO) fmt --all --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
