#!/bin/bash
# make-crm-mon-fixtures.sh [all|offline|live] - (re)generate tests/fixtures/crm_mon/ with
# REAL Pacemaker 2.1.5 tools; nothing in there is typed by hand.
#
#   offline: CIB files built with cibadmin / crm_attribute, node and resource events
#            injected with crm_simulate (Pacemaker's real scheduler), then
#            `CIB_file=... crm_mon -1 --output-as=xml` (and the legacy --as-xml).
#            No daemons, no root.
#   live:    the lab (cluster-up.sh, root) at NODES=1 and NODES=2, with the lab's
#            stand-in agent (standin-agent.sh) installed as ocf:san:iscsi-mirror, and
#            crm_mon run on a node (lab-exec.sh) while real daemons run (or don't).
# Every --output-as=xml fixture must validate against /usr/share/pacemaker/api/api-result.rng,
# every legacy one against /usr/share/pacemaker/crm_mon.rng: the script fails otherwise.
# Where crm_mon's exit status matters, it is saved beside the fixture as NAME.rc.
# README.md in the output dir is written from the FIXTURES table below.
# Knobs: OUT (default <repo>/tests/fixtures/crm_mon), LAB (default /tmp/iscsi-mirror-lab-fixtures).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
export LAB=${LAB:-/tmp/iscsi-mirror-lab-fixtures}
. "$HERE/lib.sh"
WHAT=${1:-all}
OUT=${OUT:-$(cd "$HERE/../.." && pwd)/tests/fixtures/crm_mon}
RNG=/usr/share/pacemaker/api/api-result.rng
RNG_LEGACY=/usr/share/pacemaker/crm_mon.rng
X=$HERE/lab-exec.sh
case $WHAT in all|offline|live) ;; *) die "usage: make-crm-mon-fixtures.sh [all|offline|live]" ;; esac
for f in "$RNG" "$RNG_LEGACY"; do [ -f "$f" ] || die "$f missing (apt-get install pacemaker-cli-utils)"; done

