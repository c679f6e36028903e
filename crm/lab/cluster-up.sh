#!/bin/bash
# cluster-up.sh - start a REAL Corosync 3 + Pacemaker 2.1 lab cluster on this machine,
# without systemd, and wait until every node is online under a quorate DC.
#
#   NODES=1 (default): node lab1 on 127.0.0.1, host network namespace, private mount
#           namespace: host crm_mon / pcs / cibadmin / corosync-cmapctl work directly.
#   NODES=2 or 3: node i = lab<i> in network namespace imlab-n<i>, 192.168.77.<i>/24 on
#           a bridge in namespace imlab-sw; private mount, UTS, /dev/shm and /run.
#           Run commands inside a node with lab-exec.sh N CMD...
#
# Knobs (environment):
#   LAB               state dir (default /tmp/iscsi-mirror-lab)
#   NODES             1, 2 or 3 (default 1)
#   TOKEN             totem.token in ms (default 4000)
#   TOKEN_COEFFICIENT totem.token_coefficient (unset: corosync's default, 650)
#   CONSENSUS         totem.consensus in ms (unset: corosync's default, 1.2 x token)
#   TWO_NODE          1 (default): `two_node: 1` when NODES=2; 0: plain votequorum
#   STONITH           stonith-enabled (default false: the lab has no fence device)
#   NO_QUORUM_POLICY  no-quorum-policy (unset: Pacemaker's default, stop)
#   DC_DEADTIME       dc-deadtime (default 2s)
# A running lab (same LAB) is torn down first. The agent provider dir
# $LAB/resource.d/san (install-agent.sh) survives a restart.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
NODES=${NODES:-1}
export TOKEN=${TOKEN:-4000}
case $NODES in 1) MODE=host ;; 2|3) MODE=netns ;; *) die "NODES must be 1, 2 or 3 (got $NODES)" ;; esac
need_root; need_tools

"$HERE/cluster-down.sh" > /dev/null 2>&1 || true
if [ "$MODE" = host ] && corosync-cmapctl -g totem.cluster_name > /dev/null 2>&1; then
    die "a corosync not started by this lab already answers on this host"
fi

T0=$(now)
mkdir -p "$LAB"
rm -rf "$LAB"/n[0-9]*
printf 'NODES=%s\nMODE=%s\n' "$NODES" "$MODE" > "$LAB/lab.env"
prep_resource_d

members=()
if [ "$MODE" = host ]; then
    members=("1:lab1:127.0.0.1")
else
    sw=$NS_PREFIX-sw
    ip netns add "$sw"
    ip -n "$sw" link set lo up
    ip -n "$sw" link add br0 type bridge
    ip -n "$sw" link set br0 up
    for i in $(seq 1 "$NODES"); do
        ns=$NS_PREFIX-n$i
        ip netns add "$ns"
        ip -n "$sw" link add "p$i" type veth peer name eth0 netns "$ns"
        ip -n "$sw" link set "p$i" master br0 up
        ip -n "$ns" link set lo up
        ip -n "$ns" addr add "$NET.$i/24" dev eth0
        ip -n "$ns" link set eth0 up
        members+=("$i:lab$i:$NET.$i")
    done
    for i in $(seq 2 "$NODES"); do
        ip netns exec "$NS_PREFIX-n1" ping -c1 -W2 "$NET.$i" > /dev/null || die "lab1 cannot reach $NET.$i"
    done
    log "network: $NODES namespaces on bridge $sw/br0 ($(since "$T0")s)"
fi

for i in $(seq 1 "$NODES"); do
    prep_state "$i"
    write_corosync_conf "$LAB/n$i/etc-corosync/corosync.conf" "imlab$NODES" "${members[@]}"
    seed_cib "$LAB/n$i/var-lib-pacemaker/cib/cib.xml"
    start_holder "$i" "$MODE"
done

for i in $(seq 1 "$NODES"); do start_corosync "$i"; done
for i in $(seq 1 "$NODES"); do
    wait_until 30 corosync_member "$i" "$NODES" || {
        tail -20 "$LAB/n$i/corosync.stdout" >&2
        die "corosync on lab$i: not quorate with $NODES members after 30s"
    }
done
log "corosync: $NODES member(s), quorate ($(since "$T0")s)"

for i in $(seq 1 "$NODES"); do start_pacemaker "$i"; done
wait_until 90 cluster_settled 1 "$NODES" ||
    die "pacemaker: not $NODES node(s) online under a quorate DC after 90s; see $LAB/n1/log-pacemaker/pacemaker.log"
log "pacemaker: $NODES node(s) online, quorate DC ($(since "$T0")s total)"
for i in $(seq 1 "$NODES"); do echo "lab$i: $(tr '\n' ' ' < "$LAB/n$i/pids")"; done
