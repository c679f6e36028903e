#!/bin/bash
# The complete two-node HA SAN with pcs: storage-a and storage-b export their local disks
# over LIO and mirror them with ZFS (pool san-pool); iscsi-mirror keeps each node's leg,
# ocf:heartbeat:ZFS imports the pool on one node, the services follow the pool.
# docs/admin-guide.md ("The recommended configuration") explains every line;
# crm/tests/scheduler.sh proves it with Pacemaker's own scheduler. The site's values
# (nodes, addresses, IQNs, fencing, quorum device) are in san.env.
#
#   pcs-two-node-san.sh corosync   once, on one node, after `pcs host auth storage-a storage-b`:
#                                  Corosync (token 4000, quorum), keys, on both nodes
#   pcs cluster start --all
#   pcs-two-node-san.sh cib        fencing, resources, constraints, properties: built in a
#                                  copy of the live CIB, checked by crm_verify, pushed at once
#                                  (once, on a cluster that has none of them yet)
#
# Against files only (nothing else is touched; review them, or run the tests):
#   COROSYNC_CONF=./corosync.conf pcs-two-node-san.sh corosync
#   CIB_FILE=./san.xml pcs-two-node-san.sh cib       (the file must hold the two nodes)
#
# LEGS=single builds the same SAN with one single-target primitive per leg (portal, target,
# peer_node: the ocf:heartbeat:iscsi drop-in, see pcs-single-target.sh) instead of the clone.
set -euo pipefail
shopt -s inherit_errexit

# shellcheck source=san.env
. "${SAN_ENV:-$(dirname "$0")/san.env}"

corosync_step() {
    local out=()
    [ -z "${COROSYNC_CONF:-}" ] || out=(--corosync_conf "$COROSYNC_CONF" --overwrite)
    # token 4000: the iSCSI timers (2+2 s to notice a dead peer, 5 s to fail its I/O) are
    # chosen against it; consensus stays at Corosync's default, 1.2 x token = 4800.
    pcs cluster setup "$CLUSTER" \
        "$NODE_A" addr="$MGMT_A" addr="$STORAGE_A" \
        "$NODE_B" addr="$MGMT_B" addr="$STORAGE_B" \
        totem token=4000 "${out[@]}"
    # Without a quorum device pcs writes two_node: 1 (which implies wait_for_all: 1): the
    # survivor of a peer loss keeps quorum; fencing decides, priority-fencing-delay (below)
    # makes the node holding the pool win a fence race. A quorum device replaces two_node.
    if [ -n "$QDEVICE_HOST" ]; then
        pcs "${out[@]:0:2}" quorum device add model net host="$QDEVICE_HOST" algorithm=ffsplit
    fi
    if [ "$FENCE" = sbd ] && [ -z "${COROSYNC_CONF:-}" ]; then
        # before the first start: sbd must run when the cluster does (this wipes the disk)
        pcs stonith sbd device setup device="$SBD_DEVICE"
        pcs stonith sbd enable device="$SBD_DEVICE" watchdog="$SBD_WATCHDOG"
    fi
}

