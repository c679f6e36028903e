# san-lib.sh - helpers for the e2e-san guests (sourced by main.sh and by every command the
# host sends; runs inside storage-a / storage-b as root). Builds on the one-node run's
# lib.sh (bounded waits, sysfs helpers, crm_mon XPath, vdev_state). Every wait is bounded.
. /e2e/guest/e2e-lib.sh
. /e2e/node.env
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
OUT=/e2e/out
LOGS=$OUT/logs
EV=$OUT/events.log          # state transitions seen by evmon.sh: "epoch_ms key value"
POOL=san-pool
AGENT=/usr/lib/ocf/resource.d/san/iscsi-mirror

# The pool's vdevs by GPT partition name (the host names them data-a, data-b): udev makes
# /dev/disk/by-partlabel/data-X on both nodes (the local disk on one, the iSCSI disk on the
# other), so every path in the pool's config is valid on either node. By-path names are
# not: after an unplanned failover the survivor's pool keeps the dead node's vdev under
# its last path there (the dead node's *local* by-path name, which on the survivor names
# its own disk), and neither `zpool online` nor a reopen can find it (README).
LOCAL_DEV=/dev/disk/by-partlabel/data-${NODE#storage-}     # this node's disk, here
REMOTE_DEV=/dev/disk/by-partlabel/data-${PEER#storage-}    # the peer's disk, here (iSCSI)

# ts: a line stamped with epoch seconds (ms)
ts() { local t=${EPOCHREALTIME/./}; printf '%d.%03d %s\n' $((t / 1000000)) $((t / 1000 % 1000)) "$*"; }

# ---- cluster ------------------------------------------------------------------------------
crm_xml() { timeout 20 crm_mon -1 --output-as=xml 2>/dev/null; }
# node_online NODE: true if crm_mon says NODE is online
node_online() { [ "$(crm_xml | xp "string(//nodes/node[@name='$1']/@online)")" = true ]; }
both_online() {
    local x; x=$(crm_xml) || return 1
    [ "$(xp 'count(/pacemaker-result/nodes/node[@online="true"])' <<< "$x")" = 2 ] &&
    [ "$(xp 'string(/pacemaker-result/summary/current_dc/@present)' <<< "$x")" = true ]
}
# where RSC runs (node name; empty if nowhere)
rsc_node() { crm_xml | xp "string(//resource[@id='$1'][@role='Started']/node/@name)"; }
# clone instance of san-mirror on NODE started?
clone_on() { crm_xml | xp "count(//clone[@id='san-mirror-clone']/resource[@role='Started']/node[@name='$1'])" | grep -qx 1; }
node_attr() { timeout 10 crm_attribute -N "$1" -n "$2" -G -q ${3:+-l $3} 2>/dev/null; }
health_of() { timeout 10 attrd_updater -Q -N "$1" -n '#health-iscsi-mirror' 2>/dev/null | sed -n 's/.*value="\([^"]*\)".*/\1/p'; }

# ---- iSCSI ------------------------------------------------------------------------------------
peer_session() { session_of "$PEER_IQN"; }
peer_session_state() { local s; s=$(peer_session) && cat "$s/state" 2>/dev/null; }

# ---- ZFS --------------------------------------------------------------------------------------
pool_imported() { [ -d /proc/spl/kstat/zfs/$POOL ]; }
# a leaf ZFS cannot open is listed by its GUID with "was PATH" at the end of its line
san_vdev_state() { timeout 10 zpool status -P $POOL 2>/dev/null | awk -v p="$1" 'NF >= 2 && ($1 == p || ($(NF-1) == "was" && $NF == p)) {print $2; exit}'; }
remote_vdev_state() { san_vdev_state "$REMOTE_DEV"; }
local_vdev_state() { san_vdev_state "$LOCAL_DEV"; }
resilvering() { timeout 10 zpool status $POOL 2>/dev/null | grep -q 'resilver in progress'; }
# predicates for wait_until (it runs them in this shell: functions work, sh -c would not)
session_is() { [ "$(peer_session_state)" = "$1" ]; }
remote_is() { [ "$(remote_vdev_state)" = "$1" ]; }
remote_not() { [ "$(remote_vdev_state)" != "$1" ]; }
