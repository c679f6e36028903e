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

build() {
    (cd "$TOP" && cargo build --release --locked -q --bin iscsi-mirror -p iscsi-mirror -p iscsi-simhost)
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
