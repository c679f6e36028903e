#!/bin/bash
# run.sh - `make record-zfs21`: real ZFS 2.1 outputs (Debian 12's own zfs-dkms 2.1.11, text
# `zpool status` only) recorded in one qemu VM by guest.sh, in the states and with the file
# names of the ZFS 2.3 recordings of the two-VM SAN (tests/fixtures/zfs/vm-recorded). Not
# part of `make check`: run it to refresh tests/fixtures/zfs/vm-recorded-2.1/.
#
#   1. host tools (../install-host-deps.sh)
#   2. the image with ZFS 2.1 (E2E_ZFS=2.1 ../build-image.sh; cached under
#      /var/cache/iscsi-mirror-e2e/zfs-2.1/, apart from the 2.3 image)
#   3. boots it headless under qemu TCG (2 vCPU, 2 GiB, no network device) with a 2 GiB
#      data disk at PCI 00:13.0 (GPT, partition data-a) and the share (guest.sh as
#      guest/main.sh, the one-node lib.sh, the SAN's record-zfs.sh) over 9p; the guest
#      records and powers off. qemu is killed by its PID at E2E_TIMEOUT (default 1800 s).
#   4. collects into tests/e2e/zfs21/out/ (results.txt, guest.log, serial.log, logs/,
#      zfs-recorded/) and, unless E2E_RECORD=0, copies a complete recording (the guest
#      reached its end, no FAIL) to tests/fixtures/zfs/vm-recorded-2.1/ with a VERSIONS file.
#
# Exit status: 0 when the guest ran to its end with no FAIL, else 1.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
E2E=$(cd "$HERE/.." && pwd)
TOP=$(cd "$HERE/../../.." && pwd)
OUT=$HERE/out
SHARE=$OUT/share
E2E_TIMEOUT=${E2E_TIMEOUT:-1800}
MEM=2048
SMP=2
PIDF=$OUT/qemu.pid
DST=$TOP/tests/fixtures/zfs/vm-recorded-2.1
T0=$EPOCHREALTIME
say() { printf '[zfs21 %(%H:%M:%S)T] %s\n' -1 "$*"; }

[ "$(id -u)" = 0 ] || { echo "record-zfs21: needs root (debootstrap, chroot)" >&2; exit 1; }
mkdir -p "$OUT"

. "$E2E/host-lib.sh"   # el, kill_qemu, stamp
kill_qemu
trap kill_qemu EXIT
trap 'exit 130' INT TERM

# ---- 1, 2. host tools, the image ----------------------------------------------------------
say "host tools"
bash "$E2E/install-host-deps.sh" > "$OUT/install-host-deps.log" 2>&1 || { cat "$OUT/install-host-deps.log"; exit 1; }
T_IMG=$EPOCHREALTIME
say "image (E2E_ZFS=2.1)"
IMG=$(E2E_ZFS=2.1 bash "$E2E/build-image.sh" | tail -1)
IMG_S=$(el "$T_IMG")
[ -f "$IMG/.complete" ] || { echo "record-zfs21: no image" >&2; exit 1; }
say "image ready in ${IMG_S}s: $IMG ($(grep -E '^zfsutils-linux ' "$IMG/manifest.txt"))"

