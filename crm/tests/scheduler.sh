#!/bin/bash
# The shipped configurations under Pacemaker's own scheduler (crm_simulate 2.1.5, no
# daemons): each of crm/examples' scripts builds its CIB in a file (pcs -f, crmsh with
# CIB_file), crm_simulate injects an event (a node lost, a health attribute, a monitor's
# result, the outdated mark, a node returning), and the transition it computes is checked:
# what must not stop, must not move, must move. crm_verify must stay silent at every step.
# Then the checks are turned on deliberately wrong configurations (the mutants below): each
# must be caught, or the scenarios could not fail.
#
# Needs root: pcs and crmsh read ocf:san:iscsi-mirror's meta-data, so the built agent is
# made visible under /usr/lib/ocf/resource.d/san in a private mount namespace (an overlay);
# the host's resource.d is never touched.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
EXAMPLES=$TOP/crm/examples
TRANSITION=$TOP/crm/tests/transition.py
OCF_RD=/usr/lib/ocf/resource.d

if [ -z "${SCHED_IN_NS:-}" ]; then
    [ "$(id -u)" = 0 ] || { echo "crm/tests/scheduler.sh needs root (a private mount namespace)" >&2; exit 1; }
    (cd "$TOP" && cargo build --release --locked -q --bin iscsi-mirror)
    exec unshare --mount --propagation private env SCHED_IN_NS=1 bash "$0" "$@"
fi
WORK=$(mktemp -d /tmp/iscsi-mirror-sched.XXXXXX)
trap 'umount "$OCF_RD" 2>/dev/null || true; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/ocf/san"
cp "$AGENTBIN" "$WORK/ocf/san/iscsi-mirror"
mount -t overlay overlay -o "lowerdir=$WORK/ocf:$OCF_RD" "$OCF_RD"
export IPMI_PASSWORD=example-only   # the ipmi variant needs one; nothing ever uses it here
A=storage-a
B=storage-b

# --- checks --------------------------------------------------------------------------------
# QUIET=1 (mutants): print nothing, write each failed check to CAUGHT (a file).
QUIET=0
CAUGHT=/dev/null
expect() { # DESCRIPTION CMD...
    local what="$SCENARIO: $1"; shift
    if "$@"; then
        [ "$QUIET" = 1 ] || pass "$what"
    elif [ "$QUIET" = 1 ]; then
        echo "$what" >>"$CAUGHT"
    else
        fail "$what"
        sed -n 's/^summary /      transition: /p' <<<"$FACTS"
    fi
}
note() { [ "$QUIET" = 1 ] || say "$@"; }

# --- the simulated cluster -----------------------------------------------------------------
# CUR is the CIB file of the current step; FACTS what transition.py read from the last run.
STEP=0
CUR=""
FACTS=""
begin() { # TITLE [SNAPSHOT]: a scenario, from a copy of the running SAN (or of SNAPSHOT)
    SCENARIO=$1
    STEP=$((STEP + 1))
    CUR=$WORK/$CFG/$STEP.cib
    cp "${2:-$RUNNING}" "$CUR"
    note "--- $SCENARIO"
}
step() { # DESCRIPTION [crm_simulate event options...]: the scheduler's answer, simulated
    local what=$1; shift
    STEP=$((STEP + 1))
    local out=$WORK/$CFG/$STEP
    crm_simulate -x "$CUR" -S --output-as=xml -G "$out.graph" -O "$out.cib" "$@" >"$out.sim"
    CUR=$out.cib
    FACTS=$(python3 "$TRANSITION" facts "$out.sim" "$out.graph")
    mapfile -t FACT_LINES <<<"$FACTS"
    note "  $what"
    [ "$QUIET" = 1 ] || sed -n 's/^summary /      transition: /p' <<<"$FACTS"
    # crm_verify stays silent on every state the configuration goes through (the mutants
    # are judged by their transitions only)
    [ "$QUIET" = 1 ] && return 0
    local v
    v=$(crm_verify -V -x "$CUR" 2>&1) || true
    VERIFIED=$((VERIFIED + 1))
    if [ -n "$v" ]; then VERIFY_DIRTY+="after \"$what\": $v; "; fi
}
cib() { CIB_file=$CUR "$@"; }
health() { # NODE COLOUR [NAME]: the agent's #health-iscsi-mirror (transient), or NAME's
    cib crm_attribute -N "$1" -n "${3:-#health-iscsi-mirror}" -l reboot -v "$2"
}
outdated() { # NODE 1|none: the permanent mark on a node whose half missed writes
    if [ "$2" = none ]; then cib crm_attribute -N "$1" -n iscsi-mirror-outdated -l forever -D >/dev/null
    else cib crm_attribute -N "$1" -n iscsi-mirror-outdated -l forever -v "$2"; fi
}
start_failed_fatally() { # RSC NODE: what the controller records after a failed start
    # (start-failure-is-fatal: fail-count INFINITY; crm_simulate's -F only adds 1)
    cib crm_attribute -N "$2" -n "fail-count-$1#start_0" -l reboot -v INFINITY
}
standby() { cib crm_attribute -N "$1" -n standby -l forever -v "$2"; }
monitor() { echo "${1}_monitor_10000@$2=$3"; } # RSC NODE RC: an op-inject spec

