# The two commands (see README): `make run` and `make test`. Both install what they need
# on a fresh Debian 12 machine (run as root) and are safe to run twice. `make test-fresh`
# runs `make test` in a brand-new minimal Debian 12 root, as CI does (.ci/fresh-root.sh).

SHELL := /bin/bash
# The build (C toolchain, pkg-config, libclang for bindgen, GStreamer's headers) and the box
# at run time. Each GStreamer element the engine makes, and the package that ships it, is in
# firmware/engine/src/packages.rs; a unit test holds this list to that table.
#   gstreamer1.0-plugins-base: audiomixer, videotestsrc, videoscale, decodebin, app elements
#   gstreamer1.0-plugins-good: aacparse, flvmux/flvdemux, splitmuxsink, pngdec
#   gstreamer1.0-plugins-bad:  h264parse, mpegtsmux, srtsrc/srtsink, rtmp2sink, timecodestamper
#   gstreamer1.0-plugins-ugly: x264enc (the software encoder)   gstreamer1.0-libav: avenc_aac
#   gstreamer1.0-x: textoverlay, clockoverlay, timeoverlay (Pango; camera labels, clock)
#   fonts-dejavu-core: the fonts Pango draws with
APT_PACKAGES := build-essential pkg-config libclang-dev \
	libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev \
	gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
	gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav \
	gstreamer1.0-x ffmpeg fonts-dejavu-core
# Real peers and tools the tests and the bench call: ffmpeg/ffprobe (above), SRT receivers
# (srt-tools), an RTMP server (nginx with its RTMP module), network namespaces and tc
# (iproute2), python3 (bench), curl, Debian's Chromium (browser tests, driven by
# playwright-core from npm), an MQTT 5 broker and its clients (mosquitto, the fleet tests),
# a TLS terminator in front of nginx-rtmp (stunnel4, the RTMPS test), RAUC on a private
# D-Bus with squashfs bundles (the OTA tests), and the virtual board: QEMU, busybox and kmod
# for its initramfs, v4l-utils, alsa-utils, i2c-tools and GStreamer's ALSA elements inside;
# python3-venv for the Yocto layer's linter (oelint-adv from PyPI); e2fsprogs for the HIL
# board's data disk.
TEST_PACKAGES := srt-tools nginx libnginx-mod-rtmp iproute2 python3 curl chromium \
	mosquitto mosquitto-clients stunnel4 rauc squashfs-tools dbus libglib2.0-bin openssl \
	qemu-system-x86 busybox-static kmod xz-utils v4l-utils alsa-utils i2c-tools gstreamer1.0-alsa \
	python3-venv e2fsprogs
# Node.js and npm build the web UI; skipped when a node and npm are already on the PATH
# (a machine with NodeSource's nodejs, whose npm is built in).
NODE_PACKAGES := nodejs npm
CARGO ?= cargo
WEB_SOURCES := $(shell find web-ui/src -type f) web-ui/build.mjs web-ui/package-lock.json

.PHONY: deps test-deps web run test test-fresh lint build bench fuzz sbom audit deny soak \
	fleet-outage fleet-scale ota-rollout check-arm check-layer hil

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
## Rebuilt only when its sources change, so the daemon is not relinked for nothing.
web: deps web-ui/dist/index.html

web-ui/node_modules/.installed: web-ui/package-lock.json
	@command -v node >/dev/null && command -v npm >/dev/null || { \
		echo "installing: $(NODE_PACKAGES)"; export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $(NODE_PACKAGES); }
	cd web-ui && npm ci --no-audit --no-fund --loglevel=error
	touch $@

web-ui/dist/index.html: web-ui/node_modules/.installed $(WEB_SOURCES)
	cd web-ui && npm run --silent build

build: deps web
	$(CARGO) build --locked --release -p fourcastd -p fourcast-fleet-tool

## Runs the box on the virtual board: web UI, HLS and status on port 8080 (URLs printed).
run: build
	./target/release/fourcastd run $(ARGS)

