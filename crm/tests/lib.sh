# crm/tests/lib.sh - helpers for the scenario scripts that run the agent under real
# Pacemaker (sourced). Every wait is bounded; every check prints PASS or FAIL.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LABDIR=$TOP/crm/lab
SIMBIN=$TOP/target/release/iscsi-simhost
AGENTBIN=$TOP/target/release/iscsi-mirror
PASSED=0
FAILED=0
LISTENERS=()

say() { printf '[%s] %s\n' "$(date +%T)" "$*"; }
pass() { PASSED=$((PASSED + 1)); say "PASS: $*"; }
fail() { FAILED=$((FAILED + 1)); say "FAIL: $*"; }
check() { # DESCRIPTION CMD... : PASS if CMD succeeds
    local what=$1; shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}

# wait_until SECONDS CMD... : poll CMD every 0.5 s until it succeeds or time is up
wait_until() {
    local limit=$1; shift
    local end=$((SECONDS + limit))
    while [ $SECONDS -lt $end ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    "$@" >/dev/null 2>&1
}

# build : the agent and the simulated host (both binaries, release).
build() {
    (cd "$TOP" && cargo build --release --locked -q -p iscsi-mirror -p iscsi-simhost \
        --bin iscsi-mirror --bin iscsi-simhost)
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# listen ADDR PORT : a TCP listener standing for a peer's target portal
listen() {
    local pidfile="$WORK/listener-$1-$2.pid"
    rm -f "$pidfile"
    python3 "$TOP/ocf/portal-listener.py" "$1" "$2" "$pidfile" &
    LISTENERS+=("$pidfile")
    local i
    for i in $(seq 1 50); do [ -s "$pidfile" ] && return 0; sleep 0.1; done
    echo "listener on $1:$2 did not start" >&2
    return 1
}

unlisten() { # ADDR PORT
    local pidfile="$WORK/listener-$1-$2.pid"
    [ -s "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
    sleep 0.2
}

stop_listeners() {
    local p
    for p in "${LISTENERS[@]}"; do
        [ -s "$p" ] && kill "$(cat "$p")" 2>/dev/null || true
    done
}

sim() { "$SIMBIN" --root "$WORK/host" "$@"; }

# sessions_in STATE : number of simulated sessions in that kernel state
sessions_in() {
    sim sessions | python3 -c 'import json,sys; print(sum(1 for s in json.load(sys.stdin) if s["state"]==sys.argv[1]))' "$1"
}
session_count() { sim sessions | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
# sim_calls ARG : how many of the simulated iscsiadm's invocations had ARG (e.g. --logout)
sim_calls() { sim invocations | python3 -c 'import json,sys; print(sum(1 for i in json.load(sys.stdin) if sys.argv[1] in i["argv"]))' "$1"; }
# pcmk_log_since LINE : pacemaker.log ($PLOG) after line LINE; log_mark : its length now
pcmk_log_since() { tail -n +"$(($1 + 1))" "$PLOG"; }
log_mark() { wc -l <"$PLOG"; }

# crm_mon_on N : one-shot crm_mon XML as node N sees it
crm_mon_on() { "$LABDIR/lab-exec.sh" "$1" crm_mon -1 --output-as=xml 2>/dev/null; }

# resource_role N RSC : roles of RSC's instances as node N's crm_mon shows them, e.g. "Started Started"
resource_roles() {
    crm_mon_on "$1" | xmllint --xpath "//resource[@id='$2']/@role" - 2>/dev/null | sed 's/ role="\([^"]*\)"/\1 /g' | xargs
}

# started_on N RSC NODE : RSC runs on NODE per node N's crm_mon
started_on() {
    crm_mon_on "$1" | xmllint --xpath "count(//resource[@id='$2'][@role='Started']/node[@name='$3'])" - 2>/dev/null | grep -qx '[1-9][0-9]*'
}

failure_reason() { # N RSC : exit reasons of RSC's failed operations
    crm_mon_on "$1" | xmllint --xpath "//failure[starts-with(@op_key,'$2_')]/@exitreason" - 2>/dev/null | sed 's/ exitreason="\([^"]*\)"/\1\n/g'
}

finish() {
    say "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}

# --- helpers for multi-node labs (crm/tests/pacemaker-two-node.sh) ---------------------
# Every lab node has a private /run; its simulated open-iscsi host lives there, so one
# clone's parameters (host_root, iscsiadm) name a different simulated kernel on each node.
NODE_SIM=/run/iscsi-sim

in_lab() { local n=$1; shift; "$LABDIR/lab-exec.sh" "$n" "$@"; } # N CMD... : inside lab node N
sim_on() { local n=$1; shift; in_lab "$n" "$SIMBIN" --root "$NODE_SIM" "$@"; } # N ARGS...

# sessions_on N [STATE [IQN]] : number of node N's simulated sessions (in STATE, to IQN)
sessions_on() {
    sim_on "$1" sessions | python3 -c '
import json, sys
want = sys.argv[1:]
print(sum(1 for s in json.load(sys.stdin)
          if (len(want) < 1 or want[0] in ("", s["state"])) and (len(want) < 2 or s["iqn"] == want[1])))' "${@:2}"
}
# sid_on N IQN : the SID of node N's (first) session to IQN
sid_on() {
    sim_on "$1" sessions | python3 -c '
import json, sys
print(next((s["sid"] for s in json.load(sys.stdin) if s["iqn"] == sys.argv[1]), ""))' "$2"
}
# invocations_on N ARG : how many of node N's iscsiadm invocations had ARG (e.g. --login)
invocations_on() {
    sim_on "$1" invocations | python3 -c '
import json, sys
print(sum(1 for i in json.load(sys.stdin) if sys.argv[1] in i["argv"]))' "$2"
}

# listen_in N ADDR PORT : a target portal's listener inside node N's network namespace
# (reachability then goes over the lab bridge); stopped by stop_listeners / unlisten
# (node-restart.sh N kills everything in node N's mount namespace, its listener too)
listen_in() {
    local n=$1 pidfile="$WORK/listener-$2-$3.pid" out="$WORK/listener-$2-$3.out"
    rm -f "$pidfile"
    # its own output file, so that the listener never holds the caller's stdout (a pipe)
    in_lab "$n" python3 "$TOP/ocf/portal-listener.py" "$2" "$3" "$pidfile" </dev/null >"$out" 2>&1 &
    [[ " ${LISTENERS[*]} " == *" $pidfile "* ]] || LISTENERS+=("$pidfile")
    local i
    for i in $(seq 1 50); do [ -s "$pidfile" ] && return 0; sleep 0.1; done
    echo "listener on $2:$3 in lab$n did not start: $(cat "$out")" >&2
    return 1
}

# stop_listeners_wait : stop_listeners, then wait (up to 5 s) until they are gone, so that
# a later sweep of the lab's processes (cluster-down.sh) finds none of them
stop_listeners_wait() {
    local p pids=()
    for p in "${LISTENERS[@]}"; do [ -s "$p" ] && pids+=("$(cat "$p")"); done
    stop_listeners
    for p in "${pids[@]}"; do
        local i
        for i in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    done
    return 0
}

# health_on N : node labN's #health-iscsi-mirror as its own attrd holds it (empty if unset)
health_on() {
    in_lab "$1" attrd_updater -Q -n '#health-iscsi-mirror' -N "lab$1" 2>/dev/null |
        sed -n 's/.*value="\([^"]*\)".*/\1/p'
}
# failcount_on N RSC : RSC's fail-count on labN, as node N sees it
failcount_on() {
    in_lab "$1" crm_failcount --query -r "$2" -N "lab$1" 2>/dev/null | sed -n 's/.*value=\([0-9A-Za-z]*\).*/\1/p'
}
# node_online N NODE : NODE is online per node N's crm_mon ("true"/"false")
node_online() {
    crm_mon_on "$1" | xmllint --xpath "string(//nodes/node[@name='$2']/@online)" - 2>/dev/null
}
# last_op N RSC NODE : "operation:call-id" of RSC's last non-recurring operation on NODE in
# node N's CIB (a restart shows as a new start with a new call-id)
last_op() {
    in_lab "$1" cibadmin -Q 2>/dev/null | xmllint --xpath \
        "concat(//node_state[@uname='$3']//lrm_resource[@id='$2']/lrm_rsc_op[@id='$2_last_0']/@operation, ':', //node_state[@uname='$3']//lrm_resource[@id='$2']/lrm_rsc_op[@id='$2_last_0']/@call-id)" - 2>/dev/null
}
# failures_on N RSC : RSC's failure entries in node N's crm_mon, one per line
#   node exitstatus exitcode op_key | exitreason
failures_on() {
    crm_mon_on "$1" | python3 -c '
import sys, xml.etree.ElementTree as ET
for f in ET.parse(sys.stdin).iter("failure"):
    if f.get("op_key", "").startswith(sys.argv[1] + "_"):
        print(f.get("node"), f.get("exitstatus"), f.get("exitcode"), f.get("op_key"), "|", f.get("exitreason", ""))' "$2"
}
# monitor_rc N RSC NODE INTERVAL_MS : rc-code of RSC's recurring monitor on NODE as recorded
# in node N's CIB (Pacemaker records a recurring result when it changes)
monitor_rc() {
    in_lab "$1" cibadmin -Q 2>/dev/null | xmllint --xpath \
        "string(//node_state[@uname='$3']//lrm_resource[@id='$2']/lrm_rsc_op[@id='$2_monitor_$4']/@rc-code)" - 2>/dev/null
}

# single_node_lab NAME : what the one-node scenarios share: lab_scenario NAME, the two
# binaries, the simulated host with lab1's own target (IQN_A at 127.0.0.1:PA) and
# storage-b's (IQN_B at 127.0.0.2:PB) behind live listeners, Corosync + Pacemaker up on
# lab1 (token 4000) and the agent installed. Sets IQN_A IQN_B PA PB PEERS PLOG.
single_node_lab() {
    lab_scenario "$1"
    build
    IQN_A=iqn.2025-01.lab.home:lab1
    IQN_B=iqn.2025-01.lab.home:storage-b
    PA=$(free_port); PB=$(free_port)
    listen 127.0.0.1 "$PA"
    listen 127.0.0.2 "$PB"
    sim init --binary "$SIMBIN" >/dev/null
    sim add-target "$IQN_A" "127.0.0.1:$PA" >/dev/null
    sim add-target "$IQN_B" "127.0.0.2:$PB" >/dev/null
    # lab1 is this node; storage-b is the peer whose target lab1 logs in to. storage-b is
    # not a member of this one-node cluster: the monitor judges its leg by the sessions
    # and by reachability.
    PEERS="lab1=$IQN_A@127.0.0.1:$PA storage-b=$IQN_B@127.0.0.2:$PB"
    say "starting a single-node cluster (lab1, token 4000)"
    NODES=1 "$LABDIR/cluster-up.sh" >/dev/null
    "$LABDIR/install-agent.sh" "$AGENTBIN" >/dev/null
    PLOG=$LAB/n1/log-pacemaker/pacemaker.log
}
in1() { "$LABDIR/lab-exec.sh" 1 "$@"; } # CMD... : inside the one-node lab's node
# create_mirror TIMERS [CLONE-META...] : pcs creates the clone mirror-clone of resource
# "mirror" on the simulated host, with PEERS, the timer parameters TIMERS (one word,
# "noop_out_interval=2 ..."), reconnect_jitter 500 ms and a 3 s monitor
create_mirror() {
    local timers=$1; shift
    # shellcheck disable=SC2086 # TIMERS are words
    in1 pcs resource create mirror ocf:san:iscsi-mirror peers="$PEERS" \
        iscsiadm="$WORK/host/bin/iscsiadm" host_root="$WORK/host" $timers reconnect_jitter=500 \
        op monitor interval=3s timeout=20s clone "$@" >/dev/null
}

# lab_scenario NAME : LAB (default /tmp/iscsi-mirror-lab), a fresh WORK dir /tmp/NAME.XXXXXX
# and an EXIT trap that stops the listeners, takes the lab down and removes WORK
lab_scenario() {
    export LAB=${LAB:-/tmp/iscsi-mirror-lab}
    WORK=$(mktemp -d "/tmp/$1.XXXXXX")
    chmod 755 "$WORK"
    trap lab_scenario_cleanup EXIT
}
lab_scenario_cleanup() {
    stop_listeners_wait
    "$LABDIR/cluster-down.sh" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}

