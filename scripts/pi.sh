#!/usr/bin/env bash
# `make pi`: cross-build loaxa-controller for the Raspberry Pi, 64-bit (aarch64, arm64 .deb)
# and 32-bit (armv7, armhf), and check the binaries under qemu-user.
#
# 1. Installs what is missing (as root; else prints the command and stops): the armhf/arm64
#    dpkg architectures, Debian's cross gcc and libc for each target, the target's ALSA headers
#    (libasound2-dev:ARCH, the only target library: SQLite is compiled in, TLS is rustls),
#    qemu-user and file; and the rustup targets.
# 2. Builds `--profile dist` (release without debug info, stripped) for each target with the
#    cross linker and pkg-config pointed at the target's ALSA.
# 3. Checks each binary: `file` names the right architecture, and under qemu-user it runs
#    `--version` and `--print-config` on the packaged configuration.
# 4. Packs target/TRIPLE/debian/loaxa-controller_*_{arm64,armhf}.deb
#    (scripts/package.sh --target) and checks each packaged binary the same way.
#
# Usage: scripts/pi.sh [TRIPLE...]   (default: both targets; PI_DEB=0 skips the .debs)
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
export CARGO_INCREMENTAL=0
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf)

fail() { echo "FAIL: $*" >&2; exit 1; }
# TRIPLE -> Debian architecture, GNU triple (cross gcc prefix), qemu-user binary.
debarch() { case $1 in aarch64-*) echo arm64 ;; armv7-*) echo armhf ;; *) fail "unsupported target $1" ;; esac; }
gnu() { case $1 in aarch64-*) echo aarch64-linux-gnu ;; armv7-*) echo arm-linux-gnueabihf ;; esac; }
qemu() { case $1 in aarch64-*) echo qemu-aarch64 ;; armv7-*) echo qemu-arm ;; esac; }
filearch() { case $1 in aarch64-*) echo "ARM aarch64" ;; armv7-*) echo "32-bit LSB .*ARM, EABI5" ;; esac; }

# 1. What is missing.
archs=() pkgs=(qemu-user file)
foreign=$(dpkg --print-foreign-architectures) # (not piped into grep -q: pipefail, SIGPIPE)
for t in "${targets[@]}"; do
  a=$(debarch "$t")
  grep -qx "$a" <<<"$foreign" || archs+=("$a")
  # The cross libc headers are only a Recommends of the cross gcc.
  pkgs+=("gcc-$(gnu "$t")" "libc6-dev-$a-cross" "libasound2-dev:$a")
done
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#archs[@]} -gt 0 ] || [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "Missing for the cross build. Run:"
    for a in "${archs[@]}"; do echo "  sudo dpkg --add-architecture $a"; done
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}"
    exit 1
  fi
  for a in "${archs[@]}"; do echo "dpkg --add-architecture $a"; dpkg --add-architecture "$a"; done
  export DEBIAN_FRONTEND=noninteractive
  # A failed index (a mirror mid-sync) is only a warning if the packages still install.
  apt-get update -qq || echo "warning: apt-get update failed; trying the install anyway"
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing: ${missing[*]}"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi
installed=$(rustup target list --installed)
for t in "${targets[@]}"; do
  grep -qx "$t" <<<"$installed" || rustup target add "$t"
done

# What a cross build of TRIPLE needs in its environment (printed, so it can be copied).
# Every variable names the target, so host builds in the same shell are unaffected.
cross_env() {
  local t=$1 g u T; g=$(gnu "$1") u=${1//-/_}
  T=$(tr 'a-z-' 'A-Z_' <<<"$t")
  echo "CARGO_TARGET_${T}_LINKER=$g-gcc CC_$u=$g-gcc AR_$u=$g-ar" \
       "PKG_CONFIG_ALLOW_CROSS_$u=1 PKG_CONFIG_SYSROOT_DIR_$u=/" \
       "PKG_CONFIG_LIBDIR_$u=/usr/lib/$g/pkgconfig:/usr/share/pkgconfig"
}

# Run a target binary under qemu-user with the target's C library and ALSA.
under_qemu() { # TRIPLE EXE ARGS...
  local t=$1 g; g=$(gnu "$1"); shift
  "$(qemu "$t")" -L "/usr/$g" -E "LD_LIBRARY_PATH=/usr/lib/$g" "$@"
}

check_binary() { # TRIPLE EXE CONFIG
  local t=$1 exe=$2 config=$3
  file -L "$exe" | grep -q "$(filearch "$t")" || fail "$exe: $(file -L "$exe")"
  under_qemu "$t" "$exe" --version | grep -q '^loaxa-controller ' || fail "$exe --version under qemu"
  under_qemu "$t" "$exe" --config "$config" --print-config \
    | grep -q '^data = "/var/lib/loaxa' || fail "$exe --print-config under qemu"
  echo "ok: $exe ($(du -k "$exe" | cut -f1) KiB; $(file -bL "$exe" | cut -d, -f1-2);" \
       "--version and --print-config ran under $(qemu "$t"))"
}

# 2 and 3. Build and check.
for t in "${targets[@]}"; do
  echo "== $t: $(cross_env "$t") $CARGO build --profile dist --target $t -p controller --bin loaxa-controller"
  env $(cross_env "$t") nice -n 10 "$CARGO" build --profile dist --target "$t" \
    -p controller --bin loaxa-controller
  check_binary "$t" "target/$t/dist/loaxa-controller" deploy/config/controller.toml
done

# 4. The packages (arm64, armhf), each checked like the bare binaries.
if [ "${PI_DEB:-1}" = 1 ]; then
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  for t in "${targets[@]}"; do
    env $(cross_env "$t") nice -n 10 scripts/package.sh --target "$t"
    a=$(debarch "$t")
    deb=$(ls -t target/$t/debian/loaxa-controller_*_$a.deb | head -1)
    [ "$(dpkg-deb -f "$deb" Architecture)" = "$a" ] || fail "$deb is not $a"
    dpkg-deb -x "$deb" "$root/$a"
    check_binary "$t" "$root/$a/usr/bin/loaxa-controller" "$root/$a/etc/loaxa/controller.toml"
    echo "ok: $deb ($(du -k "$deb" | cut -f1) KiB)"
  done
fi
df -h . | tail -1 | awk '{print "disk: " $4 " free on " $6}'
