#!/bin/bash
# build-image.sh - the e2e VM image, built from Debian's packages with debootstrap and
# CACHED under $E2E_CACHE (default /var/cache/iscsi-mirror-e2e), keyed by a hash of the
# recipe (this file and guest/init.sh): a changed recipe builds a new image, an unchanged
# one is reused. Prints the image directory on its last line of stdout.
#
#   build-image.sh            build if needed, print the image dir
#   build-image.sh --dir      only print the image dir this recipe maps to
#   FORCE=1 build-image.sh    rebuild even if cached
#
# Image dir: vmlinuz, initrd.img, rootfs.img (raw ext4, sparse, made with mkfs.ext4 -d: no
# loop mount), manifest.txt (package versions), build.log, .complete.
# Contents: Debian 12 (bookworm) minbase + Debian's kernel (linux-image-amd64), open-iscsi,
# targetcli-fb (LIO), dbus, udev, nftables, Pacemaker, Corosync, pcs, resource-agents
# (ocf-tester), crmsh, xmllint, sbd + fence-agents (fence_sbd), ping; zfs-dkms +
# zfsutils-linux + zfs-zed from bookworm-backports contrib (ZFS 2.3), the module compiled in
# the chroot for the image's kernel. PID 1 is /opt/e2e/init.sh. One image serves both the
# one-node `make e2e` and the two-node `make e2e-san` (tests/e2e/san/).
#
# E2E_ZFS=2.1: the same image with bookworm's own ZFS (2.1.11, bookworm contrib) instead,
# for the 2.1 recordings (tests/e2e/zfs21, `make record-zfs21`). Its images live apart,
# under $E2E_CACHE/zfs-2.1/, each variant keeping its newest other image there: building
# one never evicts the other's. The .deb cache and the build lock are shared.
# Network: Debian's mirrors only. Needs root (debootstrap, chroot).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
E2E_CACHE=${E2E_CACHE:-/var/cache/iscsi-mirror-e2e}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
IMG_SIZE=4G
HOSTNAME_VM=vmnode
# A fixed initiator name: the recordings then differ between rebuilds only where the
# kernel or the tools really differ.
INITIATOR=iqn.1993-08.org.debian:01:e2e0a11ce001
# debootstrap: the base system and the kernel
INCLUDE=linux-image-amd64,initramfs-tools,busybox,kmod,udev,dbus,e2fsprogs,iproute2,procps,util-linux
# apt in the chroot, bookworm: the iSCSI stack and the cluster stack; sbd and fence-agents
# (fence_sbd) for the two-node run's fencing, iputils-ping for its network checks
PKGS_MAIN=(open-iscsi targetcli-fb nftables pacemaker pacemaker-cli-utils corosync pcs
           resource-agents crmsh libxml2-utils psmisc lsscsi sg3-utils
           sbd fence-agents iputils-ping)
# apt in the chroot, bookworm-backports contrib: ZFS 2.3 (dkms builds zfs.ko in the chroot)
# and its event daemon (zed: run by hand in the guests, no systemd there); bookworm contrib
# with E2E_ZFS=2.1
PKGS_ZFS=(dkms zfs-dkms zfsutils-linux zfs-zed)
E2E_ZFS=${E2E_ZFS:-2.3}
case $E2E_ZFS in
    2.3) ZFS_SUITE=bookworm-backports IMAGES=$E2E_CACHE ;;
    2.1) ZFS_SUITE=bookworm IMAGES=$E2E_CACHE/zfs-2.1 ;;
    *) echo "build-image: E2E_ZFS=$E2E_ZFS: 2.3 (default) or 2.1" >&2; exit 2 ;;
esac

key() {
    { cat "$HERE/build-image.sh" "$HERE/guest/init.sh"; [ "$E2E_ZFS" = 2.3 ] || echo "zfs $E2E_ZFS"; } |
        sha256sum | cut -c1-16
}
IMG=$IMAGES/image-$(key)
if [[ ${1:-} == --dir ]]; then echo "$IMG"; exit 0; fi