has() { # ERE: some fact matches it whole (a bash loop: no process per check)
    local line
    for line in "${FACT_LINES[@]}"; do [[ $line =~ ^$1$ ]] && return 0; done
    return 1
}
# --- what a transition must (not) do ---
fenced() { has "fence $1 $2"; }                                  # NODE DELAY(s)
not_fenced() { ! has "fence .*"; }
runs() { has "after $1 $2"; }                                     # RSC NODE
runs_nowhere() { ! has "after $1 .*"; }
not_on() { ! has "after $1 $2"; }
# kept: ran on NODE before and after, and the transition neither stops nor starts it there
kept() { has "before $1 $2" && has "after $1 $2" && ! has "act [a-z_]+ $1 $2"; }
recovered() { has "act stop $1 $2" && has "act start $1 $2"; }
started() { has "act start $1 $2"; }
nothing_stops_on() { ! has "act (stop|demote|migrate_to) [^ ]+ $1"; }
idle() { ! has "act .*" && ! has "fence .*"; }
after() { has "order $1 $2"; } # LATER EARLIER: LATER waits for EARLIER

# --- the scenarios -------------------------------------------------------------------------
# P is the node the pool starts on, O the other one; LEG_P / LEG_O the legs there (the clone's
# instances are san-mirror on both; the single-target legs are san-leg-a and san-leg-b).
scenarios() {
    local built=$1
    STEP=0 VERIFIED=0 VERIFY_DIRTY=""

    begin "cold start" "$built"
    step "storage-a and storage-b join, with quorum" -u "$A" -u "$B" -q true
    P=$(sed -n 's/^after san-pool //p' <<<"$FACTS")
    if [ "$P" = "$A" ]; then O=$B; else O=$A; fi
    if [ "$LEGS" = clone ]; then LEG_P=san-mirror LEG_O=san-mirror
    elif [ "$P" = "$A" ]; then LEG_P=san-leg-a LEG_O=san-leg-b
    else LEG_P=san-leg-b LEG_O=san-leg-a; fi
    expect "the pool runs on one node ($P)" test -n "$P"
    expect "a leg runs on each node" eval 'runs $LEG_P $P && runs $LEG_O $O'
    expect "the services run with the pool" runs san-vip "$P"
    expect "the pool is imported only after its own node's leg logged in (whole at import)" \
        after "start:san-pool:$P" "start:$LEG_P:$P"
    expect "... and after the other node's leg too (kind=Optional applies when both start)" \
        after "start:san-pool:$P" "start:$LEG_O:$O"
    expect "the services start after the pool" after "start:san-vip:$P" "start:san-pool:$P"
    RUNNING=$CUR

    begin "all green"
    health "$P" green; health "$O" green
    step "both agents publish green"
    expect "nothing happens" idle

    begin "a leg yellow on the other node"
    health "$P" green; health "$O" yellow
    step "$O's leg degraded: the agent publishes yellow there" -i "$(monitor "$LEG_O" "$O" 190)"
    expect "nothing happens (190 is degraded, not failed)" idle
    expect "the pool stays on $P, untouched" kept san-pool "$P"

    begin "a leg yellow on the pool's node"
    health "$P" yellow; health "$O" green
    step "$P's leg degraded: yellow on the pool's node, green on the other" -i "$(monitor "$LEG_P" "$P" 190)"
    expect "the pool does not move to the greener node (stickiness 200 > health difference 50)" \
        kept san-pool "$P"
    expect "the services do not move" kept san-vip "$P"
    expect "nothing happens at all" idle

    begin "the storage link down on both"
    health "$P" yellow; health "$O" yellow
    step "both legs degraded (storage network down), both yellow" \
        -i "$(monitor "$LEG_P" "$P" 190)" -i "$(monitor "$LEG_O" "$O" 190)"
    expect "nothing stops, nothing restarts" idle
    outdated "$O" 1
    step "$P's agent marks $O's half outdated (it misses the pool's writes)"
    expect "nothing happens: the mark only forbids a start" idle
    step "then $P, the pool's node, is lost" -f "$P"
    expect "$P is fenced, after the priority-fencing-delay (it held the pool)" fenced "$P" 10
    expect "the pool does NOT start on $O, whose half is outdated" runs_nowhere san-pool
    expect "nor do the services" runs_nowhere san-vip
    expect "$O's leg keeps running" kept "$LEG_O" "$O"
    outdated "$O" none
    step "the admin accepts the loss: the mark is removed (the documented override)"
    expect "the pool starts on $O" runs san-pool "$O"
    expect "the services start after it" after "start:san-vip:$O" "start:san-pool:$O"

    begin "the leg's monitor fails on the pool's node"
    health "$P" red
    step "$P's leg monitor fails (rc 1), the agent publishes red" -i "$(monitor "$LEG_P" "$P" 1)"
    expect "the leg is recovered on $P" recovered "$LEG_P" "$P"
    expect "the pool is not restarted, not moved (the order is Optional)" kept san-pool "$P"
    expect "the services are untouched" kept san-vip "$P"
    expect "nobody is fenced" not_fenced

    begin "the leg cannot start again on the pool's node"
    health "$P" red
    step "$P's leg monitor fails and its restart fails" -i "$(monitor "$LEG_P" "$P" 1)" \
        -F "${LEG_P}_start_0@$P=1"
    start_failed_fatally "$LEG_P" "$P"
    step "the next transition, with the failed start's fail-count INFINITY"
    expect "the leg stays stopped on $P" not_on "$LEG_P" "$P"
    expect "the pool keeps running on $P (the colocation with the leg is finite)" kept san-pool "$P"
    expect "the services keep running" kept san-vip "$P"

    begin "the leg's monitor fails on the other node"
    health "$O" red
    step "$O's leg monitor fails (rc 1), red on $O" -i "$(monitor "$LEG_O" "$O" 1)"
    expect "the leg is recovered on $O" recovered "$LEG_O" "$O"
    expect "the pool stays on $P, untouched" kept san-pool "$P"
    expect "nothing stops on $P" nothing_stops_on "$P"

    begin "the other node is lost"
    step "$O fails" -f "$O"
    expect "$O is fenced at once (no delay: it did not hold the pool)" fenced "$O" 0
    expect "nothing stops on the survivor $P" nothing_stops_on "$P"
    expect "the pool stays on $P, untouched" kept san-pool "$P"
    expect "the services stay, untouched" kept san-vip "$P"
    expect "$P's leg keeps running" kept "$LEG_P" "$P"
    health "$P" yellow
    step "$P's leg is down as expected: the survivor's agent publishes yellow" \
        -i "$(monitor "$LEG_P" "$P" 190)"
    expect "the survivor keeps everything: nothing happens" idle
    health "$P" red
    step "the survivor's health turns red"
    expect "the survivor still keeps everything (red is 0, never negative)" idle
    health "$P" yellow
    outdated "$O" 1
    step "$P marks $O's half outdated"
    expect "nothing happens" idle
    step "$O returns (its half outdated, resilvering)" -u "$O"
    expect "$O's leg starts" started "$LEG_O" "$O"
    expect "the pool stays on $P" kept san-pool "$P"
    expect "the services stay on $P" kept san-vip "$P"
    outdated "$O" none
    health "$P" green; health "$O" green
    step "the resilver is done: the mark is cleared, both green"
    expect "nothing moves back or around" idle

    begin "the pool's node is lost"
    # $O's session to $P fails within 4 s (noop-out 2+2), its monitor publishes yellow; the
    # membership changes at token + consensus (8.8 s), the fencing waits 10 s more: the pool
    # is placed while $O is already yellow.
    health "$O" yellow
    step "$P fails; $O's leg already reports yellow" -f "$P" -i "$(monitor "$LEG_O" "$O" 190)"
    expect "$P is fenced after the priority-fencing-delay (it held the pool)" fenced "$P" 10
    expect "the pool moves to $O, yellow as it is (50, not negative)" runs san-pool "$O"
    expect "the services follow it" runs san-vip "$O"
    expect "... and start after it" after "start:san-vip:$O" "start:san-pool:$O"
    expect "$O's leg keeps running, untouched" kept "$LEG_O" "$O"
    step "$P returns" -u "$P"
    expect "$P's leg starts" started "$LEG_P" "$P"
    expect "the pool does not fail back" kept san-pool "$O"
    health "$O" green; health "$P" green
    step "the mirror is whole again: both green"
    expect "the pool still does not fail back" idle

    begin "the pool's node is lost while the other node is red"
    health "$O" red
    step "$P fails; $O's leg had failed (red)" -f "$P"
    expect "the pool moves to $O all the same (red is 0, never negative)" runs san-pool "$O"
    expect "the services follow it" runs san-vip "$O"

    begin "planned failover: the pool's node in standby"
    standby "$P" on
    step "pcs node standby $P"
    expect "the pool moves to $O" runs san-pool "$O"
    expect "the services follow" runs san-vip "$O"
    expect "$P's leg stops, only after the pool's export there (the Optional order's stop half)" \
        after "stop:$LEG_P:$P" "stop:san-pool:$P"
    expect "$O's leg is untouched" kept "$LEG_O" "$O"
    standby "$P" off
    step "pcs node unstandby $P"
    expect "$P's leg starts again" started "$LEG_P" "$P"
    expect "the pool stays on $O" kept san-pool "$O"

    begin "the other node red from two health sources"
    health "$O" red; health "$O" red "#health-smart"
    step "$O: red from iscsi-mirror and from another agent (total 100-100-100 < 0)"
    expect "the pool stays on $P" kept san-pool "$P"
    expect "$O's leg keeps running (allow-unhealthy-nodes)" kept "$LEG_O" "$O"

    [ "$QUIET" = 1 ] || SCENARIO=all expect \
        "crm_verify -V printed nothing on any of the $VERIFIED states${VERIFY_DIRTY:+: $VERIFY_DIRTY}" \
        test -z "$VERIFY_DIRTY"
}

