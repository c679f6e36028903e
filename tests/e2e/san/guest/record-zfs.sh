# record-zfs.sh - real ZFS outputs for the agent's parsers and stand-ins, recorded in the
# e2e-san VMs (sourced by the commands the host sends; the host's run.sh drives the pool
# through the states). `zrec STATE` records, on this node, into /e2e/out/zfs-recorded/:
#   STATE.NAME.txt   the output of one command (stdout and stderr merged, as 2>&1 gives
#                    them) followed by "[rc=N]", the format of tests/fixtures/iscsi/
#   INDEX            "file <TAB> seconds it took <TAB> node <TAB> command"
# run.sh copies them to tests/fixtures/zfs/vm-recorded/ when E2E_RECORD=1. The ZFS 2.1
# recorder (tests/e2e/zfs21) sources it too, with ZREC_JSON=0: 2.1 has no `zpool status -j`,
# so zrec leaves the JSON forms out and zrec_json_rejected records 2.1's refusal once.
ZREC=/e2e/out/zfs-recorded
mkdir -p "$ZREC"

# zcmd STATE NAME CMD...: one recording
zcmd() {
    local state=$1 name=$2 t rc f shown; shift 2
    f="$ZREC/$state.$name.txt"
    t=$(now_ms)
    if [ "${ZCMD_STDERR_ONLY:-0}" = 1 ]; then
        timeout 30 "$@" 2> "$f" > /dev/null
    else
        timeout 30 "$@" > "$f" 2>&1
    fi
    rc=$?
    shown="$*"
    [ "${ZCMD_STDERR_ONLY:-0}" = 1 ] && shown="$* 2>&1 >/dev/null"
    echo "[rc=$rc]" >> "$f"
    printf '%s\t%s\t%s\t%s\n' "${f##*/}" "$(secs "$t" "$(now_ms)")" "$NODE" "$shown" >> "$ZREC/INDEX"
    return 0
}
# zcmd_stderr STATE NAME CMD...: CMD's stderr alone (its stdout thrown away), for an output
# whose stream matters; INDEX shows the redirection
zcmd_stderr() { ZCMD_STDERR_ONLY=1 zcmd "$@"; }
# zdump STATE NAME: stdin (a dump made here, not one command) as a recording
zdump() {
    cat > "$ZREC/$1.$2.txt"
    printf '%s\t-\t%s\t%s\n' "$1.$2.txt" "$NODE" "${3:-dump}" >> "$ZREC/INDEX"
}

# the SCSI device of the peer's disk: state and the kernel's I/O counters
scsi_counters() {
    local s d sd f
    s=$(peer_session) || { echo "no session to $PEER_IQN"; return 0; }
    d=$(disk_of "$s") || { echo "session $s has no disk"; return 0; }
    sd=$(readlink -f "/sys/block/$d/device")
    echo "# $s ($(cat "$s/state" 2>/dev/null)) -> $d -> ${sd#/sys/devices/}"
    for f in state ioerr_cnt iorequest_cnt iodone_cnt iotmo_cnt queue_depth timeout eh_timeout; do
        [ -e "$sd/$f" ] && printf '%s = %s\n' "$f" "$(cat "$sd/$f" 2>&1)"
    done
    echo "# the same through /sys/class/scsi_device/*/device/"
    for f in /sys/class/scsi_device/*/device; do
        [ "$(readlink -f "$f")" = "$sd" ] && echo "/sys/class/scsi_device/$(basename "$(dirname "$f")")/device"
    done
}

# zrec STATE: the pool as this node sees it, every form the agent may parse
zrec() {
    local st=$1
    zcmd "$st" zpool-status-P zpool status -P $POOL
    if [ "${ZREC_JSON:-1}" = 1 ]; then
        zcmd "$st" zpool-status-P-j zpool status -P -j $POOL
        zcmd "$st" zpool-status-P-j-json-int-flat zpool status -P -j --json-int --json-flat-vdevs $POOL
    fi
    zcmd "$st" zpool-status-p zpool status -p $POOL
    zcmd "$st" zpool-status-x zpool status -x $POOL
    zcmd "$st" zpool-list-H zpool list -H -o name,health
    zcmd "$st" zpool-get-H-p zpool get -H -p multihost,failmode $POOL
    zcmd "$st" kstat-state cat /proc/spl/kstat/zfs/$POOL/state
    zcmd "$st" kstat-ls ls /proc/spl/kstat/zfs/$POOL/
    scsi_counters | zdump "$st" scsi-counters "state and I/O counters of the peer disk's scsi_device"
}

# zrec_host STATE: what does not depend on the pool's state (once per node)
zrec_host() {
    local st=$1 p
    zcmd "$st" hostid hostid
    zcmd "$st" etc-hostid od -An -tx1 /etc/hostid
    for p in zfs_multihost_interval zfs_multihost_fail_intervals zfs_multihost_import_intervals; do
        zcmd "$st" "$p" cat /sys/module/zfs/parameters/$p
    done
    zcmd "$st" spl_hostid cat /sys/module/spl/parameters/spl_hostid
    zcmd "$st" zfs-version zfs version
}

# zrec_json_rejected STATE: the JSON forms a ZFS without -j refuses (the agent asks for the
# second and falls back to the text on this answer): merged as zrec has them, and the
# agent's form's stderr alone
zrec_json_rejected() {
    local st=$1
    zcmd "$st" zpool-status-P-j zpool status -P -j $POOL
    zcmd "$st" zpool-status-P-j-json-int-flat zpool status -P -j --json-int --json-flat-vdevs $POOL
    zcmd_stderr "$st" zpool-status-P-j-json-int-flat.stderr zpool status -P -j --json-int --json-flat-vdevs $POOL
}

# zevents_since STATE: `zpool events -v` as it is now (the kernel's event log)
zevents_now() { zcmd "$1" zpool-events-v zpool events -v; }
