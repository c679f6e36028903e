#!/bin/bash
# The agent under a real single-node Pacemaker + Corosync (crm/lab), against the simulated
# open-iscsi host (this kernel has no iSCSI) and its zpool stand-in: pcs creates it as a
# clone with its pool, Pacemaker starts it, the recurring monitor sees a failed session
# and reports it as the monitor table says, and when the link returns brings the pool's
# vdev back itself (zpool online) and tracks the resilver to green; pcs disables it, pcs
# describes every parameter.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
single_node_lab iscsi-mirror-pcmk
# DEMO=1 (make demo) shows what an admin would look at, at each step.
show() {
    [ "${DEMO:-0}" = 1 ] || return 0
    printf '\n    $ %s\n' "$*"
    in1 "$@" 2>&1 | sed 's/^/    /' || true
    echo
}
health() { in1 attrd_updater -Q -n '#health-iscsi-mirror' -N lab1 2>/dev/null | sed -n 's/.*value="\([^"]*\)".*/\1/p'; }

describe=$(in1 pcs resource describe ocf:san:iscsi-mirror --full 2>&1 || true)
missing=""
for p in $("$AGENTBIN" meta-data | xmllint --xpath '//parameter/@name' - | sed 's/ name="\([^"]*\)"/\1 /g'); do
    grep -q "^  $p:" <<<"$describe" || missing="$missing $p"
done
check "pcs resource describe shows every parameter${missing:+ (missing:$missing)}" test -z "$missing"

create_mirror "noop_out_interval=2 noop_out_timeout=2 replacement_timeout=5 login_timeout=10 pool=san-pool zpool=$WORK/host/bin/zpool"
check "Pacemaker starts the clone on lab1" wait_until 30 started_on 1 mirror lab1
check "one session, to storage-b only, LOGGED_IN" test "$(sessions_in LOGGED_IN)/$(session_count)" = "1/1"
sid=$(sim sessions | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["sid"])')
say "san-pool: a mirror of this node's disk and storage-b's disk over the session"
REMOTE=$(sim pool-create san-pool /dev/vdb1 "session:$sid" | tail -1)
zpool_online_runs() { sim zpool-invocations | python3 -c 'import json,sys; print(sum(1 for i in json.load(sys.stdin) if i["argv"][1:2] == ["online"]))'; }
show crm_mon -1
show "$AGENTBIN" status --node lab1
show "$AGENTBIN" check-timeouts --host-root "$WORK/host" --iscsiadm "$WORK/host/bin/iscsiadm"
check "the recurring monitor keeps it Started with no failure" bash -c "sleep 4; [ -z \"\$(crm_mon -1 --output-as=xml | xmllint --xpath '//failure' - 2>/dev/null)\" ]"

say "cutting the storage link to storage-b: portal stops answering, the kernel fails the session, ZFS faults storage-b's half"
unlisten 127.0.0.2 "$PB"
sim session-state "$sid" FAILED >/dev/null
sim pool-fault san-pool "$REMOTE" >/dev/null
degraded_seen() { failure_reason 1 mirror | grep -q "storage network down"; }
check "crm_mon shows the monitor's degraded result with the agent's exit reason" wait_until 20 degraded_seen
say "crm_mon: $(crm_mon_on 1 | xmllint --xpath '//failure[starts-with(@op_key,"mirror_")]' - 2>/dev/null | head -1)"
yellow() { [ "$(health)" = yellow ]; }
check "the health attribute turns yellow" wait_until 10 yellow
show crm_mon -1
show "$AGENTBIN" status --node lab1
check "a degraded leg does not stop the resource" started_on 1 mirror lab1
failcount() { in1 crm_failcount --query -r mirror -N lab1 2>/dev/null | sed -n 's/.*value=\([0-9A-Za-z]*\).*/\1/p'; }
check "and counts no failure (fail-count $(failcount))" test "$(failcount)" = 0

say "restoring the link: the session recovers; ZFS leaves the vdev FAULTED (as it does on real hardware)"
listen 127.0.0.2 "$PB"
sim session-state "$sid" LOGGED_IN >/dev/null
onlined() { [ "$(zpool_online_runs)" = 1 ]; }
check "the agent brings storage-b's half back itself (zpool online, after two stable monitor intervals)" wait_until 30 onlined
sleep 4
check "with exactly one zpool online" onlined
grep -h "zpool online san-pool" "$LAB"/n1/log-pacemaker/pacemaker.log | tail -1 | sed 's/.*INFO: /    log: /'
sim pool-resilver san-pool 45 >/dev/null
resilver_seen() { "$AGENTBIN" status --node lab1 >"$WORK/status.out" 2>&1; grep -q "resilvering san-pool: 45% done" "$WORK/status.out"; }
check "while ZFS resilvers, iscsi-mirror status says how far (45% done)" wait_until 20 resilver_seen
grep -q "resilvering san-pool" "$WORK/status.out" || sed 's/^/    status: /' "$WORK/status.out"
show "$AGENTBIN" status --node lab1
sim pool-resilver san-pool finish >/dev/null
green() { [ "$(health)" = green ]; }
check "resilvered: the health attribute is green again" wait_until 20 green
in1 crm_resource --cleanup --resource mirror >/dev/null 2>&1 || true
check "after recovery and cleanup, Started with no failures" wait_until 20 bash -c "crm_mon -1 --output-as=xml | xmllint --xpath '//failure' - >/dev/null 2>&1 && exit 1; crm_mon -1 --output-as=xml | grep -q 'role=\"Started\"'"

say "the session vanishes while the portal answers: the monitor logs in again (jittered)"
logins_before=$(sim invocations | grep -c -- '--login' || true)
sim session-state "$sid" FREE >/dev/null
"$WORK/host/bin/iscsiadm" -m session -r "$sid" -u >/dev/null
one_logged_in() { [ "$(sessions_in LOGGED_IN)" = 1 ]; }
check "the monitor logged in again" wait_until 20 one_logged_in
check "with exactly one login" test "$(( $(sim invocations | grep -c -- '--login') - logins_before ))" = 1
check "and the resource stayed Started without failures" bash -c "crm_mon -1 --output-as=xml | xmllint --xpath '//failure' - >/dev/null 2>&1 && exit 1 || exit 0"
check "the jittered re-login is in pacemaker.log" grep -q "reconnecting after a jitter" "$LAB"/n1/log-pacemaker/pacemaker.log
grep -h "reconnecting after a jitter" "$LAB"/n1/log-pacemaker/pacemaker.log | tail -1 | sed 's/.*INFO: /    log: /'

check "the health attribute is green" test "$(health)" = green

say "pcs resource disable"
in1 pcs resource disable mirror-clone >/dev/null
check "Pacemaker stops it" wait_until 30 bash -c "[ \"\$(crm_mon -1 --output-as=xml | xmllint --xpath 'count(//resource[@id=\"mirror\"][@role=\"Started\"])' - 2>/dev/null)\" = 0 ]"
check "the sessions are logged out" test "$(session_count)" = 0
check "the health attribute is cleared" test -z "$(health)"
finish
