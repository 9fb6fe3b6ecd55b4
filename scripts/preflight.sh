#!/usr/bin/env bash
# Checks that every external program the test suite calls is here and works, before a minute is spent building.
# Stops at the first problem with one line naming the missing program and the Debian package that provides it.
# Usage: scripts/preflight.sh          (scripts/test.sh runs it right after scripts/install-deps.sh)
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib/deps.sh
. "$here/lib/deps.sh"

fail() {
  echo "preflight: $1" >&2
  exit 1
}

for pair in "${SUITE_PROGRAMS[@]}"; do
  read -r program package _ <<<"$pair"
  command -v "$program" >/dev/null 2>&1 \
    || fail "'$program' not found; it comes with the Debian package '$package' (scripts/install-deps.sh installs it)"
done

# javac must be 17 or newer (the build's release level); `java -version` alone can be a JRE.
javac_major="$(javac -version 2>&1 | sed -n 's/^javac \([0-9]*\).*/\1/p')"
[ -n "$javac_major" ] && [ "$javac_major" -ge 17 ] \
  || fail "javac 17 or newer is required, found '$(javac -version 2>&1)'; it comes with 'openjdk-17-jdk-headless'"

# The guest image needs the static busybox: the dynamic one would need its libraries inside the guest.
dpkg -L busybox-static 2>/dev/null | grep -qx /bin/busybox \
  || fail "/bin/busybox is not the static one; it comes with the Debian package 'busybox-static'"

# dpdk-testpmd loads its PMDs from a plugin directory: a testpmd without them starts but cannot make the ports.
pmd_dir="$(ls -d $DPDK_PMD_DIR_GLOB 2>/dev/null | sort -V | tail -n1)"
[ -n "$pmd_dir" ] || fail "no DPDK PMD directory ($DPDK_PMD_DIR_GLOB); it comes with the Debian package 'dpdk-dev'"
for pair in "${SUITE_PMDS[@]}"; do
  read -r lib package <<<"$pair"
  ls "$pmd_dir/$lib"* >/dev/null 2>&1 \
    || fail "DPDK PMD $lib not in $pmd_dir; it comes with the Debian package '$package'"
done

[ -c /dev/net/tun ] || fail "/dev/net/tun is missing: TAP tests need the tun device (kernel module 'tun', package 'kmod' loads it)"

# One real start of testpmd without hugepages, as the tests run it: EAL initialises, the vhost PMD makes a port.
work="$(mktemp -d "${TMPDIR:-/tmp}/vsw-preflight.XXXXXX")"
trap 'rm -rf "$work"' EXIT
out="$( (sleep 2; echo quit) | timeout 30 dpdk-testpmd --no-pci --no-huge -m 256 --file-prefix "preflight$$" \
          --vdev "net_vhost0,iface=$work/p.sock,queues=1" -- -i --total-num-mbufs=2048 2>&1 )"
grep -q '^Port 0: ' <<<"$out" \
  || fail "dpdk-testpmd could not start a vhost port without hugepages; its last lines: $(tail -n 3 <<<"$out" | tr '\n' ' ')"

echo "preflight: ${#SUITE_PROGRAMS[@]} programs, ${#SUITE_PMDS[@]} DPDK PMDs and a testpmd start checked"