## Lints, then every test: unit, store crash loop, engine, and end to end against the
## daemon. The end-to-end tests run the release daemon, as users do (`make run`).
test: test-deps lint deny build check-arm check-layer
	$(CARGO) test --locked --workspace --exclude fourcast-e2e
	# End-to-end tests run one at a time: each runs the box live on this machine's cores.
	$(CARGO) test --locked -p fourcast-e2e --tests -- --test-threads=1
	# The HIL scenarios' short set on the virtual board (hil/scenarios, `ci = true`).
	$(CARGO) run --locked -p fourcast-hil -- --ci

## The firmware for ARM: cross-compiles every binary of the workspace (and so every crate
## they use) for aarch64 against Debian 12's own arm64 GStreamer, unpacked once into
## $(ARM_ROOT) (board/arm64/root.sh), with Debian's aarch64 gcc as linker; then runs the
## pure cores' unit tests (the scaler's NEON path against the portable code) and the daemon
## itself (virtual board, HLS judged by ffprobe: tests/tests/arm64.rs) under qemu-user.
ARM_TARGET := aarch64-unknown-linux-gnu
ARM_ROOT := $(CURDIR)/target/arm64/root
ARM_PACKAGES := gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static mmdebstrap file
ARM_ENV := PKG_CONFIG_ALLOW_CROSS=1 PKG_CONFIG_SYSROOT_DIR=$(ARM_ROOT) \
	PKG_CONFIG_LIBDIR=$(ARM_ROOT)/usr/lib/aarch64-linux-gnu/pkgconfig:$(ARM_ROOT)/usr/share/pkgconfig \
	CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc CFLAGS_aarch64_unknown_linux_gnu=--sysroot=$(ARM_ROOT) \
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C link-arg=--sysroot=$(ARM_ROOT)" \
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64-static -L $(ARM_ROOT)"
check-arm: deps web
	@missing=$$(for p in $(ARM_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@rustup target list --installed 2>/dev/null | grep -qx $(ARM_TARGET) || rustup target add $(ARM_TARGET)
	bash board/arm64/root.sh $(ARM_ROOT)
	$(ARM_ENV) $(CARGO) build --locked --target $(ARM_TARGET) --workspace --bins
	$(ARM_ENV) $(CARGO) clippy --locked --target $(ARM_TARGET) -p fourcast-media-core --all-targets -- -D warnings
	$(ARM_ENV) $(CARGO) test --locked --target $(ARM_TARGET) -p fourcast-media-core
	$(CARGO) test --locked -p fourcast-e2e --test arm64 -- --nocapture

## The Yocto layer (yocto/meta-fourcast) without a build: its crate list against Cargo.lock
## and oelint-adv (from PyPI, into target/tools/oelint) over its recipes, for Yocto 6.0
## "wrynose". Suppressions are in place, each with its reason; the one on the command line:
## HOMEPAGE is not pinged (the build machines reach only the package registries). The rest
## of yocto-check-layer's build-free rules is tests/tests/yocto.rs.
OELINT_VERSION := 9.11.2
check-layer: test-deps
	@test -x target/tools/oelint/bin/oelint-adv || { \
		python3 -m venv target/tools/oelint && \
		target/tools/oelint/bin/pip install --quiet oelint-adv==$(OELINT_VERSION); }
	python3 yocto/meta-fourcast/scripts/crates.py --check
	cd yocto/meta-fourcast && ../../target/tools/oelint/bin/oelint-adv --release wrynose --quiet \
		--relpaths --constantmods=+scripts/oelint-constants.json \
		--suppress oelint.vars.homepageping \
		$$(find . -name '*.bb' -o -name '*.bbappend' -o -path './conf/*.conf' | sort)

## Every HIL scenario (hil/scenarios/*.toml), each its `repeat` times, on the virtual board
## (A/B slots, RAUC, real reboots and power cuts under QEMU): about two hours with the
## hour-long soak. A real box: make hil HIL_ARGS="--target ssh://root@BOX --tester ADDRESS
## --token TOKEN --bundle good=… --bundle unhealthy=… --bundle broken=…" (README: Testing a
## real box). HIL_ARGS="--only NAME --repeat N" picks.
HIL_ARGS ?=
hil: test-deps build
	$(CARGO) run --locked --release -p fourcast-hil -- $(HIL_ARGS)

## `make test` in a brand-new minimal Debian 12 root (what CI runs): a package the lists
## above forget fails here as on a new machine. Runs the committed HEAD. Needs root.
test-fresh:
	bash .ci/fresh-root.sh make test

## The benchmark: Fourcast's engine against ffmpeg on the standard workload, how cost grows,
## RTMP fan-out and live probes. Prints tables; writes target/bench/results.json.
bench: test-deps build
	$(CARGO) build --locked --release -p fourcast-e2e --bin fourcast-g2g
	python3 tests/bench/bench.py $(BENCH_ARGS)

## Mutation fuzzing of every parser of outside input, FUZZ_SECONDS per target (default 60);
## crashing inputs land in firmware/fuzz/corpus/<target>/, which `make test` replays.
FUZZ_SECONDS ?= 60
fuzz: deps
	$(CARGO) run --locked --release -p fourcast-fuzz -- all --seconds $(FUZZ_SECONDS)

## The dependency graph's licences, bans, duplicate versions and sources (deny.toml), by
## cargo-deny, built once into target/tools.
CARGO_DENY_VERSION := 0.20.2
deny: deps
	@test -x target/tools/bin/cargo-deny || \
		$(CARGO) install --locked --quiet --root target/tools cargo-deny --version $(CARGO_DENY_VERSION)
	target/tools/bin/cargo-deny check licenses bans sources

## Soak: the box with uplinks, recording and a polling UI and player for SOAK_MINUTES
## (default 60), sampled every 10 s into target/soak/soak.csv; fails on growth.
SOAK_MINUTES ?= 60
soak: test-deps build
	python3 tests/bench/soak.py --minutes $(SOAK_MINUTES)

## The fleet link through a 10-minute broker outage (a daemon restart halfway): frames
## dropped, events queued and delivered, time to drain. FLEET_OUTAGE_S sets the length.
FLEET_OUTAGE_S ?= 600
fleet-outage: test-deps build
	FLEET_OUTAGE_S=$(FLEET_OUTAGE_S) $(CARGO) test --locked --release -p fourcast-e2e --test fleet \
		-- --nocapture --exact events_wait_out_a_broker_outage_and_a_restart

## Fleet scale on a local mosquitto: N simulated boxes (FLEET_DEVICES, default "100 1000"),
## config-push convergence, command round trips, broker and simulator memory, and the
## real agent's CPU and memory in the daemon.
FLEET_DEVICES ?= 100 1000
fleet-scale: test-deps build
	python3 tests/bench/fleet_scale.py --devices $(FLEET_DEVICES)

## Staged OTA rollouts over OTA_DEVICES simulated boxes (0, 5 and 15 % failing their
## health check): where `fourcast-fleet ota rollout` stops and what it leaves untouched.
OTA_DEVICES ?= 1000
ota-rollout: test-deps build
	python3 tests/bench/ota_rollout.py --devices $(OTA_DEVICES)

## A CycloneDX SBOM of the firmware's crates and the web UI's shipped npm packages.
sbom: deps
	mkdir -p target
	python3 .ci/sbom.py > target/sbom.cdx.json
	@echo "target/sbom.cdx.json"

## Known vulnerabilities in the dependencies: needs the RustSec and npm advisory databases,
## so it needs internet access (the build machines have only the package registries).
audit: deps
	$(CARGO) install --locked --root target/tools cargo-audit
	target/tools/bin/cargo-audit audit
	cd web-ui && npm audit --omit=dev

lint: deps web
	$(CARGO) fmt --all --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	# Docs build without a broken link (private items documented: this is firmware).
	RUSTDOCFLAGS="-D warnings -A rustdoc::private_intra_doc_links" \
		$(CARGO) doc --locked --no-deps --workspace --document-private-items --quiet