cib_step() {
    local cib=${CIB_FILE:-} live=0
    if [ -z "$cib" ]; then
        live=1
        cib=$(mktemp /tmp/san-cib.XXXXXX)
        pcs cluster cib "$cib"
        cp "$cib" "$cib.orig"
    fi
    local pcs=(pcs -f "$cib")

    # ---- fencing ----
    "${pcs[@]}" property set stonith-enabled=true
    case $FENCE in
        sbd)
            # a static host list: fence_sbd's own list action is slow (python, the disk)
            "${pcs[@]}" stonith create fence-sbd fence_sbd devices="$SBD_DEVICE" \
                pcmk_host_list="$NODE_A $NODE_B" op monitor interval=60s ;;
        ipmi)
            : "${IPMI_PASSWORD:?set IPMI_PASSWORD (or use password_script=)}"
            "${pcs[@]}" stonith create "fence-$NODE_A" fence_ipmilan ip="$IPMI_A" lanplus=1 \
                username="$IPMI_USER" password="$IPMI_PASSWORD" pcmk_host_list="$NODE_A" \
                op monitor interval=60s
            "${pcs[@]}" stonith create "fence-$NODE_B" fence_ipmilan ip="$IPMI_B" lanplus=1 \
                username="$IPMI_USER" password="$IPMI_PASSWORD" pcmk_host_list="$NODE_B" \
                op monitor interval=60s ;;
        *) echo "FENCE must be sbd or ipmi" >&2; return 2 ;;
    esac
    # When both nodes shoot at once (a split with two_node), the shot at the node with
    # the higher priority, the one running san-pool (priority 10), waits 10 s: that node wins.
    "${pcs[@]}" property set priority-fencing-delay=10s

    # ---- the mirror's legs: iscsi-mirror ----
    # allow-unhealthy-nodes: no health score ever stops the agent that reports the health.
    local timers=(noop_out_interval=2 noop_out_timeout=2 replacement_timeout=5
                  login_timeout=10 pool="$POOL")
    local ops=(op start timeout=90s op stop timeout=90s op monitor interval=10s timeout=30s
               op monitor interval=60s timeout=60s OCF_CHECK_LEVEL=20)
    local legs=() leg
    case $LEGS in
        clone)
            "${pcs[@]}" resource create san-mirror ocf:san:iscsi-mirror --no-default-ops \
                peers="$NODE_A=$IQN_A@$STORAGE_A:3260 $NODE_B=$IQN_B@$STORAGE_B:3260" \
                "${timers[@]}" "${ops[@]}" \
                clone san-mirror-clone interleave=true allow-unhealthy-nodes=true
            legs=(san-mirror-clone) ;;
        single)
            # storage-a's leg logs in to storage-b's target and runs on storage-a only
            "${pcs[@]}" resource create san-leg-a ocf:san:iscsi-mirror --no-default-ops \
                portal="$STORAGE_B:3260" target="$IQN_B" peer_node="$NODE_B" \
                "${timers[@]}" "${ops[@]}" meta allow-unhealthy-nodes=true
            "${pcs[@]}" resource create san-leg-b ocf:san:iscsi-mirror --no-default-ops \
                portal="$STORAGE_A:3260" target="$IQN_A" peer_node="$NODE_A" \
                "${timers[@]}" "${ops[@]}" meta allow-unhealthy-nodes=true
            "${pcs[@]}" constraint location san-leg-a avoids "$NODE_B"
            "${pcs[@]}" constraint location san-leg-b avoids "$NODE_A"
            legs=(san-leg-a san-leg-b) ;;
        *) echo "LEGS must be clone or single" >&2; return 2 ;;
    esac

    # ---- the pool: ocf:heartbeat:ZFS (set multihost=on on the pool: see the guide) ----
    local import=()
    [ -z "$ZFS_IMPORTARGS" ] || import=(importargs="$ZFS_IMPORTARGS")
    "${pcs[@]}" resource create san-pool ocf:heartbeat:ZFS pool="$POOL" "${import[@]}" --no-default-ops \
        op start timeout=150s op stop timeout=90s op monitor interval=10s timeout=30s \
        meta priority=10
    # The pool never starts on a node whose half missed writes (the agent marks it).
    "${pcs[@]}" constraint location san-pool rule score=-INFINITY iscsi-mirror-outdated eq 1
    for leg in "${legs[@]}"; do
        # Optional: at a cold start the legs log in before the import (the pool comes up
        # whole) and at a stop the export comes first; a leg's recovery alone never
        # restarts the pool.
        "${pcs[@]}" constraint order start "$leg" then start san-pool kind=Optional
        # Finite: prefer a node whose leg runs; a leg that cannot run never stops the pool.
        "${pcs[@]}" constraint colocation add san-pool with "$leg" 50
    done

    # ---- the services on top of the pool (add NFS, SMB, the client target here) ----
    "${pcs[@]}" resource create san-vip ocf:heartbeat:IPaddr2 --no-default-ops \
        ip="$VIP" cidr_netmask="$VIP_CIDR" op monitor interval=10s --group san-services
    "${pcs[@]}" constraint order start san-pool then start san-services
    "${pcs[@]}" constraint colocation add san-services with san-pool INFINITY

    # ---- placement: prefer a whole mirror, never stop the survivor, never flap ----
    # A node's health score is base + its #health-* attributes: green 100, yellow 50,
    # red 0; it is added to every resource on that node. Never below 0 (a negative total
    # would ban the node: the survivor of a peer loss, yellow, would stop everything).
    "${pcs[@]}" property set node-health-strategy=progressive node-health-base=100 \
        node-health-green=0 node-health-yellow=-50 node-health-red=-100
    # Stickiness 200 per resource outweighs any health difference (at most 100): a
    # degraded or failed leg on the pool's node never moves the pool (the other node's half
    # is the stale one); health decides only where a stopped pool starts.
    "${pcs[@]}" resource defaults update resource-stickiness=200

    if [ "$live" = 1 ]; then
        crm_verify -V -x "$cib"   # with the cluster's own status: must print nothing
        pcs cluster cib-push "$cib" diff-against="$cib.orig"
        rm -f "$cib" "$cib.orig"
    fi
}

case ${1:-} in
    corosync) corosync_step ;;
    cib) cib_step ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2 ;;
esac