# name | situation | how (for README.md; one row per fixture, in this order)
FIXTURES=(
"two-node-both-online.xml|storage-a and storage-b online, quorate, DC storage-a; the ocf:san:iscsi-mirror clone Started on both|crm_simulate -S -X -u storage-a -u storage-b -q true on the base CIB; dc-uuid set with cibadmin"
"two-node-no-dc.xml|both nodes online but no DC yet (election pending): current_dc present=false|as two-node-both-online without dc-uuid"
"two-node-peer-offline.xml|storage-b cleanly offline (online=false unclean=false); its clone instance Stopped|crm_simulate -S -X -d storage-b"
"two-node-peer-unclean.xml|storage-b failed with stonith-enabled=true, fencing not yet done: online=false unclean=true|crm_simulate -f storage-b (inject only, no transition)"
"two-node-peer-standby.xml|storage-b in standby (standby=true); its clone instance Stopped|crm_attribute -t nodes -N storage-b -n standby -v on; crm_simulate -S -X"
"two-node-peer-maintenance.xml|storage-b in node maintenance (maintenance=true); its instance unmanaged|crm_attribute -t nodes -N storage-b -n maintenance -v true; crm_simulate -S -X"
"two-node-peer-shutting-down.xml|storage-b shutting down (shutdown=true expected_up=false); its instance Stopped|transient attribute shutdown set with crm_attribute -l reboot (what the controller does); crm_simulate -S -X"
"two-node-peer-pending.xml|storage-b member but not yet joined (pending=true, standby=true), stonith-enabled=true|node_state join=pending set with cibadmin -M (no-fencing mode never shows pending)"
"two-node-peer-offline-no-quorum.xml|storage-b offline and the partition without quorum (with_quorum=false); no-quorum-policy=stop stopped the clone everywhere|have-quorum=0 on the CIB root with cibadmin (crm_simulate -q false is ignored), then crm_simulate -S -X -d storage-b"
"two-node-monitor-failed.xml|the recurring monitor failed (rc 1) on storage-b, before recovery: failed=true, a <failures> entry with exitreason, fail-count in node_history|crm_simulate -i mirror_monitor_10000@storage-b=1; exit-reason added to the lrm_rsc_op with cibadmin -M (crm_simulate cannot inject one; kept under Pacemaker's 128-character limit)"
"two-node-monitor-failed-recovered.xml|as two-node-monitor-failed after the scheduler recovered the instance (stop, start): Started again, the failure entry kept|crm_simulate -S -X on two-node-monitor-failed's CIB"
"three-node-all-online.xml|storage-a, storage-b, storage-c online, quorate, the clone Started on all three|as two-node-both-online with a third node"
"two-node-both-online-legacy.xml|two-node-both-online in the legacy format (<crm_mon version=...>)|crm_mon -1 --as-xml (deprecated) on the same CIB; validated against crm_mon.rng"
"two-node-peer-offline-legacy.xml|two-node-peer-offline in the legacy format|crm_mon -1 --as-xml on the same CIB; validated against crm_mon.rng"
"live-one-node-online.xml|single-node lab: lab1 online, DC lab1 with quorum, the clone Started|cluster-up.sh NODES=1, stand-in agent, clone created with cibadmin; host crm_mon"
"live-one-node-monitor-failed.xml|single-node lab after a real monitor failure: <failures> entry whose exitreason came from the agent's ocf-exit-reason: line, cut by Pacemaker to 128 characters (the agent wrote 132); instance recovered|the stand-in's monitor fails once with a reason; waited for the failure and the recovery"
"live-one-node-own-corosync-dead.xml|single-node lab whose corosync was SIGKILLed while pacemakerd lives: status code 0 (.rc 0) but <errors>, no summary, no nodes|kill-corosync.sh 1, then crm_mon on the host"
"live-no-cluster.xml|no cluster daemons at all: crm_mon exits 102 (.rc) with status code=102 message=\"Not connected\"|crm_mon on the host with the lab down"
"live-two-node-both-online.xml|two-node lab, lab1's view: lab1 and lab2 online, the clone Started on both|cluster-up.sh NODES=2 (two_node, stonith off), crm_mon on lab1"
"live-two-node-peer-lost.xml|lab1's view after lab2's corosync was SIGKILLed (stonith off): lab2 online=false unclean=false, its instance Stopped|kill-corosync.sh 2; waited until lab1 shows lab2 offline"
"live-two-node-own-corosync-dead.xml|lab2's own view after its corosync died, pacemakerd alive: code 0 (.rc) with <errors>, no nodes|crm_mon on lab2 after kill-corosync.sh 2"
"live-two-node-peer-unclean.xml|lab1's view after lab2's corosync was SIGKILLed with stonith on: lab2 unclean=true while fencing (fence_dummy, delay 15 s) is pending|STONITH=true, pcs stonith create fence_dummy, kill-corosync.sh 2; saved when unclean"
"live-two-node-peer-fenced.xml|as live-two-node-peer-unclean once fencing succeeded: lab2 offline and clean, fence_history with a successful reboot|waited for the fence event"
)

# validate FILE: against the schema that fits its root element; fail the script otherwise
validate() {
    local f=$1 rng=$RNG
    head -c 300 "$f" | grep -q '<crm_mon ' && rng=$RNG_LEGACY
    xmllint --noout --relaxng "$rng" "$f" 2> "$WORK/xmllint.err" || {
        cat "$WORK/xmllint.err" >&2; die "$(basename "$f") does not validate against $rng"; }
    echo "  $(basename "$f"): valid ($(basename "$rng"))"
}

# clone_xml PEERS MONITOR-INTERVAL OP-TIMEOUT [EXTRA-NVPAIRS]: the clone of a primitive class=ocf
# provider=san type=iscsi-mirror, as the product documents it
clone_xml() {
    cat <<XML
<clone id="mirror-clone">
  <meta_attributes id="mirror-clone-meta"><nvpair id="mirror-clone-meta-interleave" name="interleave" value="true"/></meta_attributes>
  <primitive id="mirror" class="ocf" provider="san" type="iscsi-mirror">
    <instance_attributes id="mirror-ia">
      <nvpair id="mirror-ia-peers" name="peers" value="$1"/>${4:-}
    </instance_attributes>
    <operations>
      <op id="mirror-monitor-$2" name="monitor" interval="$2" timeout="$3"/>
      <op id="mirror-start-0" name="start" interval="0s" timeout="$3"/>
      <op id="mirror-stop-0" name="stop" interval="0s" timeout="$3"/>
    </operations>
  </primitive>
</clone>
XML
}
# peers NODE...: the peers parameter for those nodes (10.10.10.<i>)
peers() {
    local n i=0 out=""
    for n in "$@"; do i=$((i + 1)); out+="${out:+ }$n=iqn.2024-01.san.example:$n@10.10.10.$i:3260"; done
    echo "$out"
}

