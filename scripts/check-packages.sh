#!/usr/bin/env bash
# Check the .deb packages built by scripts/package.sh: their contents (binary, unit,
# conffile, man page, maintainer script), and that the extracted binaries run --version and
# read the packaged configuration. Nothing is installed on this machine: each package is
# unpacked into a throwaway root.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
passed=0

check() { # package binary
  local pkg=$1 bin=$2 deb
  # This machine's architecture: cargo deb also links the Pi packages of `make pi` here.
  deb=$(ls -t target/debian/${pkg}_*_"$(dpkg --print-architecture)".deb 2>/dev/null | head -1)
  [ -n "$deb" ] || fail "no target/debian/${pkg}_*_$(dpkg --print-architecture).deb (run make package)"
  local list; list=$(dpkg-deb -c "$deb")
  for f in ./usr/bin/$bin ./etc/loaxa/${pkg#loaxa-}.toml ./usr/share/man/man1/$bin.1 \
           ./lib/systemd/system/$pkg.service; do
    # Units may sit under /usr/lib; man pages may be gzipped (cargo-deb compresses them).
    grep -qE " ($f|${f/.\/lib/.\/usr\/lib})(\.gz)?\$" <<<"$list" || fail "$deb lacks $f"
  done
  dpkg-deb -f "$deb" Package | grep -qx "$pkg" || fail "$deb: wrong package name"
  local ctl; ctl=$(mktemp -d -p "$root")
  dpkg-deb -e "$deb" "$ctl"
  grep -qx /etc/loaxa/${pkg#loaxa-}.toml "$ctl/conffiles" || fail "$deb: config is not a conffile"
  grep -q "adduser --system" "$ctl/postinst" || fail "$deb: postinst does not create the user"
  dpkg-deb -x "$deb" "$root/$pkg"
  local exe="$root/$pkg/usr/bin/$bin"
  # Stripped (cargo deb --strip): 13-20 MB rather than 85-130 MB with the release debug info.
  file -b "$exe" | grep -q ', stripped' || fail "$exe is not stripped: $(file -b "$exe")"
  "$exe" --version | grep -q "^$bin " || fail "$exe --version"
  "$exe" --config "$root/$pkg/etc/loaxa/${pkg#loaxa-}.toml" --print-config \
    | grep -q '^data = "/var/lib/loaxa' || fail "$exe does not read its packaged configuration"
  echo "ok: $deb ($(du -k "$exe" | cut -f1) KiB binary)"
  passed=$((passed + 1))
}

check loaxa-web loaxa-web
check loaxa-controller loaxa-controller
echo "$passed passed, 0 failed"
