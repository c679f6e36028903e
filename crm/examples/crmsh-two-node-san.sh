#!/bin/bash
# The complete two-node HA SAN with crmsh: the same configuration as pcs-two-node-san.sh
# (docs/admin-guide.md, "The recommended configuration"; proven by crm/tests/scheduler.sh).
# The site's values are in san.env.
#
#   crmsh-two-node-san.sh corosync  in the corosync.conf you have (from `crm cluster init`):
#                                   token 4000 and the quorum; then `crm corosync push` and
#                                   `corosync-cfgtool -R` (both settings are reloadable)
#   crmsh-two-node-san.sh cib       fencing, resources, constraints, properties in one
#                                   `crm configure load update` (crmsh verifies, then commits;
#                                   once, on a cluster that has none of them yet)
#   crmsh-two-node-san.sh print     the crm configuration only (`crm configure load update FILE`)
#
# Against files only:
#   COROSYNC_CONF=./corosync.conf crmsh-two-node-san.sh corosync
#   CIB_FILE=./san.xml crmsh-two-node-san.sh cib       (the file must hold the two nodes)
#
# FENCE=sbd: sbd itself (the disk's header; /etc/default/sbd with SBD_DEVICE and
# SBD_WATCHDOG_DEV on both nodes) is set up before the cluster starts, with `sbd -d DEV
# create` or crmsh's bootstrap (`crm cluster init -s DEV`, which adds a fence resource of its
# own, stonith-sbd: keep one of the two). This script configures fence-sbd.
set -euo pipefail
shopt -s inherit_errexit
# shellcheck source=san.env
. "${SAN_ENV:-$(dirname "$0")/san.env}"

corosync_step() {
    [ -z "${COROSYNC_CONF:-}" ] || export COROSYNC_MAIN_CONFIG_FILE=$COROSYNC_CONF
    crm corosync set totem.token 4000
    if [ -z "$QDEVICE_HOST" ]; then
        crm corosync set quorum.two_node 1
    elif [ -z "${COROSYNC_CONF:-}" ]; then
        crm cluster init qdevice --qnetd-hostname="$QDEVICE_HOST" --qdevice-algo=ffsplit -y
    else
        echo "a quorum device is added to a running cluster only" >&2
        return 2
    fi
}

fencing() {
    case $FENCE in
        sbd)
            cat <<CRM
# fence_sbd on a shared disk, a hardware watchdog on each node; a static host list
# (fence_sbd's own list action is slow)
primitive fence-sbd stonith:fence_sbd params devices="$SBD_DEVICE" \\
    pcmk_host_list="$NODE_A $NODE_B" op monitor interval=60s
CRM
            ;;
        ipmi)
            : "${IPMI_PASSWORD:?set IPMI_PASSWORD (or use password_script=)}"
            local n ip
            for n in "$NODE_A:$IPMI_A" "$NODE_B:$IPMI_B"; do
                ip=${n#*:} n=${n%%:*}
                cat <<CRM
primitive fence-$n stonith:fence_ipmilan params ip=$ip lanplus=1 \\
    username="$IPMI_USER" password="$IPMI_PASSWORD" pcmk_host_list=$n \\
    op monitor interval=60s
CRM
            done
            ;;
        *) echo "FENCE must be sbd or ipmi" >&2; return 2 ;;
    esac
}

legs() {
    local params="noop_out_interval=2 noop_out_timeout=2 replacement_timeout=5 login_timeout=10 pool=$POOL"
    local ops="op start timeout=90s interval=0 op stop timeout=90s interval=0 \\
    op monitor interval=10s timeout=30s op monitor interval=60s timeout=60s OCF_CHECK_LEVEL=20"
    case $LEGS in
        clone)
            cat <<CRM
# allow-unhealthy-nodes: no health score ever stops the agent that reports the health
primitive san-mirror ocf:san:iscsi-mirror \\
    params peers="$NODE_A=$IQN_A@$STORAGE_A:3260 $NODE_B=$IQN_B@$STORAGE_B:3260" \\
    $params \\
    $ops
clone san-mirror-clone san-mirror meta interleave=true allow-unhealthy-nodes=true
CRM
            ;;
        single)
            cat <<CRM
# each node's leg logs in to the other node's target and runs on its own node only
primitive san-leg-a ocf:san:iscsi-mirror \\
    params portal=$STORAGE_B:3260 target=$IQN_B peer_node=$NODE_B $params \\
    $ops \\
    meta allow-unhealthy-nodes=true
primitive san-leg-b ocf:san:iscsi-mirror \\
    params portal=$STORAGE_A:3260 target=$IQN_A peer_node=$NODE_A $params \\
    $ops \\
    meta allow-unhealthy-nodes=true
location san-leg-a-avoids-$NODE_B san-leg-a -inf: $NODE_B
location san-leg-b-avoids-$NODE_A san-leg-b -inf: $NODE_A
CRM
            ;;
        *) echo "LEGS must be clone or single" >&2; return 2 ;;
    esac
}

leg_ids() { if [ "$LEGS" = clone ]; then echo san-mirror-clone; else echo san-leg-a san-leg-b; fi; }

configuration() {
    local import=
    [ -z "$ZFS_IMPORTARGS" ] || import=" importargs=\"$ZFS_IMPORTARGS\""
    fencing
    legs
    cat <<CRM
# the pool (set multihost=on on it); priority 10: its node wins a fence race
primitive san-pool ocf:heartbeat:ZFS params pool=$POOL$import \\
    op start timeout=150s interval=0 op stop timeout=90s interval=0 \\
    op monitor interval=10s timeout=30s \\
    meta priority=10
# never import a half that missed writes (the agent marks it; the override removes the mark)
location san-pool-not-outdated san-pool rule -inf: iscsi-mirror-outdated eq 1
CRM
    local leg
    for leg in $(leg_ids); do
        cat <<CRM
# Optional: the legs log in before a cold import; a leg's recovery never restarts the pool
order san-pool-after-$leg Optional: $leg san-pool
# finite: prefer a node whose leg runs; a leg that cannot run never stops the pool
colocation san-pool-with-$leg 50: san-pool $leg
CRM
    done
    cat <<CRM
# the services on top of the pool (add NFS, SMB, the client target to the group)
primitive san-vip ocf:heartbeat:IPaddr2 params ip=$VIP cidr_netmask=$VIP_CIDR \\
    op monitor interval=10s
group san-services san-vip
order san-services-after-pool Mandatory: san-pool san-services
colocation san-services-with-pool inf: san-services san-pool
# health: green 100, yellow 50, red 0, never negative (a negative total bans the node);
# priority-fencing-delay: the shot at the pool's node waits 10 s
property stonith-enabled=true priority-fencing-delay=10s \\
    node-health-strategy=progressive node-health-base=100 \\
    node-health-green=0 node-health-yellow=-50 node-health-red=-100
# stickiness 200 > any health difference (100): a degraded leg never moves the pool
rsc_defaults resource-stickiness=200
CRM
}

cib_step() {
    local conf
    conf=$(configuration)
    [ -z "${CIB_FILE:-}" ] || export CIB_file=$CIB_FILE
    # crmsh checks the whole configuration (crm_verify) before it commits anything
    crm configure load update - <<<"$conf"
}

case ${1:-} in
    corosync) corosync_step ;;
    cib) cib_step ;;
    print) configuration ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2 ;;
esac