# --- Corosync: what the scripts write -------------------------------------------------------
corosync_checks() {
    local c=$WORK/corosync
    mkdir -p "$c"
    SCENARIO="corosync (pcs)"
    COROSYNC_CONF=$c/pcs.conf "$EXAMPLES/pcs-two-node-san.sh" corosync >"$c/pcs.out" 2>&1
    expect "pcs cluster setup writes totem token: 4000" grep -qE '^\s*token: 4000$' "$c/pcs.conf"
    expect "... and two_node: 1 (no quorum device)" grep -qE '^\s*two_node: 1$' "$c/pcs.conf"
    expect "... with both networks as knet links" grep -qE '^\s*ring1_addr: 10\.10\.10\.2$' "$c/pcs.conf"
    expect "the agent's timeout check reads it: the 2/2/5 timers notice a dead peer inside the token" \
        timers_fit "$c/pcs.conf"
    QDEVICE_HOST=quorum COROSYNC_CONF=$c/pcs-qdevice.conf "$EXAMPLES/pcs-two-node-san.sh" corosync \
        >"$c/pcs-qdevice.out" 2>&1
    expect "QDEVICE_HOST=quorum: a net quorum device (ffsplit), no two_node" eval \
        "grep -qE '^\s*host: quorum$' '$c/pcs-qdevice.conf' && grep -qE '^\s*algorithm: ffsplit$' '$c/pcs-qdevice.conf' && ! grep -q two_node '$c/pcs-qdevice.conf'"
    SCENARIO="corosync (crmsh)"
    # crmsh edits the corosync.conf the admin has (crm cluster init's, or Debian's default)
    cp /etc/corosync/corosync.conf "$c/crmsh.conf"
    COROSYNC_CONF=$c/crmsh.conf "$EXAMPLES/crmsh-two-node-san.sh" corosync >"$c/crmsh.out" 2>&1
    expect "crm corosync set writes totem token: 4000" grep -qE '^\s*token: 4000$' "$c/crmsh.conf"
    expect "... and two_node: 1" grep -qE '^\s*two_node: 1$' "$c/crmsh.conf"
    expect "the agent's timeout check reads it: the timers fit" timers_fit "$c/crmsh.conf"
}
timers_fit() { # COROSYNC_CONF: check-timeouts with the clone's timers: no error (rc 0 or 1)
    local rc=0
    "$AGENTBIN" check-timeouts --corosync-conf "$1" --corosync-cmapctl /nonexistent \
        --iscsiadm /nonexistent --host-root "$WORK/empty-host" \
        --noop-out-interval 2 --noop-out-timeout 2 --replacement-timeout 5 >"$1.check" 2>&1 || rc=$?
    grep -q 'Corosync token       4000 ms' "$1.check" && [ "$rc" -le 1 ]
}

