#!/bin/bash
# The agent as a clone in a real two-node Pacemaker 2.1.5 + Corosync 3.1.7 cluster
# (crm/lab, token 4000), each node with its own simulated open-iscsi host (this kernel has
# no iSCSI): lab1 logs in to lab2's target and lab2 to lab1's. The peer is lost (its
# corosync killed, its target gone): the survivor's monitor reports a degraded mirror,
# not a failure, and makes no login attempt while the peer is away. The peer returns: the
# survivor is green again. A session fails while the peer is up: one jittered re-login.
# pcs disables the clone: everything is logged out, the health attribute cleared.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
lab_scenario iscsi-mirror-pcmk2
T0=$SECONDS
build
say "built ($((SECONDS - T0)) s)"
IQN1=iqn.2025-01.lab.home:lab1
IQN2=iqn.2025-01.lab.home:lab2
A1=192.168.77.1
A2=192.168.77.2
PORT=3260
LOG1=$LAB/n1/log-pacemaker/pacemaker.log

say "starting a two-node cluster (lab1, lab2; token 4000)"
NODES=2 TOKEN=4000 "$LABDIR/cluster-up.sh" >/dev/null
"$LABDIR/install-agent.sh" "$AGENTBIN" >/dev/null

# One simulated kernel per node, in the node's private /run; each target's portal listens
# in its own node's network namespace, so reachability goes over the lab bridge.
for n in 1 2; do
    sim_on "$n" init --binary "$SIMBIN" >/dev/null
    sim_on "$n" add-target "$IQN1" "$A1:$PORT" >/dev/null
    sim_on "$n" add-target "$IQN2" "$A2:$PORT" >/dev/null
done
listen_in 1 "$A1" "$PORT"
listen_in 2 "$A2" "$PORT"

in_lab 1 pcs resource create mirror ocf:san:iscsi-mirror \
    peers="lab1=$IQN1@$A1:$PORT lab2=$IQN2@$A2:$PORT" \
    iscsiadm="$NODE_SIM/bin/iscsiadm" host_root="$NODE_SIM" \
    noop_out_interval=2 noop_out_timeout=2 replacement_timeout=5 login_timeout=10 \
    reconnect_jitter=1000 \
    op monitor interval=3s timeout=20s clone >/dev/null

# --- 1. all healthy ----------------------------------------------------------------------
both_started() { started_on 1 mirror lab1 && started_on 1 mirror lab2; }
check "Pacemaker starts the clone on lab1 and lab2" wait_until 30 both_started
check "lab1: exactly one session, LOGGED_IN, to lab2's target" \
    test "$(sessions_on 1 LOGGED_IN "$IQN2")/$(sessions_on 1)" = "1/1"
check "lab2: exactly one session, LOGGED_IN, to lab1's target" \
    test "$(sessions_on 2 LOGGED_IN "$IQN1")/$(sessions_on 2)" = "1/1"
green_on() { [ "$(health_on "$1")" = green ]; }
both_green() { green_on 1 && green_on 2; }
check "#health-iscsi-mirror is green on both nodes" wait_until 10 both_green

# --- 2. peer loss ------------------------------------------------------------------------
# What lab1 sees when lab2 dies: lab2's target stops answering, lab1's kernel fails the
# session (noop-out timeout, ~4 s: before Corosync's token + consensus, ~8.5 s, is up),
# and lab2 leaves the membership.
say "losing lab2: its target stops answering, its corosync is killed, lab1's kernel fails the session"
logins0=$(invocations_on 1 --login)
logouts0=$(invocations_on 1 --logout)
op0=$(last_op 1 mirror lab1)
sid1=$(sid_on 1 "$IQN2")
unlisten "$A2" "$PORT"
"$LABDIR/kill-corosync.sh" 2 2>/dev/null
sim_on 1 session-state "$sid1" FAILED >/dev/null
T_LOSS=$SECONDS

# Pacemaker 2.1.5 reports a recurring monitor's result to the CIB only when its rc changes
# (execd notifies on changes only), and the CIB write of it waits until the membership has
# re-formed (token + consensus). So crm_mon shows the FIRST degraded result, taken while
# lab2 was still a member ("storage network down"), and keeps that reason; the monitor's
# later verdicts ("lab2 is offline: leg down as expected") are in pacemaker.log.
degraded_entry() { failures_on 1 mirror | grep -q '^lab1 OCF_DEGRADED 190 mirror_monitor_3000 | .*lab2'; }
check "lab1's crm_mon shows the monitor degraded (OCF_DEGRADED, 190) with a reason naming lab2" wait_until 20 degraded_entry
say "  ... $((SECONDS - T_LOSS)) s after the loss"
failures_on 1 mirror | sed 's/^/    crm_mon failure: /'
offline() { [ "$(node_online 1 lab2)" = false ]; }
check "lab1's crm_mon shows lab2 offline" wait_until 20 offline
say "  ... $((SECONDS - T_LOSS)) s after the loss"
log_off=$(wc -l <"$LOG1")
# Two monitors after lab2 went offline: both judged the leg "down as expected".
expected_twice() { [ "$(tail -n +"$((log_off + 1))" "$LOG1" | grep -c 'lab2 is offline: leg down as expected')" -ge 2 ]; }
check "with lab2 offline, lab1's monitor says \"lab2 is offline: leg down as expected\" (twice)" \
    wait_until 12 expected_twice
