#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine as root: installs the packages it needs (JDK 17, Maven,
# DPDK testpmd, QEMU, guest-image tools), builds the tiny test guest, then builds and tests every module.
# Usage: scripts/test.sh [extra mvn args]      e.g. scripts/test.sh -Dtest='Testpmd*'
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

packages=(openjdk-17-jdk-headless maven dpdk qemu-system-x86 busybox-static iperf3 cpio xz-utils gzip
          iproute2 procps coreutils kmod tcpdump)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Guest kernel + initramfs for the QEMU tests (cached in build/guest, rebuilt when the scripts change).
scripts/build-guest.sh "$root/build/guest"

exec mvn -B -ntp verify "$@"