WORK=$(mktemp -d /tmp/crm-mon-fixtures.XXXXXX)
LAB_STARTED=0
cleanup() {
    if [ "$LAB_STARTED" = 1 ]; then "$HERE/cluster-down.sh" > /dev/null 2>&1 || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$OUT"

# ============================== offline ==============================
offline() {
    local base s ver
    rm -f "$OUT"/two-node-*.xml "$OUT"/three-node-*.xml
    cd "$WORK"
    # mon CIB NAME: crm_mon on a CIB file; save + validate
    mon() { CIB_file="$WORK/$1" crm_mon -1 --output-as=xml > "$OUT/$2"; validate "$OUT/$2"; }
    legacy() { CIB_file="$WORK/$1" crm_mon -1 --as-xml > "$OUT/$2"; validate "$OUT/$2"; }
    # crm_mon reports a DC only when the CIB root carries dc-uuid (a live controller writes it)
    set_dc() { CIB_file="$WORK/$1" cibadmin -M -X "<cib dc-uuid=\"$2\"/>"; }
    ver=$(pacemakerd --features | sed -n '1s/^Pacemaker \([^ ]*\) (Build: \([^)]*\)).*/\1-\2/p')

    # base CIB: NODE NAMES...; properties as a live corosync cluster has them; the clone
    # of a primitive class=ocf provider=san type=iscsi-mirror, as the product documents it
    base() {
        local f=$1 i=0 n; shift
        cibadmin --empty > "$f"
        for n in "$@"; do
            i=$((i + 1))
            CIB_file=$f cibadmin -C -o nodes -X "<node id=\"$i\" uname=\"$n\"/>"
        done
        CIB_file=$f crm_attribute -t crm_config -n stonith-enabled -v false
        CIB_file=$f crm_attribute -t crm_config -n cluster-infrastructure -v corosync
        CIB_file=$f crm_attribute -t crm_config -n cluster-name -v san
        [ -z "$ver" ] || CIB_file=$f crm_attribute -t crm_config -n dc-version -v "$ver"
        CIB_file=$f cibadmin -C -o resources -X "$(clone_xml "$(peers "$@")" 10s 30s \
            '<nvpair id="mirror-ia-pool" name="pool" value="san-pool"/>')"
    }
    sim() { crm_simulate "$@" > "$WORK/sim.$RANDOM.txt"; }

    echo "offline fixtures:"
    base base2.xml storage-a storage-b
    cp base2.xml online.xml
    sim -x online.xml -S -X -u storage-a -u storage-b -q true
    cp online.xml nodc.xml
    set_dc online.xml 1
    mon online.xml two-node-both-online.xml
    legacy online.xml two-node-both-online-legacy.xml
    mon nodc.xml two-node-no-dc.xml

    cp online.xml off.xml
    sim -x off.xml -S -X -d storage-b
    mon off.xml two-node-peer-offline.xml
    legacy off.xml two-node-peer-offline-legacy.xml

    cp online.xml unclean.xml
    CIB_file=$WORK/unclean.xml crm_attribute -t crm_config -n stonith-enabled -v true
    sim -x unclean.xml -f storage-b -O unclean-out.xml
    mon unclean-out.xml two-node-peer-unclean.xml

    cp online.xml standby.xml
    CIB_file=$WORK/standby.xml crm_attribute -t nodes -N storage-b -n standby -v on
    sim -x standby.xml -S -X
    mon standby.xml two-node-peer-standby.xml

    cp online.xml maint.xml
    CIB_file=$WORK/maint.xml crm_attribute -t nodes -N storage-b -n maintenance -v true
    sim -x maint.xml -S -X
    mon maint.xml two-node-peer-maintenance.xml

    cp online.xml shut.xml
    CIB_file=$WORK/shut.xml crm_attribute -N storage-b -n shutdown -l reboot -v "$(date +%s)"
    sim -x shut.xml -S -X
    mon shut.xml two-node-peer-shutting-down.xml

    cp online.xml pending.xml
    CIB_file=$WORK/pending.xml crm_attribute -t crm_config -n stonith-enabled -v true
    CIB_file=$WORK/pending.xml cibadmin -M -X '<node_state id="2" join="pending"/>'
    mon pending.xml two-node-peer-pending.xml

    cp online.xml noq.xml
    CIB_file=$WORK/noq.xml cibadmin -M -X '<cib have-quorum="0"/>'
    sim -x noq.xml -S -X -d storage-b
    mon noq.xml two-node-peer-offline-no-quorum.xml

    cp online.xml failed.xml
    sim -x failed.xml -i mirror_monitor_10000@storage-b=1 -O failed-out.xml
    CIB_file=$WORK/failed-out.xml cibadmin -M -X '<lrm_rsc_op id="mirror_last_failure_0" exit-reason="no session to storage-a: portal 10.10.10.1:3260 reachable but login failed; a restart is the remedy"/>'
    mon failed-out.xml two-node-monitor-failed.xml
    cp failed-out.xml recovered.xml
    sim -x recovered.xml -S -X
    mon recovered.xml two-node-monitor-failed-recovered.xml

    base base3.xml storage-a storage-b storage-c
    cp base3.xml three.xml
    sim -x three.xml -S -X -u storage-a -u storage-b -u storage-c -q true
    set_dc three.xml 1
    mon three.xml three-node-all-online.xml
    cd - > /dev/null
}

# =============================== live ================================
live() {
    local name rc
    need_root
    rm -f "$OUT"/live-*
    # save N NAME [rcfile]: crm_mon on node N; validate; with rcfile, also NAME.rc
    save() {
        local n=$1 f=$OUT/$2 rc=0
        "$X" "$n" crm_mon -1 --output-as=xml > "$f" 2> /dev/null || rc=$?
        if [ "${3:-}" = rc ]; then echo "$rc" > "${f%.xml}.rc"; fi
        validate "$f"
        [ "${3:-}" = rc ] || [ "$rc" = 0 ] || die "crm_mon on lab$n exited $rc for $2"
    }
    # holds N XPATH: node N's crm_mon XML satisfies the XPath boolean
    holds() { [ "$("$X" "$1" crm_mon -1 --output-as=xml 2>/dev/null | xp "boolean($2)")" = true ]; }
    await() { # await SECONDS N XPATH WHAT
        wait_until "$1" holds "$2" "$3" || die "timeout (${1}s) waiting for: $4"
    }
    mirror_clone() { "$X" 1 cibadmin -C -o resources -X "$(clone_xml "$(peers "$@")" 5s 20s)"; }
    started() { echo "count(//resources//resource[@id='mirror'][@role='Started'])=$1"; }
    node_is() { echo "//nodes/node[@name='$1'][$2]"; }

    echo "live fixtures:"
    "$HERE/install-agent.sh" "$HERE/standin-agent.sh" 2> /dev/null
    LAB_STARTED=1

    # --- no cluster at all -----------------------------------------------------------
    "$HERE/cluster-down.sh" > /dev/null 2>&1
    corosync-cmapctl -g totem.cluster_name > /dev/null 2>&1 && die "a corosync answers on this host: stop it first"
    rc=0; crm_mon -1 --output-as=xml > "$OUT/live-no-cluster.xml" 2> /dev/null || rc=$?
    echo "$rc" > "$OUT/live-no-cluster.rc"
    validate "$OUT/live-no-cluster.xml"

    # --- single node -------------------------------------------------------------------
    NODES=1 "$HERE/cluster-up.sh" > /dev/null
    mirror_clone lab1
    await 30 1 "$(started 1)" "clone Started on lab1"
    save 1 live-one-node-online.xml
    "$X" 1 sh -c 'echo "no session to lab2 (iqn.2024-01.san.example:lab2@10.10.10.2:3260) and the portal is reachable: login failed; a restart is the remedy" > /run/standin-fail-monitor'
    await 30 1 "//failures/failure[@op_key='mirror_monitor_5000']" "monitor failure recorded"
    await 30 1 "$(started 1) and not(//resources//resource[@failed='true'])" "instance recovered"
    save 1 live-one-node-monitor-failed.xml
    "$HERE/kill-corosync.sh" 1 2> /dev/null
    await 30 1 "/pacemaker-result/status/errors and not(/pacemaker-result/nodes)" "own-corosync-dead view"
    save 1 live-one-node-own-corosync-dead.xml rc
    "$HERE/cluster-down.sh" > /dev/null 2>&1

    # --- two nodes, stonith off ---------------------------------------------------------
    NODES=2 "$HERE/cluster-up.sh" > /dev/null
    mirror_clone lab1 lab2
    await 30 1 "$(started 2)" "clone Started on lab1 and lab2"
    save 1 live-two-node-both-online.xml
    "$HERE/kill-corosync.sh" 2 2> /dev/null
    await 30 1 "$(node_is lab2 "@online='false'") and $(started 1)" "lab1 sees lab2 offline"
    save 1 live-two-node-peer-lost.xml
    await 30 2 "/pacemaker-result/status/errors and not(/pacemaker-result/nodes)" "lab2's own-corosync-dead view"
    save 2 live-two-node-own-corosync-dead.xml rc
    "$HERE/cluster-down.sh" > /dev/null 2>&1

    # --- two nodes, stonith on (fence_dummy with a 15 s delay) ----------------------------
    STONITH=true NODES=2 "$HERE/cluster-up.sh" > /dev/null
    "$X" 1 pcs stonith create fence-lab fence_dummy type=file status_file=/run/fence_dummy.status \
        delay=15 pcmk_host_list="lab1 lab2" op monitor interval=60s > /dev/null
    mirror_clone lab1 lab2
    await 40 1 "$(started 2) and //resources/resource[@id='fence-lab'][@role='Started']" "clone and fence device Started"
    "$HERE/kill-corosync.sh" 2 2> /dev/null
    await 30 1 "$(node_is lab2 "@unclean='true'")" "lab1 sees lab2 unclean"
    save 1 live-two-node-peer-unclean.xml
    await 60 1 "//fence_history/fence_event[@target='lab2'][@status='success'] and $(node_is lab2 "@unclean='false'")" "lab2 fenced"
    save 1 live-two-node-peer-fenced.xml
    "$HERE/cluster-down.sh" > /dev/null 2>&1
    LAB_STARTED=0
    "$HERE/install-agent.sh" --remove 2> /dev/null
}

case $WHAT in
    offline) offline ;;
    live) live ;;
    all) offline; live ;;
