# lib.sh - helpers for the guest scripts (sourced by main.sh; runs inside the VM as root).
# Every wait here is bounded; nothing loops forever.

OUT=/e2e/out
LOGS=$OUT/logs
REC=$OUT/vm-recorded
RESULTS=$OUT/results.txt
MEASURE=$OUT/measurements.txt

# time since the epoch in ms / a difference in seconds with 3 decimals (no forks)
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
secs() { local d=$(($2 - $1)); printf '%d.%03d' $((d / 1000)) $((d % 1000)); }

sec() { echo; echo "===== $* ====="; }
note() { echo "  .. $*"; }

N_PASS=0 N_FAIL=0 N_SKIP=0
pass() { N_PASS=$((N_PASS + 1)); echo "PASS: $*" | tee -a "$RESULTS"; }
fail() { N_FAIL=$((N_FAIL + 1)); echo "FAIL: $*" | tee -a "$RESULTS"; }
skip() { N_SKIP=$((N_SKIP + 1)); echo "SKIP: $*" | tee -a "$RESULTS"; }
# check NAME CMD...: PASS if CMD succeeds, else FAIL
check() { local n=$1; shift; if "$@"; then pass "$n"; else fail "$n"; fi; }
measure() { echo "$1 $2" >> "$MEASURE"; printf '  MEASURED %-34s %s\n' "$1" "$2"; }

# wait_until SECONDS CMD...: poll CMD every 0.2 s until it succeeds; 1 on timeout
wait_until() {
    local end=$(($(now_ms) + $1 * 1000)); shift
    until "$@" > /dev/null 2>&1; do
        [ "$(now_ms)" -ge "$end" ] && return 1
        sleep 0.2
    done
}

# run CMD...: print the command, its output and its exit code (for the log)
run() { echo "\$ $*"; "$@"; local rc=$?; echo "[rc=$rc]"; return $rc; }

# record NAME CMD...: the real output of CMD (stdout and stderr merged, as 2>&1 gives them)
# and its exit code as $REC/NAME.txt, in the format of tests/fixtures/iscsi/recorded:
# the text, then "[rc=N]". The command line goes to $REC/INDEX. Also echoed to the log.
# INDEX columns: file, seconds the command took, command line.
record() {
    local name=$1 rc t; shift
    t=$(now_ms)
    timeout 120 "$@" > "$REC/$name.txt" 2>&1
    rc=$?
    echo "[rc=$rc]" >> "$REC/$name.txt"
    printf '%s\t%s\t%s\n' "$name.txt" "$(secs "$t" "$(now_ms)")" "$*" >> "$REC/INDEX"
    echo "\$ $*    -> $name.txt ($(secs "$t" "$(now_ms)") s)"; sed 's/^/    /' "$REC/$name.txt"
    return $rc
}
# record_text NAME: stdin (a dump made by this script, not a single command) as $REC/NAME.txt
record_text() {
    cat > "$REC/$1.txt"
    printf '%s\t-\t%s\n' "$1.txt" "${2:-dump}" >> "$REC/INDEX"
    echo "--- $1.txt"; sed 's/^/    /' "$REC/$1.txt"
}

