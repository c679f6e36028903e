#!/bin/bash
# Node health under a real single-node Pacemaker 2.1.5 + Corosync (crm/lab), against the
# simulated open-iscsi host. The agent publishes #health-iscsi-mirror (green, yellow, red).
# The cluster: node-health-strategy=progressive node-health-base=100 node-health-yellow=-50
# node-health-red=-INFINITY (step 3: -100); the clone with allow-unhealthy-nodes=true and
# failure-timeout=15s; ocf:pacemaker:Dummy "svc" stands for the pool and its services.
# 1. yellow (storage link cut): lab1 stays eligible (health 50): nothing moves or stops.
# 2. red (storage-b refuses our CHAP: the monitor returns 1): the scheduler recovers the
#    clone instance in place; red = -INFINITY bans svc while it lasts. The recovery's start
#    meets the same refusal and fails; once the refusal ends the instance starts again by
#    itself (failure-timeout) and turns green, without a cleanup.
# 3. red = -100 (health 0): the same red stops nothing.
# 4. controls, the configurations the guide warns against: without allow-unhealthy-nodes
#    a red mirror is stopped on its own node by the health ban; without node-health-base
#    a yellow mirror bans svc from its node, and, without allow-unhealthy-nodes, the agent
#    itself, which then flaps (each stop a logout).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
single_node_lab iscsi-mirror-health

in1 pcs property set node-health-strategy=progressive node-health-base=100 \
    node-health-yellow=-50 node-health-red=-INFINITY
in1 pcs resource create svc ocf:pacemaker:Dummy op monitor interval=5s >/dev/null
create_mirror "noop_out_interval=2 noop_out_timeout=2 replacement_timeout=5 login_timeout=10" \
    allow-unhealthy-nodes=true failure-timeout=15s
both_started() { started_on 1 mirror lab1 && started_on 1 svc lab1; }
check "Pacemaker starts svc and the clone on lab1" wait_until 30 both_started
is_health() { [ "$(health_on 1)" = "$1" ]; }
check "the mirror is green" wait_until 15 is_health green

sid_now() { sim sessions | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s[0]["sid"] if s else "")'; }
# runs_since MARK : the scheduler's runs since log line MARK, one a line:
#   HEALTH | ACTION; ACTION; ...    (HEALTH empty: Pacemaker logs none for a score of 0)
runs_since() {
    pcmk_log_since "$1" | awk '
        /Applying node health strategy/ { if (run) print h " |" a; run = 1; h = ""; a = "" }
        /Overall system health of lab1 is/ { h = $NF }
        /log_list_item.*Actions:/ && run { l = $0; sub(/.*Actions: */, "", l); gsub(/  +/, " ", l); a = a " " l ";" }
        END { if (run) print h " |" a }'
}
# decided MARK HEALTH REGEX : a scheduler run since MARK at HEALTH ("" none logged, "*" any)
# decided REGEX
decided() {
    local h=$2
    [ "$h" = '*' ] && h='[^|]*'
    runs_since "$1" | grep -E "^$h \\|" | grep -qE "$3"
}
not_decided() { ! decided "$@"; }
show_runs() { runs_since "$1" | { grep ';' || echo ' | (no actions)'; } | head -"${2:-6}" | sed 's/^/    scheduler: health /'; }
logged() { pcmk_log_since "$1" | grep -q "$2"; }
health_ban='due to node availability'

say "1. the storage link to storage-b is cut: yellow"
m=$(log_mark); logouts=$(sim_calls --logout)
unlisten 127.0.0.2 "$PB"
sim session-state "$(sid_now)" FAILED >/dev/null
check "the health attribute turns yellow" wait_until 20 is_health yellow
sleep 8 # monitors and scheduler runs
show_runs "$m" 3
check "the scheduler sees lab1's health at 100 - 50 = 50" decided "$m" 50 ''
check "and stops nothing for it" not_decided "$m" '*' "Stop (svc|mirror:0) .*$health_ban"
check "svc and the mirror stay Started on lab1" both_started
check "still yellow, and no logout" test "$(health_on 1) $(sim_calls --logout)" = "yellow $logouts"
listen 127.0.0.2 "$PB"
sim session-state "$(sid_now)" LOGGED_IN >/dev/null
check "the link back: green again" wait_until 20 is_health green
in1 crm_resource --cleanup --resource mirror >/dev/null 2>&1 || true

chap_refused() { # storage-b refuses our CHAP from now on; the session is gone
    sim fault auth-fail "$IQN_B" >/dev/null
    "$WORK/host/bin/iscsiadm" -m session -r "$(sid_now)" -u >/dev/null
}
monitor_failed='Result of monitor operation for mirror on lab1: error (login to 127.0.0.2:[0-9]*: CHAP authentication failed'
red_set='Setting #health-iscsi-mirror\[lab1\]: .* -> red'

