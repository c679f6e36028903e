#!/bin/bash
# evmon.sh - state transitions on this node, appended to /e2e/out/events.log as
# "EPOCH_MS NODE KEY VALUE" when a value changes. sysfs every 0.25 s (bash builtins only,
# no fork), zpool/ip once a second:
#   session     the peer session's kernel state (LOGGED_IN/FAILED/FREE/none)
#   sdstate     the peer disk's SCSI device state (running/blocked/transport-offline)
#   st_carrier / cl_carrier   carrier of the storage / cluster NIC
#   pool        imported / exported (/proc/spl/kstat/zfs/san-pool)
#   pool_state  zpool status "state:";  vdev_remote / vdev_local  the leaf vdev states
#   scan        resilvering / none;  vip  present / absent;  writer  running / stopped
#   outdated_PEER   the peer's permanent iscsi-mirror-outdated mark in the CIB (1 / none)
# Bounded: every command it runs has a timeout; it ends with the VM (or /e2e/cmd/STOP).
. /e2e/guest/san-lib.sh
. /run/nics.env
declare -A last
emit() { if [ "${last[$1]-}" != "$2" ]; then last[$1]=$2; echo "$(now_ms) $NODE $1 $2" >> "$EV"; fi; }
exec 7<> <(:)    # read -t on it: a sleep without a fork
i=0
while [ ! -e /e2e/cmd/STOP ]; do
    sess=none sd=
    for s in /sys/class/iscsi_session/session*; do
        [ -e "$s/targetname" ] || continue
        read -r tn < "$s/targetname" 2>/dev/null || continue
        [ "$tn" = "$PEER_IQN" ] || continue
        read -r sess < "$s/state" 2>/dev/null
        for b in "$s"/device/target*/*/block/*; do
            [ -e "$b" ] && read -r sd < "$b/device/state" 2>/dev/null && break
        done
        break
    done
    emit session "$sess"
    [ -n "$sd" ] && emit sdstate "$sd"
    read -r c < /sys/class/net/$ST_NIC/carrier 2>/dev/null; emit st_carrier "$c"
    read -r c < /sys/class/net/$CL_NIC/carrier 2>/dev/null; emit cl_carrier "$c"
    if [ -d /proc/spl/kstat/zfs/$POOL ]; then emit pool imported; else emit pool exported; fi
    if [ $((i % 4)) = 0 ]; then
        if [ -d /proc/spl/kstat/zfs/$POOL ]; then
            st=$(timeout 5 zpool status -P $POOL 2>/dev/null)
            v=none vl=none ps=none scan=none
            while read -r a b rest; do
                case $a in
                    state:) ps=$b ;;
                    "$REMOTE_DEV") v=$b ;;
                    "$LOCAL_DEV") vl=$b ;;
                    *) case $rest in   # a leaf listed by GUID: "... was PATH"
                           *"was $REMOTE_DEV") v=$b ;;
                           *"was $LOCAL_DEV") vl=$b ;;
                       esac ;;
                esac
            done <<< "$st"
            [[ $st == *"resilver in progress"* ]] && scan=resilvering
            emit pool_state "$ps"; emit vdev_remote "$v"; emit vdev_local "$vl"; emit scan "$scan"
        fi
        a=$(timeout 5 ip -4 -o addr show dev "$CL_NIC" 2>/dev/null)
        if [[ $a == *" $VIP/"* ]]; then emit vip present; else emit vip absent; fi
        w=stopped
        if read -r p < /run/san-writer.pid 2>/dev/null && [ -n "$p" ] && [ -d /proc/$p ]; then w=running; fi
        emit writer "$w"
        o=$(node_attr "$PEER" iscsi-mirror-outdated forever) || o=
        emit "outdated_$PEER" "${o:-none}"
    fi
    i=$((i + 1))
    read -r -t 0.25 -u 7 _
done
