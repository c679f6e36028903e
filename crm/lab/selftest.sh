#!/bin/bash
# selftest.sh - bring the lab up and down at NODES=1 and NODES=2 and check that each
# works and leaves nothing behind: no recorded PID alive, no process with a lab mount,
# no imlab-* network namespace, no libqb file of a lab PID in /dev/shm, nothing written
# to the host's /var/lib/pacemaker, /var/lib/corosync or /usr/lib/ocf/resource.d.
# Also: install-agent.sh visibility (Dummy stands in for the agent), a clone of
# ocf:san:iscsi-mirror started by pacemaker-execd, kill-corosync.sh + node-restart.sh.
# Exit 0 only if every check passed. Uses its own LAB dir (removed at the end).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
export LAB=${LAB:-/tmp/iscsi-mirror-lab-selftest}
. "$HERE/lib.sh"
need_root; need_tools
fail=0
check() { # check NAME CMD...
    local n=$1; shift
    if "$@" > /dev/null 2>&1; then echo "  ok   $n"; else echo "  FAIL $n"; fail=1; fi
}
timed() { # [NODES=N] timed SCRIPT ARGS...: run a lab script, print its wall time
    local s=$1 t rc=0; shift
    t=$(now)
    "$HERE/$s" "$@" > "$LAB.last.log" 2>&1 || rc=$?
    echo "  ${NODES:+NODES=$NODES }$s $* rc=$rc in $(since "$t")s"
    [ $rc = 0 ] || { tail -20 "$LAB.last.log" | sed 's/^/    | /'; fail=1; }
    return 0
}
recorded_pids() { cat "$LAB"/n*/pids 2>/dev/null | cut -d= -f2; }
none_alive() { local p; for p in "$@"; do ! alive "$p" || return 1; done; }
no_lab_mounts() { ! grep -qs " $LAB/" /proc/[0-9]*/mountinfo; }
no_netns() { ! ip netns list | grep -q "^$NS_PREFIX-"; }
no_qb_files() { local p; for p in "$@"; do ! ls /dev/shm/qb-"$p"-* /dev/shm/qb-*-"$p"-* > /dev/null 2>&1 || return 1; done; }
host_state_clean() {
    [ -z "$(find /var/lib/pacemaker/cib /var/lib/pacemaker/pengine /var/lib/corosync -mindepth 1 2>/dev/null)" ] &&
    [ ! -e "$OCF_RD/san" ] && ! corosync-cmapctl -g totem.cluster_name
}
node_online_count() { # node_online_count N COUNT
    [ "$("$HERE/lab-exec.sh" "$1" crm_mon -1 --output-as=xml | xp 'count(//nodes/node[@online="true"])')" = "$2" ]
}
clone_started_on() { # clone_started_on N COUNT: ocf:san:iscsi-mirror instances Started
    [ "$("$HERE/lab-exec.sh" "$1" crm_mon -1 --output-as=xml |
        xp 'count(//resource[@resource_agent="ocf:san:iscsi-mirror"][@role="Started"])')" = "$2" ]
}
peer_offline() { "$HERE/lab-exec.sh" 1 crm_mon -1 --output-as=xml | grep -q '<node name="lab2" id="2" online="false"'; }
after_down() { # after_down PIDS...
    check "recorded PIDs gone ($*)" none_alive "$@"
    check "no process holds a lab mount" no_lab_mounts
    check "no $NS_PREFIX-* netns" no_netns
    check "no libqb file of a lab PID in /dev/shm" no_qb_files "$@"
    check "host state untouched" host_state_clean
}

T0=$(now)
"$HERE/cluster-down.sh" > /dev/null 2>&1 || true
check "host clean before" host_state_clean

echo "== NODES=1"
NODES=1 timed cluster-up.sh
timed install-agent.sh /usr/lib/ocf/resource.d/heartbeat/Dummy
check "host crm_mon: lab1 online" node_online_count 1 1
check "host corosync-cmapctl: token 4000" sh -c 'corosync-cmapctl -g runtime.config.totem.token | grep -qx "runtime.config.totem.token (u32) = 4000"'
check "agent visible in lab1" "$HERE/lab-exec.sh" 1 test -x "$OCF_RD/san/iscsi-mirror"
check "agent NOT on the host" test ! -e "$OCF_RD/san"
check "pcs creates an ocf:san:iscsi-mirror clone" "$HERE/lab-exec.sh" 1 pcs resource create mirror ocf:san:iscsi-mirror clone
check "pacemaker-execd started it" wait_until 30 clone_started_on 1 1
pids=$(recorded_pids)
timed kill-corosync.sh 1
timed node-restart.sh 1
check "lab1 online again, clone started" wait_until 30 clone_started_on 1 1
pids="$pids $(recorded_pids)"
NODES=1 timed cluster-up.sh      # a running lab is replaced
check "old PIDs gone after re-up" none_alive $pids
pids="$pids $(recorded_pids)"
timed cluster-down.sh
timed cluster-down.sh            # second down is a no-op
# shellcheck disable=SC2086
after_down $pids

echo "== NODES=2"
NODES=2 timed cluster-up.sh
check "lab1 sees 2 online" node_online_count 1 2
check "lab2 sees 2 online" node_online_count 2 2
check "pcs creates an ocf:san:iscsi-mirror clone" "$HERE/lab-exec.sh" 1 pcs resource create mirror ocf:san:iscsi-mirror clone
check "clone started on both" wait_until 30 clone_started_on 1 2
pids=$(recorded_pids)
timed kill-corosync.sh 2
check "lab1 sees lab2 offline (bounded 30s)" wait_until 30 peer_offline
timed node-restart.sh 2
check "lab1 sees 2 online again" node_online_count 1 2
check "clone started on both again" wait_until 30 clone_started_on 1 2
pids="$pids $(recorded_pids)"
timed cluster-down.sh
timed cluster-down.sh
# shellcheck disable=SC2086
after_down $pids

rm -rf "$LAB" "$LAB.last.log"
echo "selftest: $([ $fail = 0 ] && echo PASS || echo FAIL) in $(since "$T0")s"
exit $fail