tail -n +"$((log_off + 1))" "$LOG1" | grep 'lab2 is offline: leg down as expected' | tail -1 | sed 's/^.*\(ocf-exit-reason:\)/    log: \1/'
failures_on 1 mirror | sed 's/^/    crm_mon failure now: /'
yellow_on() { [ "$(health_on "$1")" = yellow ]; }
check "lab1's health attribute is yellow" yellow_on 1
check "lab1's fail-count stays 0 (is $(failcount_on 1 mirror))" test "$(failcount_on 1 mirror)" = 0
check "the instance on lab1 stays Started" started_on 1 mirror lab1
op1=$(last_op 1 mirror lab1)
check "and was never restarted (last op $op0 -> $op1, logouts $logouts0 -> $(invocations_on 1 --logout))" \
    test "$op1" = "$op0" -a "$(invocations_on 1 --logout)" = "$logouts0"
check "no login storm: no login attempt to lab2 while it is down (logins $logins0 -> $(invocations_on 1 --login))" \
    test "$(invocations_on 1 --login)" = "$logins0"

# --- 3. the peer returns -----------------------------------------------------------------
# lab2 rejoins the cluster, then its target answers again (node-restart.sh kills whatever
# runs in lab2's mount namespace, a listener too, so the listener starts after it), and
# lab1's kernel, which keeps retrying a failed session's connection by itself, recovers
# the session (the sim's sessions never recover on their own: this flip is the kernel's).
say "lab2 returns: it rejoins, its target answers, lab1's kernel recovers the session"
"$LABDIR/node-restart.sh" 2 2>/dev/null
listen_in 2 "$A2" "$PORT"
sim_on 1 session-state "$sid1" LOGGED_IN >/dev/null
check "lab2's instance is Started again" wait_until 30 started_on 1 mirror lab2
check "lab2's sim has a LOGGED_IN session to lab1's target" test "$(sessions_on 2 LOGGED_IN "$IQN1")" = 1
check "lab1's health attribute turns green" wait_until 15 green_on 1
# lab2's Pacemaker restarted (its attrd with it) while the mirror kept running, and the DC
# dropped lab2's transient attributes when lab2 was lost: the agent must publish again.
check "lab2's health attribute is green again" wait_until 10 green_on 2
monitor_ok() { [ "$(monitor_rc 1 mirror lab1 3000)" = 0 ]; }
check "lab1's recurring monitor is back to success (rc-code in the CIB)" wait_until 10 monitor_ok
# crm_mon keeps showing the degraded monitor's last failure until an admin clears it, as
# for any failed operation: what an admin does now is a cleanup.
in_lab 1 crm_resource --cleanup --resource mirror >/dev/null 2>&1 || true
no_failures() { [ -z "$(failures_on 1 mirror)" ] && both_started && monitor_ok; }
check "after the admin's cleanup, no failures, Started on both, monitor ok" wait_until 20 no_failures

# --- 4. a session fails while the peer is up and reachable -------------------------------
say "lab1's session to lab2 is logged out while lab2 is online and its portal answers"
logins0=$(invocations_on 1 --login)
jitter0=$(grep -c 'reconnecting after a jitter' "$LOG1" || true)
op0=$(last_op 1 mirror lab1)
sid1=$(sid_on 1 "$IQN2")
in_lab 1 "$NODE_SIM/bin/iscsiadm" -m session -r "$sid1" -u >/dev/null
relogged() { [ "$(sessions_on 1 LOGGED_IN "$IQN2")" = 1 ]; }
check "the next monitor logs in again: LOGGED_IN to lab2's target" wait_until 15 relogged
check "with exactly one login" test "$(($(invocations_on 1 --login) - logins0))" = 1
check "lab1's pacemaker.log shows the jittered re-login" \
    test "$(grep -c 'reconnecting after a jitter' "$LOG1")" -gt "$jitter0"
grep 'reconnecting after a jitter' "$LOG1" | tail -1 | sed 's/^.*INFO: /    log: /'
undisturbed() {
    started_on 1 mirror lab1 && [ "$(last_op 1 mirror lab1)" = "$op0" ] && [ -z "$(failures_on 1 mirror)" ]
}
check "the resource stayed Started on lab1, not restarted, no failures" undisturbed
check "lab1's fail-count is 0" test "$(failcount_on 1 mirror)" = 0
check "lab1's health attribute is green" green_on 1

# --- 5. disable --------------------------------------------------------------------------
say "pcs resource disable mirror-clone"
in_lab 1 pcs resource disable mirror-clone >/dev/null
none_started() { [ "$(crm_mon_on 1 | xmllint --xpath 'count(//resource[@id="mirror"][@role="Started"])' - 2>/dev/null)" = 0 ]; }
check "Pacemaker stops it on both nodes" wait_until 30 none_started
check "no session left in either node's sim (lab1 $(sessions_on 1), lab2 $(sessions_on 2))" \
    test "$(sessions_on 1)/$(sessions_on 2)" = 0/0
check "the health attribute is cleared on both nodes" test -z "$(health_on 1)$(health_on 2)"

stop_listeners_wait
"$LABDIR/cluster-down.sh" >/dev/null 2>&1
say "run time $((SECONDS - T0)) s"
finish
