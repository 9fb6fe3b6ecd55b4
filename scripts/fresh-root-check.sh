#!/usr/bin/env bash
# Proves the install step on a machine that has nothing: bootstraps a minimal Debian 12 root (debootstrap, variant
# minbase) into a directory, runs scripts/install-deps.sh inside it (chroot), then scripts/preflight.sh.
# A green CI cannot prove this: the CI machine keeps whatever was installed by hand.
#
# Usage: scripts/fresh-root-check.sh [--suite] [DIR]     as root; DIR defaults to /var/tmp/vswitch-fresh-root
#   --suite   also clone the repository into the root and run the whole suite there (scripts/test.sh)
# The root is made anew on every run (DIR is removed first). Takes a few minutes; not part of CI.
set -euo pipefail
root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
suite=0
target=/var/tmp/vswitch-fresh-root
for arg in "$@"; do
  case "$arg" in
    --suite) suite=1 ;;
    -h|--help) sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fresh-root-check: unknown option '$arg'" >&2; exit 2 ;;
    *) target="$arg" ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "fresh-root-check: must run as root (debootstrap, chroot, mounts)" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "fresh-root-check: 'debootstrap' not found; apt-get install debootstrap" >&2; exit 2; }

# The Debian mirror this machine's apt already uses (the first deb URI of its sources), so the root fetches from
# the same place the host does.
mirror="$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)"
[ -n "$mirror" ] || mirror="$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list 2>/dev/null)"
[ -n "$mirror" ] || { echo "fresh-root-check: no Debian mirror found in /etc/apt" >&2; exit 2; }

mounts=()
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "${mounts[$i]}" 2>/dev/null || true; done
}
trap cleanup EXIT

step() { echo "fresh-root-check: $(date -u +%H:%M:%S) $*"; }

step "bootstrapping Debian 12 (minbase) into $target from $mirror"
rm -rf --one-file-system "$target"
mkdir -p "$target"
log="$target.debootstrap.log"
if ! debootstrap --variant=minbase bookworm "$target" "$mirror" >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  echo "fresh-root-check: debootstrap failed (log: $log)" >&2
  exit 1
fi
step "root ready: $(du -sh --one-file-system "$target" | cut -f1), $(chroot "$target" dpkg-query -W | wc -l) packages"

# The host's apt sources and settings (not its packages): what makes apt reach the mirror from here.
rm -f "$target/etc/apt/sources.list"
cp -a /etc/apt/sources.list.d/. "$target/etc/apt/sources.list.d/"
[ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$target/etc/apt/"
cp -a /etc/apt/apt.conf.d/. "$target/etc/apt/apt.conf.d/"
cp /etc/resolv.conf "$target/etc/resolv.conf" 2>/dev/null || true
# The machine's own trust anchors (here: the CA of the egress proxy every connection to Maven Central goes through),
# which a bare root lacks: without them Maven's first download fails with "PKIX path building failed". Like the
# apt sources, they belong to the machine; ca-certificates (and ca-certificates-java for the JDK) take them in when
# install-deps installs them.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  mkdir -p "$target/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$target/usr/local/share/ca-certificates/"
fi

# The root is made a mount point of its own, as a real machine's root is: programs that look up the mount of a
# path in /proc/self/mountinfo (Chronicle Map does, for its files) find none inside a plain chroot directory.
mount --bind "$target" "$target"
mounts+=("$target")
for m in proc sys dev dev/pts; do
  mount --bind "/$m" "$target/$m"
  mounts+=("$target/$m")
done

# Only the scripts under test go in: the install step must not depend on anything else of the repository.
mkdir -p "$target/root/vswitch"
cp -a "$root_dir/scripts" "$target/root/vswitch/"

step "running scripts/install-deps.sh in the root"
chroot "$target" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root bash /root/vswitch/scripts/install-deps.sh
step "running scripts/preflight.sh in the root"
chroot "$target" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root bash /root/vswitch/scripts/preflight.sh
step "running scripts/install-deps.sh again (must be a no-op)"
chroot "$target" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root bash /root/vswitch/scripts/install-deps.sh

if [ "$suite" = 1 ]; then
  step "cloning the repository into the root and running scripts/test.sh"
  rm -rf "$target/root/vswitch"
  git clone -q "$root_dir" "$target/root/vswitch"
  chroot "$target" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root bash -c 'cd /root/vswitch && scripts/test.sh'
fi
step "PASSED: a fresh Debian 12 root has everything the suite runs"
