#!/bin/bash
# check-timeouts against a real Corosync (crm/lab): token 4000 on one node (cmap says 4000
# and consensus 4800), three nodes with the default token_coefficient (cmap says 4650),
# and no Corosync at all (falls back to corosync.conf and says so).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
export LAB=${LAB:-/tmp/iscsi-mirror-lab}
WORK=$(mktemp -d /tmp/iscsi-mirror-window.XXXXXX)
trap '"$LABDIR/cluster-down.sh" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
build
EMPTY=$WORK/empty-host   # no sessions, no records: "new sessions" with the flags' timers
mkdir -p "$EMPTY"
ct() { "$AGENTBIN" check-timeouts --json --host-root "$EMPTY" --iscsiadm /nonexistent "$@"; }
field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

say "one node, token 4000"
NODES=1 TOKEN=4000 "$LABDIR/cluster-up.sh" >/dev/null
out=$(ct --noop-out-interval 2 --noop-out-timeout 2 --replacement-timeout 5 || true)
check "token 4000 from cmap" test "$(field 'd["window"]["token_ms"]["value"], d["window"]["token_ms"]["source"]' <<<"$out")" = "(4000, 'corosync-cmapctl runtime.config.totem.token')"
check "consensus 4800 from cmap" test "$(field 'd["window"]["consensus_ms"]["value"], d["window"]["consensus_ms"]["source"]' <<<"$out")" = "(4800, 'corosync-cmapctl runtime.config.totem.consensus')"
check "the seeds' 2/2/5: inside, one warning (exit 1)" test "$(field 'd["exit_code"], [f["rule"] for p in d["paths"] for f in p["findings"] if f["severity"]=="warning"]' <<<"$out")" = "(1, ['stall-within-membership'])"
ct --noop-out-interval 5 --noop-out-timeout 5 --replacement-timeout 120 >/dev/null && rc=0 || rc=$?
check "open-iscsi's defaults: an error (exit 2)" test "$rc" = 2
"$AGENTBIN" check-timeouts --host-root "$EMPTY" --iscsiadm /nonexistent --noop-out-interval 2 --noop-out-timeout 2 --replacement-timeout 5 | sed 's/^/    /' || true
conf1=$LAB/n1/etc-corosync/corosync.conf
cp "$conf1" "$WORK/one-node.conf"

say "three nodes, default token_coefficient"
NODES=3 TOKEN=4000 "$LABDIR/cluster-up.sh" >/dev/null
out=$("$LABDIR/lab-exec.sh" 1 "$AGENTBIN" check-timeouts --json --host-root "$EMPTY" --iscsiadm /nonexistent --noop-out-interval 2 --noop-out-timeout 2 --replacement-timeout 5 || true)
check "token 4650 from cmap" test "$(field 'd["window"]["token_ms"]["value"], d["window"]["token_ms"]["source"]' <<<"$out")" = "(4650, 'corosync-cmapctl runtime.config.totem.token')"
check "consensus 5580 from cmap" test "$(field 'd["window"]["consensus_ms"]["value"]' <<<"$out")" = 5580
cp "$LAB/n1/etc-corosync/corosync.conf" "$WORK/three-node.conf"
"$LABDIR/cluster-down.sh" >/dev/null

say "no Corosync at all"
out=$(ct --corosync-conf "$WORK/one-node.conf" --noop-out-interval 2 --noop-out-timeout 2 --replacement-timeout 5 || true)
check "falls back to corosync.conf and says so (4000)" test "$(field 'd["window"]["token_ms"]["value"], "no running Corosync answered" in d["window"]["token_ms"]["source"]' <<<"$out")" = "(4000, True)"
out=$(ct --corosync-conf "$WORK/three-node.conf" --noop-out-interval 2 --noop-out-timeout 2 --replacement-timeout 5 || true)
check "three-node corosync.conf gives what cmap gave (4650, 5580)" test "$(field 'd["window"]["token_ms"]["value"], d["window"]["consensus_ms"]["value"]' <<<"$out")" = "(4650, 5580)"
out=$(ct --corosync-conf "$WORK/none.conf" || true)
check "with neither: Corosync 3.1's default 3000, said so" test "$(field 'd["window"]["token_ms"]["value"], "default" in d["window"]["token_ms"]["source"]' <<<"$out")" = "(3000, True)"
finish
