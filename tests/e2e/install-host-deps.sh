#!/bin/bash
# install-host-deps.sh - the host tools `make e2e` needs; idempotent (installs only what is
# missing, from Debian's packages).
#   debootstrap, e2fsprogs (mkfs.ext4 -d), ca-certificates/gpg keyring for debootstrap,
#   fdisk (sfdisk: the e2e-san data disks' partition tables),
#   qemu-system-x86 (with 9p/virtfs). The project's machines carry qemu-utils from
#   bookworm-backports, which Breaks qemu-system-common (<8.0) from bookworm main, so
#   qemu-system-x86 then comes from bookworm-backports through private package lists
#   (apt-private.sh; nothing under /etc/apt is changed).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "install-host-deps: needs root" >&2; exit 1; }
APT=(apt-get -o DPkg::Lock::Timeout=900)
apt_install() {   # install from the host's own sources; refresh the lists once if needed
    DEBIAN_FRONTEND=noninteractive "${APT[@]}" install -y --no-install-recommends "$@" ||
        { "${APT[@]}" update -q && DEBIAN_FRONTEND=noninteractive "${APT[@]}" install -y --no-install-recommends "$@"; }
}
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || need+=(debian-archive-keyring)
command -v cpio >/dev/null || need+=(cpio)
command -v sfdisk >/dev/null || need+=(fdisk)   # e2e-san: GPT on the VMs' data disks
if ((${#need[@]})); then
    echo "install-host-deps: installing ${need[*]}"
    apt_install "${need[@]}"
fi
if ! command -v qemu-system-x86_64 >/dev/null; then
    v=$(dpkg-query -W -f='${Version}' qemu-utils 2>/dev/null || true)
    if [[ $v == *bpo12* ]]; then
        echo "install-host-deps: qemu-utils $v is from bookworm-backports: qemu-system-x86 from there too"
        bash "$HERE/apt-private.sh" install -t bookworm-backports qemu-system-x86
    else
        echo "install-host-deps: installing qemu-system-x86"
        apt_install qemu-system-x86
    fi
fi
qemu-system-x86_64 --version | head -1
debootstrap --version 2>/dev/null || dpkg-query -W -f='debootstrap ${Version}\n' debootstrap
