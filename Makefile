# camvault: the two commands are `make demo` and `make test`. See README.md.
SHELL := /bin/bash
CARGO ?= cargo
AARCH64 := aarch64-unknown-linux-musl
ARMV7 := armv7-unknown-linux-gnueabihf
AARCH64_BIN := target/$(AARCH64)/release/camvault
ARMV7_BIN := target/$(ARMV7)/release/camvault
# Seconds the demo runs; `make demo DEMO_SECONDS=` runs until Ctrl-C.
DEMO_SECONDS ?= 60
DEMO_DIR ?= camvault-demo

.PHONY: all build demo test check lint deps cross cross-aarch64 cross-armv7 bench image bundle vm-test soak fuzz security clean

all: build

build:
	$(CARGO) build --release --locked

## The main job on embedded defaults: two test cameras, 10-s segments, uploads to a folder.
demo:
	./scripts/deps.sh demo
	$(CARGO) build --locked
	./target/debug/camvault demo --dir $(DEMO_DIR) $(if $(DEMO_SECONDS),--seconds $(DEMO_SECONDS))

## Every test, after installing what they need (qemu, cross linkers, systemd-analyze).
test: deps lint cross-aarch64
	FUZZ_SECONDS=20 AARCH64_CAMVAULT_BIN=$(CURDIR)/$(AARCH64_BIN) $(CARGO) test --locked --all-targets
	SOAK_MINUTES=2 $(CARGO) test --locked --test soak -- --nocapture
	$(MAKE) --no-print-directory vm-test MACHINE=qemu-arm64
	$(MAKE) --no-print-directory security

## The fast tier (under 3 minutes warm): format, lints, unit tests and the in-process
## integration tests (store, config, the kill -9 loop). `make test` stays the full suite.
check: lint
	$(CARGO) test --locked --lib --test store --test config --test store_crash --test retention_clock

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets --test image --test ota_power --test power_cut --test soak -- -D warnings

deps:
	./scripts/deps.sh

## Stripped static binaries for the Pi and Jetson (see docs/OPERATIONS.md for cross-rs).
cross: cross-aarch64 cross-armv7
	@ls -l $(AARCH64_BIN) $(ARMV7_BIN) | awk '{print $$5, $$9}'

cross-aarch64: deps
	$(CARGO) zigbuild --release --locked --target $(AARCH64)

cross-armv7: deps
	$(CARGO) build --release --locked --target $(ARMV7)

## Benchmarks, each a ratio against a named peer on the same input.
bench:
	./scripts/bench.sh

## The systemd unit's exposure score (lower is better; 10 is unprotected).
security:
	@systemd-analyze security --offline=true overlay/etc/systemd/system/camvault.service | tail -n 1

## The card image: out/camvault-<version>-<machine>.img (+ .bmap, .img.zst). docs/IMAGE.md.
MACHINE ?= qemu-arm64
image: cross-aarch64
	./flash/build-image.sh $(MACHINE)

## A signed RAUC bundle of the root slot `make image` built last (docs/IMAGE.md, "Updates").
bundle:
	./flash/bundle.sh "$(MACHINE)" "$(VERSION)" "$(EPOCH)"

## The qemu-arm64 image booted under qemu-system-aarch64 (tests/image.rs, about 8 minutes),
## then power cuts while it records (tests/power_cut.rs, POWER_CUTS of them, about 1.5 minutes
## each); `make test` runs it last.
POWER_CUTS ?= 10
vm-test: export CAMVAULT_ZSTD_LEVEL ?= 3
vm-test: image
	$(CARGO) test --locked --test image -- --nocapture
	POWER_CUTS=$(POWER_CUTS) $(CARGO) test --locked --test power_cut -- --nocapture

## The fuzz campaign: every parser of outside bytes (src/fuzz.rs), FUZZ_SECONDS each.
FUZZ_SECONDS ?= 300
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(CARGO) test --locked --lib fuzz_ -- --nocapture --test-threads=2

## Long runs: the daemon for SOAK_MINUTES with 8 cameras through faults (target/soak-report.txt),
## SOAK_CUTS power cuts while recording (about 1.5 minutes each, fewer if
## POWER_CUT_MINUTES runs out; target/power-cut-tally.txt), then
## CUTS power cuts during updates (about 5 minutes each; target/ota-power-tally.txt).
SOAK_MINUTES ?= 120
SOAK_CUTS ?= 200
CUTS ?= 100
soak: export CAMVAULT_ZSTD_LEVEL ?= 3
soak: image
	SOAK_MINUTES=$(SOAK_MINUTES) $(CARGO) test --locked --test soak -- --nocapture
	POWER_CUTS=$(SOAK_CUTS) $(CARGO) test --locked --test power_cut -- --nocapture
	OTA_CUTS=$(CUTS) $(CARGO) test --locked --test ota_power -- --nocapture

clean:
	$(CARGO) clean