# ---- sysfs --------------------------------------------------------------------------------
# session_of IQN: the sysfs dir of the session to IQN (empty if none)
session_of() {
    local s
    for s in /sys/class/iscsi_session/session*; do
        [ -e "$s/targetname" ] || continue
        [ "$(cat "$s/targetname" 2>/dev/null)" = "$1" ] && { echo "$s"; return 0; }
    done
    return 1
}
conn_of() { local sid=${1##*session}; echo "/sys/class/iscsi_connection/connection$sid:0"; }
disk_of() {   # disk_of SESSION_DIR: sdX of its first LUN
    local b
    for b in "$1"/device/target*/*/block/*; do [ -e "$b" ] && { echo "${b##*/}"; return 0; }; done
    return 1
}
no_sessions() { ! ls /sys/class/iscsi_session/ 2>/dev/null | grep -q session; }
# dumpdir DIR: every readable attribute file of a sysfs dir as "name = value"
dumpdir() {
    local d=$1 f v
    echo "--- $d -> $(readlink -f "$d")"
    for f in "$d"/*; do
        [ -f "$f" ] || continue
        v=$(timeout 5 cat "$f" 2>&1 | tr '\n' ' ')
        printf '  %-28s = %s\n' "${f##*/}" "$v"   # as the lab recorded (value + " ")
    done
}
# sysfs_tree SESSION_DIR: the session, its connection, host, SCSI device and block device
sysfs_tree() {
    local s=$1 sid c h sd b
    sid=${s##*session}
    dumpdir "$s"
    c=$(conn_of "$s"); [ -e "$c" ] && dumpdir "$c"
    h=$(readlink -f "$s" | sed -n 's|.*/\(host[0-9]*\)/session.*|\1|p')
    [ -n "$h" ] && [ -e "/sys/class/iscsi_host/$h" ] && dumpdir "/sys/class/iscsi_host/$h"
    for sd in "$s"/device/target*/[0-9]*:*; do
        [ -e "$sd" ] || continue
        echo "--- scsi device ${sd##*/}: state=$(cat "$sd/state" 2>&1) timeout=$(cat "$sd/timeout" 2>&1) vendor=$(cat "$sd/vendor" 2>&1 | tr -s ' ') model=$(cat "$sd/model" 2>&1 | tr -s ' ')"
        for b in "$sd"/block/*; do
            [ -e "$b" ] && echo "--- block ${b##*/}: size=$(cat "$b/size") ro=$(cat "$b/ro") dev=$(cat "$b/dev")"
        done
    done
    echo "--- directories under /sys/devices/platform/$h/session$sid (power, queue, mq, integrity, trace, holders, slaves left out)"
    (cd "/sys/devices/platform/$h/session$sid" 2>/dev/null && find . -mindepth 1 -maxdepth 6 -type d ! -path '*/power*' ! -path '*/queue*' ! -path '*/mq*' ! -path '*/integrity*' ! -path '*/trace*' ! -path '*/holders*' ! -path '*/slaves*' | sort)
    echo "--- modes of the session's and the connection's attribute files (as ls -l shows them)"
    for f in "$s"/* "$c"/*; do
        [ -f "$f" ] && printf '  %s %s\n' "$(stat -c %A "$f")" "${f#/sys/class/}"
    done
    echo "--- links"
    for l in /sys/class/iscsi_session/session$sid /sys/class/iscsi_connection/connection$sid:0; do
        [ -e "$l" ] && echo "$l -> $(readlink "$l")"
    done
    [ -n "${sd:-}" ] && [ -e "/sys/class/scsi_disk/${sd##*/}" ] && echo "/sys/class/scsi_disk/${sd##*/} -> $(readlink "/sys/class/scsi_disk/${sd##*/}")"
    for b in "$s"/device/target*/*/block/*; do
        [ -e "$b" ] && echo "/sys/block/${b##*/} -> $(readlink "/sys/block/${b##*/}")"
    done
}

# ---- nftables: cut / restore the storage link ---------------------------------------------
link_cut() {
    nft -f - <<'EOF'
table inet e2e {
    chain in  { type filter hook input  priority 0; policy accept; iifname "lo" tcp dport 3260 drop; iifname "lo" tcp sport 3260 drop; }
    chain out { type filter hook output priority 0; policy accept; oifname "lo" tcp dport 3260 drop; oifname "lo" tcp sport 3260 drop; }
}
EOF
}
link_restore() { nft delete table inet e2e 2>/dev/null || true; }

# ---- cluster ------------------------------------------------------------------------------
crm_xml() { timeout 20 crm_mon -1 --output-as=xml 2>/dev/null; }
xp() { xmllint --xpath "$1" - 2>/dev/null || true; }
cluster_settled() {
    local x
    x=$(crm_xml) || return 1
    [ "$(xp 'count(/pacemaker-result/nodes/node[@online="true"])' <<< "$x")" = 1 ] &&
    [ "$(xp 'string(/pacemaker-result/summary/current_dc/@present)' <<< "$x")" = true ]
}
# res_attr ID ATTR: an attribute of the resource's element in crm_mon's XML
res_attr() { crm_xml | xp "string(//resource[@id='$1']/@$2)"; }
res_started() { [ "$(res_attr "$1" role)" = Started ] && [ "$(res_attr "$1" failed)" = false ]; }
res_stopped() { local r; r=$(res_attr "$1" role); [ "$r" = Stopped ] || [ -z "$r" ]; }

# ---- ZFS ----------------------------------------------------------------------------------
# vdev_state POOL PATH: the state column of the vdev whose -P path is PATH
vdev_state() { timeout 10 zpool status -P "$1" 2>/dev/null | awk -v p="$2" '$1 == p {print $2; exit}'; }
pool_state() { timeout 10 zpool list -H -o health "$1" 2>/dev/null; }
