#!/bin/bash
# run.sh - `make e2e`: the agent on the REAL stack in a VM (Debian 12 kernel, LIO target,
# open-iscsi 2.1.8, ZFS 2.3, Pacemaker 2.1 + Corosync 3), see README.md.
#
#   1. host tools (install-host-deps.sh), the agent (target/release/iscsi-mirror; built if
#      missing, or always with E2E_BUILD=1)
#   2. the image (build-image.sh; cached under /var/cache/iscsi-mirror-e2e, keyed by the
#      recipe's hash)
#   3. boots it headless under qemu TCG (2 vCPU, 2 GiB, no network device), shares
#      tests/e2e/out/share (agent + guest scripts) over 9p; the guest runs guest/main.sh and
#      powers off. qemu is killed by its PID at E2E_TIMEOUT (default 1500 s) if it hangs.
#   4. collects results into tests/e2e/out/: results.txt, measurements.txt, guest.log,
#      serial.log, logs/, vm-recorded/. E2E_RECORD=1 also copies vm-recorded/ to
#      tests/fixtures/iscsi/vm-recorded/ (the fixtures of the stand-in's fidelity test).
#
# Exit status: 0 when the guest scenario ran to its end with no FAIL, else 1.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
OUT=$HERE/out
SHARE=$OUT/share
E2E_TIMEOUT=${E2E_TIMEOUT:-1500}
MEM=2048
SMP=2
PIDF=$OUT/qemu.pid
T0=$EPOCHREALTIME
say() { printf '[e2e %(%H:%M:%S)T] %s\n' -1 "$*"; }

[ "$(id -u)" = 0 ] || { echo "e2e: needs root (debootstrap, chroot)" >&2; exit 1; }
mkdir -p "$OUT"

. "$HERE/host-lib.sh"
kill_qemu
trap kill_qemu EXIT
trap 'exit 130' INT TERM

# ---- 1. host tools and the agent ----------------------------------------------------------
e2e_host_setup || exit 1

# ---- 2. the image -------------------------------------------------------------------------
T_IMG=$EPOCHREALTIME
say "image"
IMG=$(bash "$HERE/build-image.sh" | tail -1)
IMG_S=$(el "$T_IMG")
[ -f "$IMG/.complete" ] || { echo "e2e: no image" >&2; exit 1; }
say "image ready in ${IMG_S}s: $IMG"

# ---- 3. boot ------------------------------------------------------------------------------
rm -rf "$SHARE" "$OUT/logs" "$OUT/vm-recorded"
mkdir -p "$SHARE/bin" "$SHARE/guest" "$SHARE/out"
install -m 0644 "$AGENT_DEB" "$SHARE/bin/iscsi-mirror.deb"
install -m 0755 "$HERE"/guest/*.sh "$SHARE/guest/"
rm -f "$OUT"/{serial.log,guest.log,results.txt,measurements.txt,timings.txt}
APPEND="console=ttyS0 root=/dev/vda rw init=/opt/e2e/init.sh panic=-1 quiet"
say "booting (qemu TCG, $SMP vCPU, ${MEM} MiB, deadline ${E2E_TIMEOUT}s); serial: $OUT/serial.log"
T_BOOT=$EPOCHREALTIME
set +e
qemu-system-x86_64 -accel tcg,thread=multi -cpu max -m "$MEM" -smp "$SMP" \
    -display none -monitor none -serial stdio -no-reboot -nic none -pidfile "$PIDF" \
    -kernel "$IMG/vmlinuz" -initrd "$IMG/initrd.img" -append "$APPEND" \
    -drive "file=$IMG/rootfs.img,if=virtio,format=raw,snapshot=on" \
    -virtfs "local,path=$SHARE,mount_tag=e2e,security_model=none,id=e2e" \
    < /dev/null 2>&1 | stamp > "$OUT/serial.log" &
PIPE_PID=$!
wait_guest "$PIPE_PID"
wait "$PIPE_PID"
set -e
RUN_S=$(el "$T_BOOT")
kill_qemu

# ---- 4. results ---------------------------------------------------------------------------
for f in guest.log guest.rc results.txt measurements.txt; do
    [ -f "$SHARE/out/$f" ] && cp "$SHARE/out/$f" "$OUT/$f"
done
[ -d "$SHARE/out/logs" ] && cp -r "$SHARE/out/logs" "$OUT/logs"
[ -d "$SHARE/out/vm-recorded" ] && cp -r "$SHARE/out/vm-recorded" "$OUT/vm-recorded"
boot_s=$(awk '/E2E-INIT-START/ {print $1; exit}' "$OUT/serial.log")
gstart=$(awk '/E2E-GUEST-START/ {print $1; exit}' "$OUT/serial.log")
gdone=$(awk '/E2E-GUEST-DONE/ {print $1; exit}' "$OUT/serial.log")
scen_s=$( [ -n "$gstart" ] && [ -n "$gdone" ] && awk -v a="$gstart" -v b="$gdone" 'BEGIN{printf "%.1f", b-a}' || echo NA)
{
    echo "agent $AGENT_ID"
    echo "image_s $IMG_S"
    echo "qemu_s $RUN_S"
    echo "boot_to_init_s ${boot_s:-NA}"
    echo "guest_scenario_s $scen_s"
    echo "total_s $(el "$T0")"
} > "$OUT/timings.txt"

if [ "${E2E_RECORD:-0}" = 1 ] && [ -f "$OUT/vm-recorded/INDEX" ] && [ -n "$gdone" ]; then
    dst=$TOP/tests/fixtures/iscsi/vm-recorded
    rm -rf "$dst"; mkdir -p "$dst"
    cp "$OUT"/vm-recorded/* "$dst/"
    { echo "kernel, packages and image recipe of this recording:"; head -1 "$IMG/manifest.txt"
      grep -E '^(open-iscsi|targetcli-fb|python3-rtslib-fb|linux-image-[0-9]|zfsutils-linux|pacemaker|corosync) ' "$IMG/manifest.txt"
      sed -n 2p "$IMG/manifest.txt"; } > "$dst/VERSIONS"
    say "recordings copied to $dst"
fi

echo
echo "---- e2e results (tests/e2e/out/results.txt)"
[ -f "$OUT/results.txt" ] && cat "$OUT/results.txt"
echo "---- measured (tests/e2e/out/measurements.txt)"
[ -f "$OUT/measurements.txt" ] && cat "$OUT/measurements.txt"
echo "---- timings: image ${IMG_S}s, qemu ${RUN_S}s (boot to init ${boot_s:-NA}s, scenario ${scen_s}s), total $(el "$T0")s"
rc=0
if [ "$timed_out" = 1 ]; then echo "e2e: FAILED: deadline reached, guest killed"; rc=1
elif [ -z "$gdone" ]; then echo "e2e: FAILED: the guest scenario did not complete (see $OUT/serial.log)"; rc=1
elif [ "$(cat "$OUT/guest.rc" 2>/dev/null)" != 0 ]; then echo "e2e: FAILED (see $OUT/guest.log)"; rc=1
else echo "e2e: OK"; fi
if [ ! -f "$OUT/results.txt" ] || ! tail -1 "$OUT/results.txt" | grep -q 'passed, .* failed'; then
    echo "0 passed, 1 failed"
fi
exit $rc