log() { printf '[build-image %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
t0=$EPOCHREALTIME
elapsed() { awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.0f", b-a}'; }

[ "$(id -u)" = 0 ] || { echo "build-image: needs root" >&2; exit 1; }
mkdir -p "$E2E_CACHE" "$IMAGES"
exec 9> "$E2E_CACHE/build.lock"
flock -w 3600 9 || { echo "build-image: another build holds $E2E_CACHE/build.lock" >&2; exit 1; }

if [[ -f $IMG/.complete && ${FORCE:-0} != 1 ]]; then
    log "cached image $IMG (recipe unchanged)"
    echo "$IMG"
    exit 0
fi

bash "$HERE/install-host-deps.sh" >&2

WORK=$IMAGES/build-$(key)
ROOT=$WORK/rootfs
BLOG=$WORK/build.log
DEBS=$E2E_CACHE/debs          # .deb cache shared by all builds: a rebuild downloads little
mkdir -p "$WORK" "$DEBS/debootstrap" "$DEBS/apt/partial"

mounts=()
umount_all() {
    local i
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "${mounts[$i]}" 2>/dev/null || true; done
    mounts=()
}
trap umount_all EXIT
bind() { mount "$@"; mounts+=("${@: -1}"); }
rm_root() {   # never rm -rf a tree with something still mounted below it
    local m
    for m in $(awk -v r="$ROOT" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r); do umount -l "$m" || true; done
    rm -rf --one-file-system "$ROOT"
}
in_chroot() { LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive chroot "$ROOT" "$@"; }
fail() { log "FAILED: $*; last lines of $BLOG:"; tail -25 "$BLOG" >&2; exit 1; }

# ---- 1. debootstrap ---------------------------------------------------------------------
rm_root
: > "$BLOG"
log "debootstrap bookworm (minbase + $INCLUDE) -> $ROOT"
debootstrap --variant=minbase --cache-dir="$DEBS/debootstrap" --include="$INCLUDE" \
    bookworm "$ROOT" "$MIRROR" >> "$BLOG" 2>&1 || fail debootstrap
log "debootstrap done at $(elapsed) s"

# ---- 2. packages ------------------------------------------------------------------------
cat > "$ROOT/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main contrib
deb $MIRROR bookworm-updates main contrib
deb $MIRROR bookworm-backports main contrib
deb $SECURITY bookworm-security main contrib
EOF
# no daemon starts inside the chroot (iscsid, corosync, pacemaker postinsts)
printf '#!/bin/sh\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d"; chmod 755 "$ROOT/usr/sbin/policy-rc.d"
bind -t proc proc "$ROOT/proc"
bind -t sysfs sysfs "$ROOT/sys"
bind --bind /dev "$ROOT/dev"
bind --bind "$DEBS/apt" "$ROOT/var/cache/apt/archives"
in_chroot apt-get update -q >> "$BLOG" 2>&1 || fail "apt-get update"
log "apt: ${PKGS_MAIN[*]}"
in_chroot apt-get install -y -q --no-install-recommends -t bookworm "${PKGS_MAIN[@]}" >> "$BLOG" 2>&1 ||
    fail "apt-get install (bookworm)"
log "packages done at $(elapsed) s"

KVER=$(ls "$ROOT/lib/modules" | sort -V | tail -1)
log "apt ($ZFS_SUITE): linux-headers-$KVER ${PKGS_ZFS[*]} (dkms builds zfs.ko in the chroot)"
# zfs-dkms' postinst builds for every kernel with headers; the chroot's `uname -r` is the
# host's kernel, so build for the image's kernel explicitly if the postinst did not.
in_chroot apt-get install -y -q --no-install-recommends -t "$ZFS_SUITE" \
    "linux-headers-$KVER" "${PKGS_ZFS[@]}" >> "$BLOG" 2>&1 || log "apt-get install zfs returned non-zero (checking the module)"
if ! ls "$ROOT/lib/modules/$KVER/updates/dkms/zfs.ko"* > /dev/null 2>&1; then
    in_chroot dkms autoinstall -k "$KVER" >> "$BLOG" 2>&1 || true
fi
ls "$ROOT/lib/modules/$KVER/updates/dkms/zfs.ko"* > /dev/null 2>&1 || fail "zfs.ko was not built for $KVER"
in_chroot dpkg --configure -a >> "$BLOG" 2>&1 || fail "dpkg --configure -a"
log "zfs module built at $(elapsed) s"

# ---- 3. configuration -------------------------------------------------------------------
echo "$HOSTNAME_VM" > "$ROOT/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 %s\n' "$HOSTNAME_VM" > "$ROOT/etc/hosts"
printf '/dev/vda / ext4 rw,relatime 0 1\n' > "$ROOT/etc/fstab"
echo "InitiatorName=$INITIATOR" > "$ROOT/etc/iscsi/initiatorname.iscsi"
# small initramfs: only what mounting /dev/vda needs
sed -i 's/^MODULES=.*/MODULES=list/' "$ROOT/etc/initramfs-tools/initramfs.conf"
printf '%s\n' virtio_pci virtio_blk ext4 crc32c_generic > "$ROOT/etc/initramfs-tools/modules"
install -D -m 0755 "$HERE/guest/init.sh" "$ROOT/opt/e2e/init.sh"
in_chroot update-initramfs -u -k "$KVER" >> "$BLOG" 2>&1 || fail update-initramfs
in_chroot depmod -a "$KVER" >> "$BLOG" 2>&1 || fail depmod
in_chroot dpkg-query -W -f='${Package} ${Version}\n' > "$WORK/manifest.txt"
umount_all
rm -f "$ROOT"/var/cache/apt/*.bin

# ---- 4. image -----------------------------------------------------------------------------
rm -rf "$IMG.tmp"; mkdir -p "$IMG.tmp"
cp "$ROOT/boot/vmlinuz-$KVER" "$IMG.tmp/vmlinuz"
cp "$ROOT/boot/initrd.img-$KVER" "$IMG.tmp/initrd.img"
log "mkfs.ext4 -d rootfs -> rootfs.img ($IMG_SIZE, sparse)"
mkfs.ext4 -q -F -L e2eroot -d "$ROOT" "$IMG.tmp/rootfs.img" "$IMG_SIZE" >> "$BLOG" 2>&1 || fail mkfs.ext4
{
    echo "kernel $KVER"
    echo "recipe $(key)$([ "$E2E_ZFS" = 2.3 ] || echo " (E2E_ZFS=$E2E_ZFS)")"
    echo "built $(date -u +%FT%TZ) in $(elapsed) s"
    cat "$WORK/manifest.txt"
} > "$IMG.tmp/manifest.txt"
cp "$BLOG" "$IMG.tmp/build.log"
touch "$IMG.tmp/.complete"
rm -rf "$IMG"; mv "$IMG.tmp" "$IMG"
rm_root; rm -rf "$WORK"
# older recipes' images of this variant: keep the newest other one (a branch and main with
# different recipes then do not rebuild each other's image on every run), remove the rest
# (the .deb cache stays; the other ZFS variant's images are in another directory)
{ ls -1dt "$IMAGES"/image-* 2>/dev/null | grep -vxF "$IMG" | tail -n +2 || true; } | while read -r d; do
    rm -rf "$d"
done
log "image ready in $(elapsed) s: $IMG ($(du -sh "$IMG" | cut -f1) on disk)"
echo "$IMG"
