#!/bin/bash
# run.sh - `make e2e-san`: the agent in a real two-node HA SAN, two qemu VMs (storage-a,
# storage-b) from the e2e image, see README.md ("e2e-san"):
#
#   1. host tools, the agent (target/release/iscsi-mirror), the image (build-image.sh)
#   2. disks: a data disk per node (GPT, one partition), the shared sbd disk, a probe
#      disk for storage-a; a 9p share per node (agent, guest scripts, node.env, out/)
#   3. both VMs booted (1 vCPU each); each runs guest/main.sh: LIO export of its data disk,
#      sbd, corosync (two links), pacemaker, zed; then serves the host's commands (gx)
#   4. phases: cluster formed -> LIO probe (block backstore vs ZFS; fileio coherence) ->
#      pool + ZFS recordings -> Pacemaker resources -> drills 1, 3, 2, 3, 5, 4 -> the
#      suspended pool recorded last
#   5. results in tests/e2e/out-san/: results.txt (PASS/FAIL, "N passed, M failed"),
#      timeline.txt (each drill's events against the model and the design), findings.txt,
#      logs/, zfs-recorded/, zevents/. E2E_RECORD=1 copies the ZFS recordings to
#      tests/fixtures/zfs/vm-recorded/.
#
# Exit status: 0 when every assertion passed. Every wait is bounded; both qemu processes
# are killed by PID at SAN_TIMEOUT (default 2700 s) and on any exit.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
E2E=$(cd "$HERE/.." && pwd)
TOP=$(cd "$E2E/../.." && pwd)
OUT=${SAN_OUT:-$E2E/out-san}
SAN_TIMEOUT=${SAN_TIMEOUT:-2700}
VM_MEM=${SAN_VM_MEM:-1536}
PORT_BASE=${SAN_PORT_BASE:-45200}
CL_NET=192.168.20 ST_NET=192.168.10 VIP=192.168.20.100
IQN_BASE=iqn.2025-01.lab.e2e
POOL=san-pool
SBD_WD_TIMEOUT=${SAN_SBD_WD_TIMEOUT:-5} SBD_MSGWAIT=${SAN_SBD_MSGWAIT:-10}
# the documented override that accepts an outdated half's data loss (the lead's final CLI)
OUTDATED_CLEAR=${SAN_OUTDATED_CLEAR:-iscsi-mirror outdated --clear --accept-data-loss --node}
T0=$(( ${EPOCHREALTIME/./} / 1000 ))
RUN_DEADLINE_MS=$((T0 + SAN_TIMEOUT * 1000))
. "$HERE/lib.sh"

[ "$(id -u)" = 0 ] || { echo "e2e-san: needs root (debootstrap, chroot)" >&2; exit 1; }
rm -rf "$OUT"
mkdir -p "$OUT/run" "$OUT/logs"
: > "$OUT/results.txt"; : > "$OUT/timeline.txt"; : > "$OUT/host-events.log"; : > "$OUT/findings.txt"
trap kill_all_vms EXIT
trap 'exit 130' INT TERM

# ---- 1. host tools, agent, image ----------------------------------------------------------
. "$E2E/host-lib.sh"
e2e_host_setup || exit 1
T_IMG=$(now_ms)
IMG=$(bash "$E2E/build-image.sh" | tail -1)
[ -f "$IMG/.complete" ] || { echo "e2e-san: no image" >&2; exit 1; }
IMG_S=$(secs "$T_IMG" "$(now_ms)")
say "image ready in ${IMG_S} s: $IMG"
for L in 0 1; do for n in a b; do
    p=$(port $n $L)
    if ss -Hulpn "sport = :$p" 2>/dev/null | grep -q .; then
        echo "e2e-san: udp port $p on 127.0.0.1 is taken (SAN_PORT_BASE=$PORT_BASE): $(ss -Hulpn "sport = :$p")" >&2; exit 1
    fi
done; done

