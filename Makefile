# Loa Xã — two commands: `make run` and `make test`. `make bench` for figures.
SHELL := /bin/bash
CARGO ?= cargo
DATA ?= ./data
LISTEN ?= 127.0.0.1:8080

# Debian packages the build, the tests and the demo need.
PKGS_BUILD := pkg-config libasound2-dev
PKGS_RUN := espeak-ng xmlsec1
PKGS_TEST := openssl xmlsec1 curl python3 python3-venv libreoffice-calc-nogui chromium chromium-driver sox libsox-fmt-mp3 lame flac vorbis-tools ffmpeg pulseaudio pulseaudio-utils libasound2-plugins espeak-ng postgresql
PKGS_BROWSER := chromium chromium-driver

.PHONY: run test bench fuzz deps deps-test check-tools build clean package package-check pi

# Install what is missing: apt-get when root, else print the exact command and stop.
define ensure_pkgs
	@missing=""; for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	  else \
	    echo "Missing system packages. Run:  sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi
endef

deps:
	$(call ensure_pkgs,$(PKGS_BUILD) $(PKGS_RUN))

deps-test:
	$(call ensure_pkgs,$(PKGS_BUILD) $(PKGS_TEST))
	@command -v cargo-nextest >/dev/null || true

build: deps
	$(CARGO) build --release --bin loaxa-web --bin loaxa-controller

run: build
	@scripts/run-demo.sh "$(DATA)" "$(LISTEN)"

test: deps-test
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	scripts/unused-deps.sh
	scripts/with-postgres.sh bash -c 'status=0; \
	  $(CARGO) test --workspace --no-fail-fast || status=1; \
	  echo "== the API suite again, on PostgreSQL"; \
	  LOAXA_API_BACKEND=postgres $(CARGO) test --workspace --test api --no-fail-fast -- --test-threads=4 || status=1; \
	  exit $$status'
	LOAXA_API_FUZZ_SECONDS=$${LOAXA_API_FUZZ_SECONDS:-90} scripts/fuzz-api.sh

bench: deps-test
	@scripts/bench.sh

# Coverage-guided fuzzing (cargo-fuzz): its own command, because building the fuzz targets
# alone takes longer than every benchmark together on two cores. Then the HTTP API from its
# OpenAPI document (schemathesis, longer than the run in `test`).
fuzz: deps-test
	@status=0; scripts/fuzz.sh || status=1; \
	LOAXA_API_FUZZ_SECONDS=$${LOAXA_API_FUZZ_SECONDS:-300} scripts/fuzz-api.sh || status=1; \
	exit $$status

# Debian packages (target/debian/*.deb) and their check; reuse the release build of `make run`.
package: deps
	@scripts/package.sh

package-check: package
	@scripts/check-packages.sh

# Raspberry Pi: cross-build the controller for aarch64 and armv7, check both binaries under
# qemu-user, and pack the arm64 and armhf .debs (installs the cross toolchains first). Slow:
# not in `test`.
pi:
	@scripts/pi.sh

clean:
	$(CARGO) clean