# --- the CIBs, built by the shipped scripts -------------------------------------------------
build_cib() { # SCRIPT FENCE OUT: the two nodes (as a live cluster has them), then the script
    local script=$1 fence=$2 out=$3
    cibadmin --empty >"$out"
    CIB_file=$out cibadmin -C -o nodes -X "<node id=\"1\" uname=\"$A\"/>"
    CIB_file=$out cibadmin -C -o nodes -X "<node id=\"2\" uname=\"$B\"/>"
    FENCE=$fence CIB_FILE=$out "$EXAMPLES/$script" cib >"$out.log" 2>&1 ||
        { cat "$out.log"; return 1; }
}

mkdir -p "$WORK/empty-host"
corosync_checks

# script, its fencing variant, its legs
CONFIGS=(
    "pcs-two-node-san.sh sbd clone"
    "pcs-single-target.sh ipmi single"
    "crmsh-two-node-san.sh ipmi clone"
    "crmsh-single-target.sh sbd single"
)
for c in "${CONFIGS[@]}"; do
    read -r script fence LEGS <<<"$c"
    CFG=${script%.sh}-$fence
    mkdir -p "$WORK/$CFG"
    say "=== $script (FENCE=$fence): the CIB from the script, then every scenario"
    SCENARIO="$CFG"
    expect "$script builds its CIB in a file" build_cib "$script" "$fence" "$WORK/$CFG/built.xml"
    scenarios "$WORK/$CFG/built.xml"
