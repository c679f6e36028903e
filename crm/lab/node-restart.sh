#!/bin/bash
# node-restart.sh N - bring node N's daemons back (e.g. after kill-corosync.sh N):
# stops whatever of Pacemaker still runs in the node (recorded pacemakerd PID, then any
# other process in its mount namespace, by PID), starts corosync and pacemakerd again in
# the same namespaces and waits (bounded) until every lab node is online under a quorate DC.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
n=${1:?usage: node-restart.sh N}
need_root
NODES=$(lab_nodes)
[ "$n" -ge 1 ] && [ "$n" -le "$NODES" ] || die "no lab node $n (lab has $NODES)"
h=$(node_pid "$n" holder)
alive "$h" sleep || die "lab$n: namespace holder is gone; run cluster-up.sh"
T0=$(now)
old="$(node_pid "$n" pacemakerd) $(node_pid "$n" corosync) $(pids_in_mntns "$h" | tr '\n' ' ')"
stop_daemons "$n" pacemakerd 30 pacemakerd --shutdown
stop_daemons "$n" corosync 20 corosync-cfgtool -H --force
for q in $(pids_in_mntns "$h"); do
    log "  leftover PID $q ($(cat "/proc/$q/comm" 2>/dev/null || true)) in lab$n: SIGKILL"
    kill -KILL "$q" 2>/dev/null || true
    wait_gone "$q" 5 || true
done
if [ "$(lab_mode)" = host ]; then
    for q in $old; do rm -rf /dev/shm/qb-"$q"-* /dev/shm/qb-*-"$q"-* 2>/dev/null || true; done
else
    in_node "$n" sh -c 'rm -rf /dev/shm/qb-*' || true
fi
log "lab$n: old daemons gone ($(since "$T0")s)"
start_corosync "$n"
wait_until 30 corosync_member "$n" "$NODES" || die "lab$n: corosync not back with $NODES members after 30s"
start_pacemaker "$n"
wait_until 90 cluster_settled "$n" "$NODES" || die "lab$n: not all $NODES node(s) online under a quorate DC after 90s"
log "lab$n: back, $NODES node(s) online ($(since "$T0")s)"