say "2. storage-b refuses our CHAP (red = -INFINITY, allow-unhealthy-nodes=true)"
m=$(log_mark)
chap_refused
check "the monitor fails (1): a login cannot cure it" wait_until 20 logged "$m" "$monitor_failed"
check "the agent publishes red" wait_until 10 logged "$m" "$red_set"
sleep 2
show_runs "$m" 3
check "at lab1's health -INFINITY the scheduler recovers the instance in place" decided "$m" -1000000 'Recover mirror:0 \( lab1 \)'
check "and does not stop it for the node's health" not_decided "$m" -1000000 "Stop mirror:0 .*$health_ban"
check "red = -INFINITY bans svc from lab1 while it lasts (the guide says why not)" decided "$m" -1000000 "Stop svc \\( lab1 \\) $health_ban"
check "the recovery's start meets the same refusal and fails" wait_until 20 logged "$m" 'Result of start operation for mirror on lab1: error (login to 127.0.0.2:[0-9]*: CHAP'
check "its stop cleared the attribute" test -z "$(health_on 1)"
say "storage-b accepts our CHAP again; no cleanup"
sim fault clear >/dev/null
t0=$SECONDS
check "the instance starts again by itself on lab1 (failure-timeout 15 s)" wait_until 60 started_on 1 mirror lab1
green_again() { [ "$(sessions_in LOGGED_IN)" = 1 ] && is_health green; }
check "logged in, green" wait_until 20 green_again
say "green $((SECONDS - t0)) s after the refusal ended"
check "svc is Started on lab1" started_on 1 svc lab1

say "3. the same with node-health-red=-100 (lab1's health 100 - 100 = 0)"
in1 pcs property set node-health-red=-100
m=$(log_mark)
chap_refused
check "the monitor fails" wait_until 20 logged "$m" "$monitor_failed"
check "red is published" wait_until 10 logged "$m" "$red_set"
sleep 2
show_runs "$m" 3
check "the instance is recovered in place" decided "$m" '' 'Recover mirror:0 \( lab1 \)'
check "and svc is not stopped" not_decided "$m" '*' "Stop svc"
sim fault clear >/dev/null
in1 crm_resource --cleanup --resource mirror >/dev/null 2>&1 || true
check "green again" wait_until 40 green_again

say "4a. control: red = -INFINITY, without allow-unhealthy-nodes"
in1 pcs property set node-health-red=-INFINITY
in1 crm_resource --meta --resource mirror-clone --set-parameter allow-unhealthy-nodes --parameter-value false >/dev/null
m=$(log_mark)
chap_refused
check "red is published" wait_until 20 logged "$m" "$red_set"
sleep 2
show_runs "$m" 3
check "the health ban stops the agent on its own node" decided "$m" -1000000 "Stop mirror:0 \\( lab1 \\) +$health_ban"
sim fault clear >/dev/null
in1 crm_resource --cleanup --resource mirror >/dev/null 2>&1 || true
check "green again" wait_until 40 green_again

say "4b. control: no node-health-base, yellow = -100 (lab1's health -100 when yellow)"
in1 pcs property set node-health-base=0 node-health-yellow=-100
in1 crm_resource --meta --resource mirror-clone --set-parameter allow-unhealthy-nodes --parameter-value true >/dev/null
m=$(log_mark)
unlisten 127.0.0.2 "$PB"
sim session-state "$(sid_now)" FAILED >/dev/null
check "yellow" wait_until 20 is_health yellow
sleep 4
show_runs "$m" 3
check "a yellow mirror bans svc from lab1" decided "$m" -100 "Stop svc \\( lab1 \\) $health_ban"
svc_stopped() { ! started_on 1 svc lab1; }
check "svc is not running: a surviving storage node would stop its pool" wait_until 10 svc_stopped
check "the agent itself stays (allow-unhealthy-nodes)" started_on 1 mirror lab1
say "4c. ... and without allow-unhealthy-nodes the agent flaps"
in1 crm_resource --meta --resource mirror-clone --set-parameter allow-unhealthy-nodes --parameter-value false >/dev/null
m=$(log_mark)
sleep 12
flaps=$(pcmk_log_since "$m" | grep -c "Result of stop operation for mirror on lab1: ok" || true)
check "the mirror is stopped by the health ban, clears its attribute, starts, is banned again: $flaps stops in 12 s" test "$flaps" -ge 2
listen 127.0.0.2 "$PB"
in1 crm_resource --meta --resource mirror-clone --set-parameter allow-unhealthy-nodes --parameter-value true >/dev/null
in1 pcs property set node-health-base=100 node-health-yellow=-50

in1 pcs resource disable mirror-clone >/dev/null
disabled() { [ -z "$(health_on 1)" ] && [ "$(session_count)" = 0 ]; }
check "disable stops the mirror, logs out and clears the attribute" wait_until 30 disabled
finish
