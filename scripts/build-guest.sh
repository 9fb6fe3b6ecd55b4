#!/usr/bin/env bash
# Builds a tiny Linux test guest for QEMU (TCG) with a virtio-net NIC:
#   OUTDIR/vmlinuz            Debian bookworm linux-image-6.1.0-*-amd64 kernel
#   OUTDIR/vmlinux            the same kernel uncompressed (ELF with a PVH entry), when that
#                             works: QEMU boots it directly, skipping ~5 s of xz decompression
#                             under TCG; absent if extraction failed (then boot vmlinuz)
#   OUTDIR/initramfs.cpio.gz  busybox-static + virtio-net modules + iperf3 + /init
# The /init is scripts/guest-init.sh; it is driven by the kernel command line
# (ip= role= peer= time= mtu= serve= stats=), see that file for the console markers it prints.
#
# Usage: scripts/build-guest.sh OUTDIR
# Idempotent: does nothing when both outputs exist and are newer than the scripts.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
INIT_SRC="$SCRIPT_DIR/guest-init.sh"
mkdir -p "$1"
OUT="$(cd "$1" && pwd)"
KERNEL="$OUT/vmlinuz"
INITRD="$OUT/initramfs.cpio.gz"

# Modules for virtio-net over PCI, in load order.
MODULES=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net)

up_to_date() {
    local f s
    for f in "$KERNEL" "$INITRD"; do
        [ -s "$f" ] || return 1
        for s in "${BASH_SOURCE[0]}" "$INIT_SRC"; do
            [ "$f" -nt "$s" ] || return 1
        done
    done
}

if up_to_date; then
    echo "guest image up to date:"
    echo "  kernel: $KERNEL"
    if [ -f "$OUT/vmlinux" ]; then echo "  kernel: $OUT/vmlinux (uncompressed, PVH: faster boot)"; fi
    echo "  initrd: $INITRD"
    exit 0
fi

[ -f "$INIT_SRC" ] || { echo "missing $INIT_SRC" >&2; exit 1; }

# --- host tools -------------------------------------------------------------
apt_updated=0
apt_update_once() {
    if [ "$apt_updated" = 0 ]; then
        apt-get update -qq
        apt_updated=1
    fi
}
# Debian's apt lists are empty on a fresh machine: apt-cache then knows no kernels.
if ! apt-cache pkgnames linux-image-6.1.0- 2>/dev/null | grep -q .; then
    apt_update_once
fi

