#!/bin/bash
# cluster-down.sh - stop the lab started by cluster-up.sh, by recorded PID only:
#   1. `pacemakerd --shutdown` on every node at once (resources stop cleanly), wait for
#      each recorded pacemakerd PID (then SIGTERM, SIGKILL by PID)
#   2. `corosync-cfgtool -H --force` on every node, wait for the corosync PIDs (same fallback)
#   3. kill by PID whatever still runs inside a node's mount namespace, then the holder
#   4. delete the lab's network namespaces (imlab-n<i>, imlab-sw) and, in host mode,
#      the libqb files in /dev/shm that belonged to the lab's PIDs
# Safe to run repeatedly and with nothing running. Keeps $LAB/resource.d (the agent).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
need_root
T0=$(now)
mode=$(lab_mode)
nodes=()
for f in "$LAB"/n[0-9]*/pids; do
    [ -f "$f" ] || continue
    i=${f%/pids}; i=${i##*/n}
    nodes+=("$i")
done
all_pids=()

if [ ${#nodes[@]} -gt 0 ]; then
    for i in "${nodes[@]}"; do
        h=$(node_pid "$i" holder)
        all_pids+=("$(node_pid "$i" corosync)" "$(node_pid "$i" pacemakerd)")
        if alive "$h"; then mapfile -t -O ${#all_pids[@]} all_pids < <(pids_in_mntns "$h"); fi
    done

    # 1. pacemaker, all nodes in parallel; 2. corosync
    stop_daemons "${nodes[*]}" pacemakerd 60 pacemakerd --shutdown
    log "pacemaker stopped ($(since "$T0")s)"
    stop_daemons "${nodes[*]}" corosync 20 corosync-cfgtool -H --force
    log "corosync stopped ($(since "$T0")s)"

    # 3. leftovers inside each node, then the holders
    for i in "${nodes[@]}"; do
        h=$(node_pid "$i" holder)
        if alive "$h" sleep; then
            for p in $(pids_in_mntns "$h"); do
                log "  leftover PID $p ($(cat "/proc/$p/comm" 2>/dev/null || true)) in lab$i: SIGKILL"
                kill -KILL "$p" 2>/dev/null || true
                wait_gone "$p" 5 || true
            done
            stop_pid "$h" sleep 5
        fi
        rm -f "$LAB/n$i/pids"
    done
fi

# 4. namespaces (only the lab's names) and host-mode libqb leftovers
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$NS_PREFIX-(n[0-9]+|sw)\$" || true); do
    ip netns del "$ns"
done
if [ "$mode" = host ]; then
    for p in "${all_pids[@]}"; do
        [ -n "$p" ] || continue
        rm -rf /dev/shm/qb-"$p"-* /dev/shm/qb-*-"$p"-* 2>/dev/null || true
    done
fi
rm -f "$LAB/lab.env"
log "lab down ($(since "$T0")s)"