esac

# README.md from the table; on a full run, the table and the directory must agree
{
    echo "# crm_mon XML fixtures (generated: do not edit)"
    echo
    echo "Written by \`crm/lab/make-crm-mon-fixtures.sh\` with real Pacemaker $(pacemakerd --features | head -1 | cut -d' ' -f2-)"
    echo "(Debian 12). Offline fixtures come from CIB files and \`crm_simulate\`"
    echo "(Pacemaker's scheduler) read by \`CIB_file=... crm_mon -1 --output-as=xml\`; live ones from"
    echo "the lab (crm/lab/cluster-up.sh) with real corosync and pacemaker daemons and the lab's"
    echo "stand-in agent (crm/lab/standin-agent.sh) installed as ocf:san:iscsi-mirror."
    echo "Each \`--output-as=xml\` file validates against /usr/share/pacemaker/api/api-result.rng,"
    echo "each \`*-legacy.xml\` (\`crm_mon --as-xml\`) against /usr/share/pacemaker/crm_mon.rng."
    echo "\`NAME.rc\` holds crm_mon's exit status where it matters. Timestamps are left as produced."
    echo
    echo "| fixture | situation | how |"
    echo "| --- | --- | --- |"
    for row in "${FIXTURES[@]}"; do
        IFS='|' read -r name sit how <<< "$row"
        rcnote=""; [ -f "$OUT/${name%.xml}.rc" ] && rcnote=" (rc $(cat "$OUT/${name%.xml}.rc"))"
        sit=$(sed -E 's/(<[^>]+>)/`\1`/g' <<< "$sit")
        echo "| \`$name\`$rcnote | $sit | $how |"
    done
} > "$OUT/README.md"
if [ "$WHAT" = all ]; then
    listed=$(for row in "${FIXTURES[@]}"; do echo "${row%%|*}"; done | sort)
    present=$(cd "$OUT" && ls -1 ./*.xml | sed 's|^\./||' | sort)
    [ "$listed" = "$present" ] || { diff <(echo "$listed") <(echo "$present") >&2; die "fixture table and $OUT disagree"; }
fi
echo "fixtures in $OUT: $(ls "$OUT"/*.xml | wc -l) xml, README.md"