need_pkgs=()
dpkg -s busybox-static >/dev/null 2>&1 || need_pkgs+=(busybox-static)
command -v iperf3 >/dev/null || need_pkgs+=(iperf3)
command -v cpio >/dev/null || need_pkgs+=(cpio)
command -v xz >/dev/null || need_pkgs+=(xz-utils)
if [ ${#need_pkgs[@]} -gt 0 ]; then
    echo "installing ${need_pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" \
        || { apt_update_once; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}"; }
fi
BUSYBOX=/bin/busybox
dpkg -L busybox-static 2>/dev/null | grep -qx /bin/busybox || {
    echo "busybox-static is required (the dynamic busybox would need its libraries)" >&2
    exit 1
}

# --- kernel -----------------------------------------------------------------
# Newest linux-image-6.1.0-N-amd64 (signed) or, failing that, -unsigned.
KPKG="$(apt-cache pkgnames linux-image-6.1.0- | grep -E '^linux-image-6\.1\.0-[0-9]+-amd64$' | sort -V | tail -n1 || true)"
[ -n "$KPKG" ] || KPKG="$(apt-cache pkgnames linux-image-6.1.0- | grep -E '^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' | sort -V | tail -n1 || true)"
[ -n "$KPKG" ] || { echo "no linux-image-6.1.0-*-amd64 package known to apt" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/vsw-guest.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
chmod 755 "$WORK"   # apt-get download runs as _apt when it can write here

CACHE="$OUT/cache"
mkdir -p "$CACHE"
chmod 755 "$CACHE"
DEB="$(ls "$CACHE/${KPKG}"_*.deb 2>/dev/null | sort -V | tail -n1 || true)"
if [ -z "$DEB" ]; then
    echo "downloading $KPKG"
    sandbox=()
    [ "$(id -u)" = 0 ] && sandbox=(-o APT::Sandbox::User=root)   # no _apt warning about OUTDIR
    (cd "$CACHE" && apt-get download -q "${sandbox[@]}" "$KPKG")
    DEB="$(ls "$CACHE/${KPKG}"_*.deb | sort -V | tail -n1)"
fi
echo "kernel package: $DEB"
dpkg -x "$DEB" "$WORK/kpkg"
VMLINUZ="$(ls "$WORK"/kpkg/boot/vmlinuz-* | head -n1)"
KVER="${VMLINUZ##*/vmlinuz-}"
MODDIR="$WORK/kpkg/lib/modules/$KVER"
[ -d "$MODDIR" ] || MODDIR="$WORK/kpkg/usr/lib/modules/$KVER"
[ -d "$MODDIR" ] || { echo "no modules for $KVER in $DEB" >&2; exit 1; }

# Uncompressed ELF from the bzImage (like the kernel's scripts/extract-vmlinux), only useful
# if the kernel has a PVH entry point (Debian: CONFIG_PVH=y), which QEMU's -kernel uses for ELF.
extract_vmlinux() {
    local off
    grep -q '^CONFIG_PVH=y' "$WORK"/kpkg/boot/config-* 2>/dev/null || return 1
    for off in $(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$1" | cut -d: -f1 | head -n 5); do
        # trailing bytes after the xz stream make xz complain: the ELF is complete anyway
        tail -c +$((off + 1)) "$1" | xz -dcq > "$2" 2>/dev/null || true
        if [ "$(head -c 4 "$2" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ] && [ "$(stat -c %s "$2")" -gt 4000000 ]; then
            return 0
        fi
    done
    rm -f "$2"
    return 1
}
rm -f "$OUT/vmlinux"   # must never pair with a newer initramfs (module versions)
if extract_vmlinux "$VMLINUZ" "$WORK/vmlinux"; then
    have_vmlinux=1
else
    have_vmlinux=0
    echo "note: no PVH vmlinux extracted from $VMLINUZ; boot vmlinuz (slower under TCG)"
fi

# --- initramfs tree ---------------------------------------------------------
ROOT="$WORK/root"
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,etc,lib/modules,root}
chmod 1777 "$ROOT/tmp"

cp "$BUSYBOX" "$ROOT/bin/busybox"
for applet in $("$BUSYBOX" --list-full); do
    [ "$applet" = bin/busybox ] && continue
    mkdir -p "$ROOT/$(dirname "$applet")"
    ln -sf /bin/busybox "$ROOT/$applet"
done

# Modules: decompressed, flat, loaded by name in MODULES order by /init.
: > "$ROOT/lib/modules/order"
for m in "${MODULES[@]}"; do
    f="$(find "$MODDIR/kernel" \( -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" -o -name "$m.ko.gz" \) | head -n1)"
    if [ -z "$f" ]; then
        if grep -qE "/$m\.ko\$" "$MODDIR/modules.builtin" 2>/dev/null; then
            echo "module $m is built in"
            continue
        fi
        echo "module $m not found in $MODDIR" >&2
        exit 1
    fi
    case "$f" in
        *.xz)  xz -dc "$f" > "$ROOT/lib/modules/$m.ko" ;;
        *.zst) zstd -dcq "$f" > "$ROOT/lib/modules/$m.ko" ;;
        *.gz)  gzip -dc "$f" > "$ROOT/lib/modules/$m.ko" ;;
        *)     cp "$f" "$ROOT/lib/modules/$m.ko" ;;
    esac
    echo "$m" >> "$ROOT/lib/modules/order"
done

# iperf3 and every library ldd lists (including the dynamic loader), same paths.
IPERF="$(command -v iperf3)"
cp -L "$IPERF" "$ROOT/usr/bin/iperf3"
for lib in $(ldd "$IPERF" | awk '/=>/ { print $3; next } $1 ~ /^\// { print $1 }'); do
    mkdir -p "$ROOT$(dirname "$lib")"
    cp -L "$lib" "$ROOT$lib"
done
# Debian is usr-merged: also make the /usr/lib spelling of the paths resolve.
[ -e "$ROOT/usr/lib" ] || ln -s ../lib "$ROOT/usr/lib"
[ -e "$ROOT/usr/lib64" ] || { [ -d "$ROOT/lib64" ] && ln -s ../lib64 "$ROOT/usr/lib64"; } || true

printf 'root:x:0:0:root:/root:/bin/sh\n' > "$ROOT/etc/passwd"
printf 'root:x:0:\n' > "$ROOT/etc/group"
printf '127.0.0.1 localhost\n' > "$ROOT/etc/hosts"

install -m 755 "$INIT_SRC" "$ROOT/init"

# /dev/console must exist before /init runs or it starts without stdout.
mknod -m 600 "$ROOT/dev/console" c 5 1 2>/dev/null || echo "note: cannot mknod /dev/console (not root?); /init remounts /dev"
mknod -m 666 "$ROOT/dev/null" c 1 3 2>/dev/null || true

# --- write outputs atomically -------------------------------------------------
(cd "$ROOT" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -6 > "$WORK/initramfs.cpio.gz"
cp "$VMLINUZ" "$WORK/vmlinuz"
mv -f "$WORK/vmlinuz" "$KERNEL"
if [ "$have_vmlinux" = 1 ]; then mv -f "$WORK/vmlinux" "$OUT/vmlinux"; fi
mv -f "$WORK/initramfs.cpio.gz" "$INITRD"
echo "$KPKG $KVER" > "$OUT/kernel-version"

echo "guest image built ($KPKG, kernel $KVER):"
echo "  kernel: $KERNEL"
if [ "$have_vmlinux" = 1 ]; then echo "  kernel: $OUT/vmlinux (uncompressed, PVH: faster boot)"; fi
echo "  initrd: $INITRD ($(du -h "$INITRD" | cut -f1))"
