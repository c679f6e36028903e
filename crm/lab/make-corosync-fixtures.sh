#!/bin/bash
# make-corosync-fixtures.sh - (re)generate tests/fixtures/corosync/ from REAL corosync
# 3.1.7 runtime output (corosync-cmapctl), run inside the lab (root):
#   one-node-token4000.*   NODES=1, token 4000 (expect token 4000, consensus 4800)
#   three-node-default.*   NODES=3, token 4000, default token_coefficient (expect 4650, 5580)
#   no-corosync.*          no corosync running (expect rc 1, CS_ERR_LIBRARY)
# For every command: CASE.CMD.stdout, CASE.CMD.stderr and CASE.CMD.rc (exit status);
# plus CASE.corosync.conf, the lab's configuration. README.md lists the files.
# Knobs: OUT (default <repo>/tests/fixtures/corosync), LAB (default /tmp/iscsi-mirror-lab-fixtures).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
export LAB=${LAB:-/tmp/iscsi-mirror-lab-fixtures}
. "$HERE/lib.sh"
OUT=${OUT:-$(cd "$HERE/../.." && pwd)/tests/fixtures/corosync}
need_root
LAB_STARTED=0
trap '[ "$LAB_STARTED" = 0 ] || "$HERE/cluster-down.sh" > /dev/null 2>&1 || true' EXIT
mkdir -p "$OUT"
rm -f "$OUT"/*.stdout "$OUT"/*.stderr "$OUT"/*.rc "$OUT"/*.corosync.conf

# run CASE CMDNAME NODE|host ARGS...: run corosync-cmapctl ARGS, record stdout/stderr/rc
run() {
    local c=$1 name=$2 where=$3 rc=0; shift 3
    local base=$OUT/$c.$name
    if [ "$where" = host ]; then
        corosync-cmapctl "$@" > "$base.stdout" 2> "$base.stderr" || rc=$?
    else
        "$HERE/lab-exec.sh" "$where" corosync-cmapctl "$@" > "$base.stdout" 2> "$base.stderr" || rc=$?
    fi
    echo "$rc" > "$base.rc"
    printf '  %-44s rc=%s  %s\n' "$c.$name" "$rc" "$(head -1 "$base.stdout" "$base.stderr" 2>/dev/null | grep -v '^==>' | grep . | head -1)"
}
# expect FILE TEXT: FILE's first line is TEXT, else fail
expect() { [ "$(head -1 "$OUT/$1")" = "$2" ] || die "$1: expected '$2', got '$(head -1 "$OUT/$1")'"; }
capture() { # capture CASE NODE
    local c=$1 n=$2
    cp "$LAB/n$n/etc-corosync/corosync.conf" "$OUT/$c.corosync.conf"
    run "$c" get-token "$n" -g runtime.config.totem.token
    run "$c" get-consensus "$n" -g runtime.config.totem.consensus
    run "$c" get-config-token "$n" -g totem.token
    run "$c" get-token-coefficient "$n" -g runtime.config.totem.token_coefficient
    run "$c" totem-dump "$n" -b runtime.config.totem
    run "$c" members-dump "$n" -b runtime.members
}

echo "corosync fixtures:"
LAB_STARTED=1
NODES=1 TOKEN=4000 "$HERE/cluster-up.sh" > /dev/null 2>&1
capture one-node-token4000 1
expect one-node-token4000.get-token.stdout "runtime.config.totem.token (u32) = 4000"
expect one-node-token4000.get-consensus.stdout "runtime.config.totem.consensus (u32) = 4800"

NODES=3 TOKEN=4000 "$HERE/cluster-up.sh" > /dev/null 2>&1
capture three-node-default 1
expect three-node-default.get-token.stdout "runtime.config.totem.token (u32) = 4650"
expect three-node-default.get-consensus.stdout "runtime.config.totem.consensus (u32) = 5580"
"$HERE/cluster-down.sh" > /dev/null 2>&1
LAB_STARTED=0

corosync-cmapctl -g totem.cluster_name > /dev/null 2>&1 && die "a corosync answers on this host: stop it first"
run no-corosync get-token host -g runtime.config.totem.token
run no-corosync totem-dump host -b runtime.config.totem
expect no-corosync.get-token.rc 1
expect no-corosync.get-token.stderr "Failed to initialize the cmap API. Error CS_ERR_LIBRARY"

{
    echo "# corosync runtime fixtures (generated: do not edit)"
    echo
    echo "Written by \`crm/lab/make-corosync-fixtures.sh\` from real corosync $(corosync -v | sed -n '1s/.*version .\([0-9.]*\).*/\1/p') (Debian 12) in the lab"
    echo "(crm/lab/cluster-up.sh, knet, token 4000). Each command's output is split into"
    echo "\`CASE.CMD.stdout\`, \`CASE.CMD.stderr\` and \`CASE.CMD.rc\` (its exit status)."
    echo
    echo "| case | situation |"
    echo "| --- | --- |"
    echo "| \`one-node-token4000\` | NODES=1 lab, \`token: 4000\`, no consensus set: runtime token 4000, consensus 4800 (1.2 x token) |"
    echo "| \`three-node-default\` | NODES=3 lab, \`token: 4000\`, default token_coefficient (650): runtime token 4650 = 4000 + (3-2) x 650, consensus 5580; \`totem.token\` (the configured value) stays 4000 |"
    echo "| \`no-corosync\` | no corosync running: rc 1, \`Failed to initialize the cmap API. Error CS_ERR_LIBRARY\` on stderr |"
    echo
    echo "| CMD | command |"
    echo "| --- | --- |"
    echo "| \`get-token\` | \`corosync-cmapctl -g runtime.config.totem.token\` |"
    echo "| \`get-consensus\` | \`corosync-cmapctl -g runtime.config.totem.consensus\` |"
    echo "| \`get-config-token\` | \`corosync-cmapctl -g totem.token\` (configured, not effective) |"
    echo "| \`get-token-coefficient\` | \`corosync-cmapctl -g runtime.config.totem.token_coefficient\` (no such key) |"
    echo "| \`totem-dump\` | \`corosync-cmapctl -b runtime.config.totem\` |"
    echo "| \`members-dump\` | \`corosync-cmapctl -b runtime.members\` |"
    echo
    echo "\`CASE.corosync.conf\` is the configuration the lab wrote for that case."
    echo
    echo "Files:"
    echo
    (cd "$OUT" && ls -1 | grep -v '^README.md$' | sed 's/^/- /')
} > "$OUT/README.md"
echo "fixtures in $OUT: $(ls "$OUT" | wc -l) files"