done

# --- mutants: deliberately wrong configurations the scenarios must catch --------------------
# Each is the pcs clone configuration with one decision undone; the scenarios run quietly and
# must report at least one failure.
nv() { # XPATH VALUE: set an existing nvpair/element attribute 'value' by its id
    local id
    id=$(xmllint --xpath "string($1/@id)" "$MUT")
    CIB_file=$MUT cibadmin -M -X "<nvpair id=\"$id\" value=\"$2\"/>"
}
constraint() { # XPATH ATTR VALUE
    local id tag
    id=$(xmllint --xpath "string($1/@id)" "$MUT")
    tag=$(xmllint --xpath "name($1)" "$MUT")
    CIB_file=$MUT cibadmin -M -o constraints -X "<$tag id=\"$id\" $2=\"$3\"/>"
}
old_readme() {
    CIB_file=$MUT crm_attribute -t crm_config -n node-health-base -D
    CIB_file=$MUT crm_attribute -t crm_config -n node-health-red -D
    CIB_file=$MUT crm_attribute -t crm_config -n node-health-yellow -v -100
    CIB_file=$MUT cibadmin -D --xpath '//rsc_defaults'
}
MUTANTS=(
    "the configuration the old README recommended (yellow -100, red -INFINITY, no base, no stickiness)|old_readme"
    "no node-health-base|CIB_file=\$MUT crm_attribute -t crm_config -n node-health-base -D"
    "node-health-red left at -INFINITY|CIB_file=\$MUT crm_attribute -t crm_config -n node-health-red -D"
    "a mandatory order leg -> pool|constraint '//rsc_order[@then=\"san-pool\"]' kind Mandatory"
    "the pool colocated with the leg at INFINITY|constraint '//rsc_colocation[@rsc=\"san-pool\"]' score INFINITY"
    "no stickiness|nv '//nvpair[@name=\"resource-stickiness\"]' 0"
    "no outdated rule|CIB_file=\$MUT cibadmin -D --xpath '//rsc_location[@rsc=\"san-pool\"]'"
    "no priority-fencing-delay|CIB_file=\$MUT crm_attribute -t crm_config -n priority-fencing-delay -D"
    "no allow-unhealthy-nodes on the clone|CIB_file=\$MUT crm_resource -r san-mirror-clone --meta -d allow-unhealthy-nodes"
)
say "=== mutants: the pcs clone configuration with one decision undone; each must be caught"
LEGS=clone
CFG=mutant
mkdir -p "$WORK/$CFG"
n=0
for m in "${MUTANTS[@]}"; do
    what=${m%%|*}
    n=$((n + 1))
    MUT=$WORK/$CFG/mutant-$n.xml
    cp "$WORK/pcs-two-node-san-sbd/built.xml" "$MUT"
    eval "${m#*|}" >/dev/null
    CAUGHT=$MUT.caught
    : >"$CAUGHT"
    QUIET=1
    scenarios "$MUT"
    QUIET=0
    SCENARIO="mutant"
    expect "\"$what\" is caught: $(wc -l <"$CAUGHT") checks fail" test -s "$CAUGHT"
    sed 's/^/      /' "$CAUGHT"
done

finish