# ---- 3. boot ------------------------------------------------------------------------------
rm -rf "$SHARE" "$OUT/logs" "$OUT/zfs-recorded" "$OUT/run"
mkdir -p "$SHARE/guest" "$SHARE/out" "$OUT/run"
install -m 0755 "$HERE/guest.sh" "$SHARE/guest/main.sh"
install -m 0644 "$E2E/guest/lib.sh" "$SHARE/guest/lib.sh"
install -m 0644 "$E2E/san/guest/record-zfs.sh" "$SHARE/guest/record-zfs.sh"
rm -f "$OUT"/{serial.log,guest.log,results.txt,timings.txt}
# storage-a's data disk: GPT, one partition named data-a (type Solaris/ZFS), as the SAN's
DATA=$OUT/run/data-a.img
truncate -s 2G "$DATA"
printf 'label: gpt\ntype=6A898CC3-1DD2-11B2-99A6-080020736631, name="data-a"\n' | sfdisk -q "$DATA" > /dev/null
# "storage-b"'s disk, exported by LIO in the guest: the same 2 GiB GPT layout (partition
# data-b), made here (the image has no sfdisk); the guest rebuilds the sparse file from its
# first and last MiB (the primary and the backup GPT)
PEER=$OUT/run/data-b.img
truncate -s 2G "$PEER"
printf 'label: gpt\ntype=6A898CC3-1DD2-11B2-99A6-080020736631, name="data-b"\n' | sfdisk -q "$PEER" > /dev/null
dd if="$PEER" of="$SHARE/guest/data-b.head" bs=1M count=1 status=none
dd if="$PEER" of="$SHARE/guest/data-b.tail" bs=1M skip=2047 status=none
rm -f "$PEER"
APPEND="console=ttyS0 root=/dev/vda rw init=/opt/e2e/init.sh panic=-1 quiet"
say "booting (qemu TCG, $SMP vCPU, ${MEM} MiB, deadline ${E2E_TIMEOUT}s); serial: $OUT/serial.log"
T_BOOT=$EPOCHREALTIME
set +e
qemu-system-x86_64 -name zfs21 -accel tcg,thread=multi -cpu max -m "$MEM" -smp "$SMP" \
    -display none -monitor none -serial stdio -no-reboot -nic none -pidfile "$PIDF" \
    -kernel "$IMG/vmlinuz" -initrd "$IMG/initrd.img" -append "$APPEND" \
    -drive "file=$IMG/rootfs.img,if=none,id=root,format=raw,snapshot=on" \
    -device virtio-blk-pci,drive=root,addr=0x4 \
    -drive "file=$DATA,if=none,id=data,format=raw" \
    -device virtio-blk-pci,drive=data,serial=data-storage-a,addr=0x13 \
    -virtfs "local,path=$SHARE,mount_tag=e2e,security_model=none,id=e2e" \
    < /dev/null 2>&1 | stamp > "$OUT/serial.log" &
PIPE_PID=$!
wait_guest "$PIPE_PID"
wait "$PIPE_PID"
set -e
RUN_S=$(el "$T_BOOT")
kill_qemu

# ---- 4. results ---------------------------------------------------------------------------
for f in guest.log results.txt DONE; do
    [ -f "$SHARE/out/$f" ] && cp "$SHARE/out/$f" "$OUT/$f"
done
[ -d "$SHARE/out/logs" ] && cp -r "$SHARE/out/logs" "$OUT/logs"
[ -d "$SHARE/out/zfs-recorded" ] && cp -r "$SHARE/out/zfs-recorded" "$OUT/zfs-recorded"
{
    echo "image_s $IMG_S"
    echo "qemu_s $RUN_S"
    echo "total_s $(el "$T0")"
} > "$OUT/timings.txt"
rc=0
if [ "$timed_out" = 1 ]; then echo "record-zfs21: FAILED: deadline reached, guest killed"; rc=1
elif [ ! -f "$OUT/DONE" ]; then echo "record-zfs21: FAILED: the guest did not reach its end (see $OUT/serial.log, $OUT/guest.log)"; rc=1
elif grep -q '^FAIL' "$OUT/results.txt"; then echo "record-zfs21: FAILED (see $OUT/guest.log)"; rc=1
fi

if [ "${E2E_RECORD:-1}" = 1 ] && [ $rc = 0 ]; then
    rm -rf "$DST"; mkdir -p "$DST"
    cp "$OUT"/zfs-recorded/* "$DST/"
    {
        echo "ZFS 2.1 outputs recorded by tests/e2e/zfs21 (make record-zfs21) in one qemu VM playing"
        echo "storage-a of the two-VM SAN (storage-b's LIO target in the same VM, on 192.168.10.2 on lo);"
        echo "states and commands: INDEX (file, seconds, node, command)."
        echo "kernel, packages and image recipe of this recording:"
        head -1 "$IMG/manifest.txt"
        grep -E '^(linux-image-[0-9][^ ]*|zfsutils-linux|zfs-dkms|zfs-zed|open-iscsi|targetcli-fb|python3-rtslib-fb) ' "$IMG/manifest.txt"
        sed -n 2p "$IMG/manifest.txt"
    } > "$DST/VERSIONS"
    say "recordings copied to $DST"
elif [ $rc != 0 ]; then
    say "the fixtures are left as they were"
fi

echo
echo "---- results ($OUT/results.txt)"
[ -f "$OUT/results.txt" ] && cat "$OUT/results.txt"
echo "---- timings: image ${IMG_S}s, qemu ${RUN_S}s, total $(el "$T0")s"
[ $rc = 0 ] && echo "record-zfs21: OK"
if [ ! -f "$OUT/results.txt" ] || ! tail -1 "$OUT/results.txt" | grep -q 'passed, .* failed'; then
    echo "0 passed, 1 failed"
fi
exit $rc
