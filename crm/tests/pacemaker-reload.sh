#!/bin/bash
# reload-agent under a real single-node Pacemaker 2.1.5 + Corosync (crm/lab), against the
# simulated open-iscsi host: Pacemaker reads the OCF 1.1 meta-data (it passes
# OCF_RA_VERSION 1.1 to meta-data calls too), so `pcs resource update` of timers runs
# reload-agent instead of a restart: no logout, the same session, new values in the node
# records and in sysfs recovery_tmo. A change of a non-reloadable parameter still restarts.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
single_node_lab iscsi-mirror-reload

# What Pacemaker's tools get: crm_resource runs the agent through libcrmservice (as the
# controller does), pcs through crm_resource.
md=$(in1 crm_resource --show-metadata ocf:san:iscsi-mirror)
check "crm_resource --show-metadata gets the OCF 1.1 form (reload-agent)" grep -q '<action name="reload-agent"' <<<"$md"
check "... with reloadable=\"1\" on the timers" grep -q '<parameter name="noop_out_interval" unique="0" required="0" reloadable="1">' <<<"$md"
check "... and without ra-api-1.dtd's DOCTYPE" bash -c '! grep -q "<!DOCTYPE" <<<"$1"' _ "$md"
describe=$(in1 pcs resource describe ocf:san:iscsi-mirror --full 2>&1 || true)
check "pcs resource describe accepts it (validated against pcs's OCF 1.1 schema)" grep -q "reload-agent" <<<"$describe"
plain=$("$AGENTBIN" meta-data)
check "a plain shell gets the ra-api-1.dtd form" bash -c 'grep -q "<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">" <<<"$1" && ! grep -q reload-agent\" <<<"$1"' _ "$plain"

create_mirror "noop_out_interval=5 noop_out_timeout=5 replacement_timeout=120 login_timeout=15"
check "Pacemaker starts the clone on lab1" wait_until 30 started_on 1 mirror lab1

# session SID RECOVERY_TMO RECV_TMO PING_TMO of the one session
session() {
    sim sessions | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(len(s), *([s[0]["sid"], s[0]["recovery_tmo"], s[0]["recv_tmo"], s[0]["ping_tmo"]] if s else []))'
}
record() { # KEY: the value in storage-b's node record
    sim node-record "$IQN_B" "127.0.0.2:$PB" | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}
ops() { grep -c "Result of $1 operation for mirror" "$PLOG" || true; }

read -r n sid rtmo recv ping <<<"$(session)"
check "one session (sid $sid), started with recovery_tmo 120, recv_tmo 5, ping_tmo 5" test "$n $rtmo $recv $ping" = "1 120 5 5"
starts=$(ops start); stops=$(ops stop); reloads=$(ops reload-agent)
logouts=$(sim_calls --logout); logins=$(sim_calls --login)
say "pcs resource update mirror noop_out_interval=2 noop_out_timeout=2 replacement_timeout=5 login_timeout=10"
in1 pcs resource update mirror noop_out_interval=2 noop_out_timeout=2 replacement_timeout=5 login_timeout=10 >/dev/null
reloaded() { [ "$(ops reload-agent)" -gt "$reloads" ]; }
check "Pacemaker runs reload-agent" wait_until 30 reloaded
grep -h "Result of reload-agent operation for mirror" "$PLOG" | tail -1 | sed 's/^/    log: /'
sleep 4 # a monitor interval: a restart, had one been scheduled, would show now
check "and neither stop nor start" test "$(ops stop) $(ops start)" = "$stops $starts"
check "iscsiadm logout never ran" test "$(sim_calls --logout)" = "$logouts"
check "nor a login" test "$(sim_calls --login)" = "$logins"
read -r n2 sid2 rtmo2 recv2 ping2 <<<"$(session)"
check "the same session (sid $sid2 = $sid)" test "$n2 $sid2" = "1 $sid"
check "sysfs recovery_tmo is 5 (was 120)" test "$rtmo2" = 5
check "the live connection keeps recv_tmo/ping_tmo 5/5 until its next login" test "$recv2 $ping2" = "5 5"
for kv in node.conn[0].timeo.noop_out_interval=2 node.conn[0].timeo.noop_out_timeout=2 \
          node.session.timeo.replacement_timeout=5 node.conn[0].timeo.login_timeout=10; do
    check "node record: $kv" test "$(record "${kv%=*}")" = "${kv#*=}"
done
check "the agent said what waits for the next login (pacemaker.log)" \
    grep -q "reloaded without logout: .*noop_out_interval, noop_out_timeout, login_timeout at the next login of" "$PLOG"
grep -h "reloaded without logout" "$PLOG" | tail -1 | sed 's/.*reload-agent: /    log: /'
check "the resource stays Started without failures" bash -c "crm_mon -1 --output-as=xml | xmllint --xpath '//failure' - >/dev/null 2>&1 && exit 1; crm_mon -1 --output-as=xml | grep -q 'role=\"Started\"'"

say "pcs resource update mirror peers=... (not reloadable: the legs it names)"
starts=$(ops start); stops=$(ops stop); logouts=$(sim_calls --logout)
in1 pcs resource update mirror peers="storage-b=$IQN_B@127.0.0.2:$PB lab1=$IQN_A@127.0.0.1:$PA" >/dev/null
restarted() { [ "$(ops start)" -gt "$starts" ] && [ "$(ops stop)" -gt "$stops" ]; }
check "Pacemaker restarts it (stop, start)" wait_until 30 restarted
check "Started again" wait_until 20 started_on 1 mirror lab1
check "with a logout" test "$(sim_calls --logout)" -gt "$logouts"
read -r n3 sid3 rtmo3 recv3 ping3 <<<"$(session)"
check "a new session (sid $sid3) runs every new timer: recovery_tmo 5, recv_tmo 2, ping_tmo 2" \
    test "$n3 $rtmo3 $recv3 $ping3" = "1 5 2 2" -a "$sid3" != "$sid"

in1 pcs resource disable mirror-clone >/dev/null
check "disable stops it and logs out" wait_until 30 bash -c "[ \"\$($SIMBIN --root $WORK/host sessions)\" = '[]' ]"
finish