# ---- 2. disks and shares ------------------------------------------------------------------
# data disks: GPT with one named partition (type Solaris/ZFS) from 1 MiB: the pool uses the
# partition by its name (/dev/disk/by-partlabel/data-a, the same name on both nodes), LIO
# exports the whole disk (the design's layout: sgdisk -n1:0:0 -t1:bf01 -c1:NAME)
gpt_disk() {
    truncate -s "$2" "$1"
    printf 'label: gpt\ntype=6A898CC3-1DD2-11B2-99A6-080020736631, name="%s"\n' "$3" | sfdisk -q "$1" > /dev/null
}
gpt_disk "$OUT/run/data-a.img" 2G data-a
gpt_disk "$OUT/run/data-b.img" 2G data-b
gpt_disk "$OUT/run/probe-a.img" 128M probe
truncate -s 16M "$OUT/run/sbd.img"
for n in a b; do
    sh=$OUT/share-$n
    mkdir -p "$sh/bin" "$sh/guest" "$sh/out/logs"
    install -m 0644 "$AGENT_DEB" "$sh/bin/iscsi-mirror.deb"
    install -m 0755 "$E2E/guest/lib.sh" "$sh/guest/e2e-lib.sh"
    install -m 0755 "$HERE"/guest/*.sh "$sh/guest/"
    # the shipped configuration, which phase_resources loads as an admin would
    install -D -m 0755 "$TOP/crm/examples/crmsh-two-node-san.sh" "$sh/guest/examples/crmsh-two-node-san.sh"
    install -m 0644 "$TOP/crm/examples/san.env" "$sh/guest/examples/san.env"
done

# ---- 3. boot ---------------------------------------------------------------------------------
T_BOOT=$(now_ms)
vm_start a || exit 1
vm_start b || exit 1
ok=1
for n in a b; do
    if vm_wait_ready $n 420; then
        note "${VM_NAME[$n]} ready $(secs "$T_BOOT" "$(now_ms)") s after launch"
    else
        ok=0; fail "boot: ${VM_NAME[$n]} did not reach its command loop within 420 s (see serial-$n.log, share-$n/out/boot-1.log)"
    fi
done
BOOT_S=$(secs "$T_BOOT" "$(now_ms)")

phase() { say "== $*"; echo "== $(date +%T) $*" >> "$OUT/notes.txt"; }
. "$HERE/phases.sh"
. "$HERE/drills.sh"

# The lab's measurements (the LIO probe, the ZFS recordings, the suspended pool) run with
# E2E_RECORD=1, which also refreshes the fixtures; make check runs the SAN and its drills.
# SAN_PROBE / SAN_RECORD (0 or 1) override either; SAN_UNTIL=cluster|probe|record|resources
# stops after that phase (for working on the run).
RECORDING=${E2E_RECORD:-0}
SAN_PROBE=${SAN_PROBE:-$RECORDING} SAN_RECORD=${SAN_RECORD:-$RECORDING}
until_here() { [ "${SAN_UNTIL:-}" != "$1" ]; }
if [ $ok = 1 ]; then
    phase_cluster && until_here cluster && { [ "$SAN_PROBE" = 0 ] || phase_lio_probe; } && until_here probe &&
        phase_pool_recordings && until_here record && phase_resources && until_here resources &&
        run_drills && { [ "$SAN_RECORD" = 0 ] || phase_suspend_recording; }
fi
phase_collect
vm_stop a; vm_stop b

# ---- 5. results ------------------------------------------------------------------------------
{
    echo "agent $AGENT_ID"
    echo "image $IMG ($IMG_S s)"
    echo "boot_both_ready_s $BOOT_S"
    echo "total_s $(secs "$T0" "$(now_ms)")"
} > "$OUT/timings.txt"
SUMMARY="$N_PASS passed, $N_FAIL failed"
echo "$SUMMARY" >> "$OUT/results.txt"
echo
echo "---- timeline (tests/e2e/out-san/timeline.txt): seconds from each drill's fault"
cat "$OUT/timeline.txt"
echo "---- findings (tests/e2e/out-san/findings.txt)"
cat "$OUT/findings.txt"
echo "---- results (tests/e2e/out-san/results.txt)"
cat "$OUT/results.txt"
echo "---- timings: $(tr '\n' ';' < "$OUT/timings.txt")"
[ "$N_FAIL" = 0 ] && [ "$N_PASS" -gt 0 ]
