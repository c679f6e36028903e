# drills.sh - the failover drills of e2e-san (sourced by run.sh after the phases).
# Each drill starts from the fault (a SIGKILL of a qemu, a QMP link cut, a pcs command),
# waits (bounded) for what must follow, asserts it, and puts each event on the timeline in
# seconds from the fault, beside the model and the design's published figure:
#   model:  iSCSI I+P = 4 s (connection failed), I+P+R = 9 s (LUN I/O fails, vdev
#           FAULTED); Corosync token 4 s + consensus 4.8 s = 8.8 s (membership without the
#           dead node); sbd msgwait (SBD_MSGWAIT) for a fence to be confirmed
#   design: iSCSI detection ~4 s, LUN fault ~5 s after peer death, unplanned failover
#           ~10-12 s (detection ~4-5, STONITH ~2-4, pool ~2-3, services ~1-2), planned
#           failover ~5-8 s (docs/ha-san-design.md, sections 8 and 10)

LOGTIME=(/usr/bin/python3 "$HERE/logtime.py")
WCHECK=(/usr/bin/python3 "$HERE/writer-check.py")
I=2 P=2 R=5 TOKEN=4 CONSENSUS=4.8
# the agent's features a drill depends on (said in its FAIL line)
NEEDS_AUTO_ONLINE="[the agent's auto_online]"
NEEDS_OUTDATED="[the agent's outdated marking]"

# logs the guests ship (all boots)
pm_logs() { ls "$OUT"/share-$1/out/logs/${VM_NAME[$1]}-boot*-pacemaker.log 2>/dev/null; }
cs_logs() { ls "$OUT"/share-$1/out/logs/${VM_NAME[$1]}-boot*-corosync.log 2>/dev/null; }
msg_logs() { ls "$OUT"/share-$1/out/logs/${VM_NAME[$1]}-boot*-messages 2>/dev/null; }
ev_files() { ls "$OUT"/share-?/out/events.log 2>/dev/null; }
# t_log [--last] SINCE REGEX FILES...: epoch ms of the first (last) matching line, or empty
t_log() { "${LOGTIME[@]}" "$@" 2>/dev/null | cut -d' ' -f1; }
# t_ev NODE KEY VALUE SINCE: when evmon on NODE first saw KEY become VALUE after SINCE
t_ev() { t_log "$4" "^[0-9]+ $1 $2 $3\$" $(ev_files); }
# rel FROM T: seconds from FROM to T, or "-" when T is empty
rel() { if [ -n "$2" ]; then secs "$1" "$2"; else echo -; fi; }
ev_seen() { [ -n "$(t_ev "$@")" ]; }

# a snapshot of the cluster for the log
snapshot() { gx "$1" 30 'crm_mon -1 -r -f -A; zpool status -P san-pool 2>&1 | head -30; iscsiadm -m session 2>&1' > "$OUT/logs/$2.txt" 2>&1; sed 's/^/    /' "$OUT/logs/$2.txt"; }
# writer_check LABEL HOLDER [checker options]: the records on the pool against the acks
writer_check() {
    local label=$1 n=$2; shift 2
    # the acks first: every record acknowledged by then was fsynced before the read below
    cat "$OUT"/share-?/out/writer-acks.log 2>/dev/null > "$OUT/logs/writer-acks-$label.txt"
    gx "$n" 60 'cat /san-pool/writer/records' > "$OUT/logs/writer-records-$label.txt" 2>/dev/null
    "${WCHECK[@]}" "$OUT/logs/writer-records-$label.txt" "$OUT/logs/writer-acks-$label.txt" "$@" > "$OUT/logs/writer-check-$label.txt"
    local rc=$?
    sed 's/^/    writer: /' "$OUT/logs/writer-check-$label.txt"
    return $rc
}
wval() { awk -v k="$2" '$1 == k {print $2}' "$OUT/logs/writer-check-$1.txt"; }
# t_reason N SINCE REGEX: when the agent's monitor on VM N first gave an exit reason matching REGEX
t_reason() { t_log "$2" "mirror_monitor.*ocf-exit-reason:.*($3)" $(pm_logs "$1"); }
mirror_rc190() { gx "$1" 30 "crm_xml | xp \"count(//failures/failure[@node='$2'][starts-with(@op_key,'san-mirror')][@exitcode='190'])\" | grep -qv '^0\$'"; }
# fence_t SURVIVOR VICTIM SINCE: when the survivor's Pacemaker logged the victim fenced, OK
fence_t() { t_log "$(($3 - 1000))" "Peer $2 was terminated .*: OK|Operation '?(reboot|off)'? .*targeting $2 .*(OK|returned: 0)" $(pm_logs "$1"); }
fence_seen() { [ -n "$(fence_t "$@")" ]; }
# ev_any NODE SINCE REGEX: did evmon on NODE log a KEY VALUE matching REGEX after SINCE?
ev_any() { [ -n "$(t_log "$2" "^[0-9]+ $1 ($3)\$" $(ev_files))" ]; }
cleanup() { gxq "$1" 60 'crm_resource --cleanup > /dev/null 2>&1; true'; }   # pcs would be the same, slower

# back_whole SURVIVOR PEER: after a peer returned: sessions both ways, the remote vdev ONLINE
# and resilvered by the agent alone, health green on both. Returns the times in BW_*.
back_whole() {
    local d=$1 s=$2 r=$3 since=$4 t
    BW_SESSION= BW_ONLINE= BW_RESILVERED= BW_GREEN=
    if wait_for 180 gx "$s" 30 '[ "$(peer_session_state)" = LOGGED_IN ]'; then
        BW_SESSION=$(t_ev "${VM_NAME[$s]}" session LOGGED_IN "$since")
        pass "$d ${VM_NAME[$s]}'s session to ${VM_NAME[$r]} back by itself (nobody ran iscsiadm; $(rel "$since" "$BW_SESSION") s after the boot)"
    else
        fail "$d ${VM_NAME[$s]}'s session to ${VM_NAME[$r]} not back within 180 s"
    fi
    if wait_for 240 gx "$r" 30 "clone_on ${VM_NAME[$r]} && [ \"\$(peer_session_state)\" = LOGGED_IN ]"; then
        pass "$d ${VM_NAME[$r]} rejoined: its clone instance started and logged in to ${VM_NAME[$s]}"
    else
        fail "$d ${VM_NAME[$r]} did not rejoin with its clone instance and session within 240 s"
    fi
    fencer_ready "$d" "$r"
    # two monitor intervals (10 s) of a stable session, then the online, then the resilver
    if wait_for 120 gx "$s" 30 '[ "$(remote_vdev_state)" = ONLINE ] && ! resilvering'; then
        BW_ONLINE=$(t_ev "${VM_NAME[$s]}" vdev_remote ONLINE "$since")
        pass "$d the returned vdev is ONLINE and resilvered with nobody running zpool online ($(rel "$since" "$BW_ONLINE") s after the boot)"
    else
        fail "$d $NEEDS_AUTO_ONLINE the returned vdev is still $(gx "$s" 30 remote_vdev_state) 120 s after the session came back: nobody onlined it"
        note "$d: zpool online by hand so that the next drills start from a whole mirror"
        gx "$s" 60 'zpool online san-pool $REMOTE_DEV; zpool clear san-pool' | sed 's/^/    /'
    fi
    if gx "$s" 300 'zpool wait -t resilver san-pool'; then
        BW_RESILVERED=$(now_ms)
        gx "$s" 30 'zpool status san-pool | grep -E "scan:|resilver"' | sed 's/^/    /'
    fi
    if wait_for 120 gx "$s" 30 "[ \"\$(health_of storage-a)\" = green ] && [ \"\$(health_of storage-b)\" = green ]"; then
        BW_GREEN=$(now_ms)
        pass "$d mirror health green on both nodes"
    else
        fail "$d mirror health not green on both nodes within 120 s (storage-a: $(gx "$s" 30 'health_of storage-a'), storage-b: $(gx "$s" 30 'health_of storage-b'))"
    fi
}

# =========================================================================================
drill1() {
    phase "drill 1: the standby node storage-b killed (SIGKILL of its qemu)"
    snapshot a d1-before
    vm_kill b; local K=$KILL_MS
    wait_for 90 ev_seen storage-a vdev_remote FAULTED "$K"
    wait_for 120 mirror_rc190 a storage-a
    wait_for 60 fence_seen a storage-b "$K"
    # the agent's monitor (interval 10 s) with the peer dead: its exit reasons in pacemaker.log
    wait_for 60 t_reason a "$K" 'as expected|offline'
    snapshot a d1-after
    local t_exp; t_exp=$(t_reason a "$K" 'as expected|offline')
    grep -h 'mirror_monitor.*ocf-exit-reason:' $(pm_logs a) | sed 's/.*ocf-exit-reason:/    reason: /; s/ \].*//' | uniq -c | tail -5
    check "d1.1 storage-a's agent monitor reports 190 with the peer offline/unclean 'as expected' in its reason ($(rel "$K" "$t_exp") s after the kill)" test -n "$t_exp"
    local logins iscsid_tries
    logins=$("${LOGTIME[@]}" --count "$((K - 1000))" "iscsi-mirror.*(reconnect|login).*$ST_NET\.2" $(msg_logs a))
    iscsid_tries=$("${LOGTIME[@]}" --count "$((K - 1000))" "iscsid.*$ST_NET\.2" $(msg_logs a))
    check "d1.2 no login attempt by the agent to the dead peer ($logins agent reconnect/login lines naming $ST_NET.2 after the kill; iscsid's own recovery tries: $iscsid_tries)" [ "$logins" = 0 ]
    local t_faulted; t_faulted=$(t_ev storage-a vdev_remote FAULTED "$K")
    [ -z "$t_faulted" ] && t_faulted=$(t_ev storage-a vdev_remote UNAVAIL "$K")
    check "d1.3 storage-a's pool faults the remote vdev ($(rel "$K" "$t_faulted") s after the kill)" [ -n "$t_faulted" ]
    stayed() { ! ev_any storage-a "$K" 'pool exported|vip absent|writer stopped' && gx a 30 '[ "$(rsc_node writer)" = storage-a ] && [ "$(rsc_node san-pool)" = storage-a ]'; }
    check "d1.4 the services never moved: san-pool, VIP and writer stayed on storage-a, never stopped" stayed
    local t_fence; t_fence=$(fence_t a storage-b "$K")
    check "d1.5 storage-b fenced by sbd (confirmed $(rel "$K" "$t_fence") s after the kill)" [ -n "$t_fence" ]
    writer_check d1 a --from "$K"
    local rc=$?
    check "d1.6 every acknowledged writer record is on the pool, intact" [ $rc = 0 ]
    # timeline
    local t_conn t_fail t_free t_lost t_memb t_zed t_190
    t_fail=$(t_ev storage-a session FAILED "$K")
    t_free=$(t_ev storage-a session FREE "$K")
    t_lost=$(t_log "$K" 'A processor failed|token timed out' $(cs_logs a))
    t_memb=$(t_log "$K" '\[QUORUM\] Members\[1\]' $(cs_logs a))
    t_zed=$(zed_statechange_after storage-a "$K")
    t_190=$(t_log "$((K - 1000))" 'monitor operation for san-mirror(:[0-9]+)? on storage-a: degraded|mirror_monitor.*(degraded|190)' $(pm_logs a))
    tl d1 "storage-b SIGKILLed (qemu)" 0.000 "" ""
    tl d1 "storage-a: session to storage-b FAILED (kernel)" "$(rel "$K" "$t_fail")" "I+P = $((I + P)) (from last rx)" "~4 (iSCSI detection)"
    tl d1 "storage-a: corosync token lost" "$(rel "$K" "$t_lost")" "token $TOKEN" ""
    tl d1 "storage-a: membership without storage-b" "$(rel "$K" "$t_memb")" "token+consensus 8.8" ""
    tl d1 "storage-a: session FREE in sysfs" "$(rel "$K" "$t_free")" "I+P+R = $((I + P + R))" "~5 after death (LUN fault)"
    tl d1 "storage-a: remote vdev FAULTED (zpool status, 1 s poll)" "$(rel "$K" "$t_faulted")" "I+P+R = $((I + P + R))" "~5 after death (LUN fault)"
    tl d1 "storage-a: ZED statechange zedlet ran" "$(rel "$K" "$t_zed")" "" ""
    tl d1 "storage-a: fence of storage-b confirmed (sbd)" "$(rel "$K" "$t_fence")" "8.8 + msgwait $SBD_MSGWAIT" "~2-4 (STONITH)"
    tl d1 "storage-a: agent monitor 190 logged (interval 10 s)" "$(rel "$K" "$t_190")" "<= 9 + 10" ""
    tl d1 "storage-a: agent reason 'as expected' (peer unclean/offline)" "$(rel "$K" "$t_exp")" "8.8 + <= 10" ""
    tl d1 "writer: longest stall (s)" "$(wval d1 longest_stall_s)" "<= I+P+R = 9" "0 (no interruption)"
    local t_lo; t_lo=$(wval d1 stall_end_ack_ms); [ "$t_lo" = none ] && t_lo=
    tl d1 "writer: first record acknowledged on the local half only" "$(rel "$K" "$t_lo")" "I+P+R = 9 (from last rx)" ""
    tl d1 "  ... then the ZED statechange zedlet, later by" "$(rel "$t_lo" "$t_zed")" "" ""
    D1_K=$K
}

# zed_statechange_after NODE SINCE: when the first statechange zedlet ran on NODE after SINCE
zed_statechange_after() {
    local f ns best=
    for f in "$OUT"/share-?/out/zevents/$1/*statechange*all-zevent-dump.sh.env; do
        [ -e "$f" ] || continue
        ns=${f##*/}; ns=${ns%%-*}
        [ $((ns / 1000000)) -ge "$2" ] || continue
        [ -z "$best" ] || [ "$ns" -lt "$best" ] && best=$ns
    done
    [ -n "$best" ] && echo $((best / 1000000))
}

# =========================================================================================
# drill3 D SURVIVOR RETURNING: the killed node boots again and must rejoin on its own
drill3() {
    local d=$1 s=$2 r=$3
    phase "drill $d: ${VM_NAME[$r]} returns (booted again): rejoin, sessions, the vdev back, health green"
    cleanup "$s"
    vm_start "$r" || { fail "$d could not boot ${VM_NAME[$r]} again"; return 1; }
    local B=$(now_ms)
    if vm_wait_ready "$r" 420; then
        note "$d ${VM_NAME[$r]} booted to its command loop in $(secs "$B" "$(now_ms)") s"
    else
        fail "$d ${VM_NAME[$r]} did not boot within 420 s"; return 1
    fi
    gx "$r" 30 'sbd -d /dev/disk/by-id/virtio-sbd list' | sed 's/^/    sbd: /'
    if wait_for 180 gx "$s" 30 both_online; then
        pass "$d ${VM_NAME[$r]} rejoined the cluster ($(secs "$B" "$(now_ms)") s after its boot began)"
    else
        fail "$d ${VM_NAME[$r]} did not rejoin the cluster within 180 s"
        snapshot "$s" "d$d-no-rejoin"; return 1
    fi
    back_whole "$d" "$s" "$r" "$B"
    writer_check "d$d" "$s" --from "$B"
    check "$d every writer record acknowledged so far is on the pool, intact" [ $? = 0 ]
    check "$d the services stayed on ${VM_NAME[$s]} (stickiness)" gx "$s" 30 "[ \"\$(rsc_node writer)\" = ${VM_NAME[$s]} ]"
    snapshot "$s" "d$d-after"
    tl "d$d" "${VM_NAME[$r]} booted again" 0.000 "" ""
    tl "d$d" "${VM_NAME[$s]}: session to ${VM_NAME[$r]} LOGGED_IN" "$(rel "$B" "$BW_SESSION")" "" ""
    tl "d$d" "${VM_NAME[$s]}: remote vdev ONLINE (no admin)" "$(rel "$B" "$BW_ONLINE")" "" "auto (zfs_autoreplace / manual)"
    tl "d$d" "${VM_NAME[$s]}: resilver over" "$(rel "$B" "$BW_RESILVERED")" "" ""
    tl "d$d" "health green on both" "$(rel "$B" "$BW_GREEN")" "" ""
}

# =========================================================================================
drill2() {
    phase "drill 2: the active node storage-a killed (SIGKILL of its qemu)"
    cleanup a
    snapshot b d2-before
    vm_kill a; local K=$KILL_MS
    wait_for 120 gx b 30 '[ "$(rsc_node writer)" = storage-b ]'
    wait_for 30 ev_seen storage-b writer running "$K"
    sleep 5
    snapshot b d2-after
    local t_fence t_lost t_memb t_pstart t_pdone t_vip t_wr t_first
    t_lost=$(t_log "$K" 'A processor failed|token timed out' $(cs_logs b))
    t_memb=$(t_log "$K" '\[QUORUM\] Members\[1\]' $(cs_logs b))
    t_fence=$(fence_t b storage-a "$K")
    t_pstart=$(t_log "$((K - 1000))" 'Requesting local execution of start operation for san-pool|Initiating start operation san-pool_start_0' $(pm_logs b))
    t_pdone=$(t_log "$((K - 1000))" 'Result of start operation for san-pool on storage-b' $(pm_logs b))
    t_vip=$(t_ev storage-b vip present "$K")
    t_wr=$(t_ev storage-b writer running "$K")
    writer_check d2 b --from "$K"
    local wrc=$?
    t_first=$(wval d2 first_after_ms)
    check "d2.1 storage-a fenced by sbd, confirmed on storage-b ($(rel "$K" "$t_fence") s after the kill)" [ -n "$t_fence" ]
    check "d2.2 san-pool imported on storage-b, DEGRADED (its remote half is storage-a's dead disk)" \
        gx b 30 'pool_imported && [ "$(timeout 10 zpool list -H -o health san-pool)" = DEGRADED ]'
    check "d2.3 VIP $VIP on storage-b" gx b 30 '[ "$(rsc_node san-vip)" = storage-b ]'
    check "d2.4 the writer resumed on storage-b ($(rel "$K" "$t_first") s after the kill)" test -n "$t_first" -a "$t_first" != none
    check "d2.5 every acknowledged writer record is on the pool, intact" [ $wrc = 0 ]
    tl d2 "storage-a SIGKILLed (qemu)" 0.000 "" ""
    tl d2 "storage-b: corosync token lost" "$(rel "$K" "$t_lost")" "token $TOKEN" ""
    tl d2 "storage-b: membership without storage-a (detection)" "$(rel "$K" "$t_memb")" "token+consensus 8.8" "~4-5 (detection)"
    tl d2 "storage-b: fence of storage-a confirmed (sbd)" "$(rel "$K" "$t_fence")" "8.8 + msgwait $SBD_MSGWAIT" "+2-4 (STONITH)"
    tl d2 "storage-b: san-pool start (import) begins" "$(rel "$K" "$t_pstart")" "" ""
    tl d2 "storage-b: san-pool imported" "$(rel "$K" "$t_pdone")" "" "+2-3 (pool)"
    tl d2 "storage-b: VIP up" "$(rel "$K" "$t_vip")" "" ""
    tl d2 "storage-b: writer running" "$(rel "$K" "$t_wr")" "" "+1-2 (services)"
    tl d2 "storage-b: first writer record (service back)" "$(rel "$K" "$t_first")" "" "~10-12 total"
    if [ -n "$t_memb" ] && [ -n "$t_fence" ] && [ -n "$t_pstart" ] && [ -n "$t_pdone" ] && [ -n "$t_first" ] && [ "$t_first" != none ]; then
        tl d2 "  split: detection" "$(rel "$K" "$t_memb")" "8.8" "~4-5"
        tl d2 "  split: fencing (membership -> fence confirmed)" "$(rel "$t_memb" "$t_fence")" "msgwait $SBD_MSGWAIT" "~2-4"
        tl d2 "  split: import (start -> done; includes the MMP activity check)" "$(rel "$t_pstart" "$t_pdone")" "" "~2-3"
        tl d2 "  split: service start (imported -> first record)" "$(rel "$t_pdone" "$t_first")" "" "~1-2"
    fi
    D2_K=$K
}

# =========================================================================================
drill5() {
    phase "drill 5: planned failover, pcs node standby storage-b (the holder): clean export, clean import"
    cleanup b
    snapshot b d5-before
    local scan0; scan0=$(gx b 30 'zpool status san-pool | grep "scan:"')
    local K0=$(now_ms)
    gx b 120 'pcs node standby storage-b' | sed 's/^/    /'
    echo "$K0 host pcs node standby storage-b" >> "$OUT/host-events.log"
    # the failover starts when the CIB has standby=on (pcs itself takes seconds to start)
    local K; K=$(t_log "$((K0 - 1000))" 'name="standby" value="on"' $(pm_logs b))
    [ -n "$K" ] || K=$K0
    note "d5 pcs node standby: the CIB had standby=on $(secs "$K0" "$K") s after pcs was started"
    wait_for 120 gx a 30 '[ "$(rsc_node writer)" = storage-a ]'
    wait_for 30 ev_seen storage-a writer running "$K"
    sleep 3
    snapshot a d5-after
    local t_stop t_exp t_imp t_vip t_first
    t_stop=$(t_ev storage-b writer stopped "$K")
    t_exp=$(t_ev storage-b pool exported "$K")
    t_imp=$(t_ev storage-a pool imported "$K")
    t_vip=$(t_ev storage-a vip present "$K")
    writer_check d5 a --from "$K"
    local wrc=$?
    t_first=$(wval d5 first_after_ms)
    check "d5.1 the pool moved to storage-a: imported, ONLINE, both vdevs ONLINE" \
        gx a 30 '[ "$(timeout 10 zpool list -H -o health san-pool)" = ONLINE ] && [ "$(remote_vdev_state)" = ONLINE ] && [ "$(local_vdev_state)" = ONLINE ]'
    local scan1; scan1=$(gx a 30 'zpool status san-pool | grep "scan:"')
    note "d5 scan line before (storage-b): $scan0 | after (storage-a): $scan1"
    check "d5.2 no resilver after the planned failover (the pool's scan line unchanged)" test "$scan0" = "$scan1"
    check "d5.3 writer resumed on storage-a, every acknowledged record intact" test "$wrc" = 0 -a "$t_first" != none
    tl d5 "CIB: standby=on for storage-b (pcs node standby)" 0.000 "" ""
    tl d5 "storage-b: writer stopped" "$(rel "$K" "$t_stop")" "" ""
    tl d5 "storage-b: pool exported" "$(rel "$K" "$t_exp")" "" "~1-2 (export+import)"
    tl d5 "storage-a: pool imported" "$(rel "$K" "$t_imp")" "" ""
    tl d5 "storage-a: VIP up" "$(rel "$K" "$t_vip")" "" ""
    tl d5 "storage-a: first writer record (service back)" "$(rel "$K" "$t_first")" "" "~5-8 total"
    tl d5 "writer: longest stall (s)" "$(wval d5 longest_stall_s)" "" "~5-8"
    gx b 120 'pcs node unstandby storage-b' | sed 's/^/    /'
    wait_for 120 gx a 30 'clone_on storage-b'
    check "d5.4 storage-b back from standby, its clone instance started; services stay on storage-a" \
        gx a 30 'clone_on storage-b && [ "$(rsc_node writer)" = storage-a ]'
}

# =========================================================================================
drill4() {
    phase "drill 4: the storage link alone cut (cluster up); the stale half must not be imported"
    cleanup a
    snapshot a d4-before
    link a st down; link b st down; local K=$(now_ms)
    wait_for 60 ev_seen storage-a vdev_remote FAULTED "$K"
    wait_for 90 t_reason a "$K" 'storage network down'
    wait_for 90 t_reason b "$K" 'storage network down'
    local ra rb
    ra=$(t_reason a "$K" 'storage network down'); rb=$(t_reason b "$K" 'storage network down')
    check "d4.1 the cluster stays up over the cluster link (both nodes online)" gx a 30 both_online
    check "d4.2 storage-a's agent reports storage network down ($(rel "$K" "$ra") s after the cut)" test -n "$ra"
    check "d4.3 storage-b's agent reports storage network down ($(rel "$K" "$rb") s after the cut)" test -n "$rb"
    local t_out=
    if wait_for 60 gx a 30 '[ "$(node_attr storage-b iscsi-mirror-outdated forever)" = 1 ]'; then
        t_out=$(now_ms)
        pass "d4.4 storage-b's half marked outdated: iscsi-mirror-outdated=1 (permanent) on storage-b ($(rel "$K" "$t_out") s after the cut, at 0.5 s resolution)"
    else
        fail "d4.4 $NEEDS_OUTDATED storage-b's half missed writes but iscsi-mirror-outdated is '$(gx a 30 'node_attr storage-b iscsi-mirror-outdated forever')' on storage-b, 60 s after the cut"
    fi
    local t_faulted; t_faulted=$(t_ev storage-a vdev_remote FAULTED "$K")
    local t_zed; t_zed=$(zed_statechange_after storage-a "$K")
    # the writer across the cut: the first record that reached storage-a's half only
    writer_check d4cut a --from "$K" > /dev/null
    local t_lo; t_lo=$(wval d4cut stall_end_ack_ms); [ "$t_lo" = none ] && t_lo=
    sleep 3
    vm_kill a; local K2=$KILL_MS
    wait_for 60 fence_seen b storage-a "$K2"
    local t_fence; t_fence=$(fence_t b storage-a "$K2")
    sleep 15
    snapshot b d4-after-kill
    check "d4.5 storage-a fenced (sbd) after its kill" [ -n "$t_fence" ]
    if gx b 30 '! pool_imported && [ -z "$(rsc_node san-pool)" ]'; then
        pass "d4.6 san-pool NOT started on the outdated storage-b"
    else
        fail "d4.6 $NEEDS_OUTDATED san-pool was imported on storage-b, whose half missed the writes after the cut: a silent rollback"
    fi
    gx b 60 'crm_resource --why -r san-pool 2>&1; crm_simulate -sL 2>/dev/null | grep -E "san-pool.*storage-b"' > "$OUT/logs/d4-why.txt" 2>&1
    sed 's/^/    why: /' "$OUT/logs/d4-why.txt"
    check "d4.7 Pacemaker says why (crm_resource --why / crm_simulate: -INFINITY for san-pool on storage-b) $NEEDS_OUTDATED" \
        grep -Eiq 'INFINITY|outdated|cannot run|not allowed' "$OUT/logs/d4-why.txt"
    # the documented override: accept the loss of what only storage-a had
    local t_ov=$(now_ms)
    gx b 60 "$OUTDATED_CLEAR storage-b" > "$OUT/logs/d4-override.txt" 2>&1
    local orc=$?
    sed 's/^/    override: /' "$OUT/logs/d4-override.txt"
    check "d4.8 the override ran: $OUTDATED_CLEAR storage-b (rc=$orc) $NEEDS_OUTDATED" [ $orc = 0 ]
    if wait_for 120 gx b 30 '[ "$(rsc_node writer)" = storage-b ]'; then
        pass "d4.9 after the override san-pool, VIP and writer run on storage-b ($(secs "$t_ov" "$(now_ms)") s)"
    else
        fail "d4.9 services not started on storage-b within 120 s of the override"
    fi
    sleep 3
    writer_check d4 b --from "$t_ov" --loss-window "$K" "$K2"
    local wrc=$?
    check "d4.10 the records acknowledged before the cut are intact on storage-b's half; $(wval d4 missing_in_loss_window) acknowledged after the cut are lost (accepted by the override)" [ $wrc = 0 ]
    tl d4 "storage link cut (QMP, both NICs)" 0.000 "" ""
    tl d4 "storage-a: remote vdev FAULTED (1 s poll)" "$(rel "$K" "$t_faulted")" "I+P+R = $((I + P + R))" "~5 after (LUN fault)"
    tl d4 "storage-a: ZED statechange zedlet ran" "$(rel "$K" "$t_zed")" "" ""
    tl d4 "storage-a: agent says storage network down" "$(rel "$K" "$ra")" "I+P+R 9 + <= 10" ""
    tl d4 "storage-b: agent says storage network down" "$(rel "$K" "$rb")" "I+P+R 9 + <= 10" ""
    tl d4 "writer: longest stall at the cut (s)" "$(wval d4cut longest_stall_s)" "<= I+P+R = 9" ""
    tl d4 "writer: first record acknowledged on storage-a's half only" "$(rel "$K" "$t_lo")" "I+P+R = 9 (from last rx)" ""
    tl d4 "  ... then the ZED statechange zedlet, later by" "$(rel "$t_lo" "$t_zed")" "" ""
    tl d4 "iscsi-mirror-outdated=1 on storage-b (seen by the drill)" "$(rel "$K" "$t_out")" "" ""
    # the mark as storage-a's evmon saw it in the CIB (1 s poll): the stale-half window's end
    local t_mark; t_mark=$(t_ev storage-a outdated_storage-b 1 "$K")
    tl d4 "iscsi-mirror-outdated=1 in the CIB (storage-a's 1 s poll)" "$(rel "$K" "$t_mark")" "" ""
    tl d4 "  stale-half window: first local-only record -> the mark in the CIB" "$(rel "$t_lo" "$t_mark")" "" ""
    tl d4 "storage-a SIGKILLed" "$(rel "$K" "$K2")" "" ""
    tl d4 "storage-b: fence of storage-a confirmed" "$(rel "$K" "$t_fence")" "" ""
    tl d4 "override run on storage-b" "$(rel "$K" "$t_ov")" "" ""
    tl d4 "writer: records lost (acknowledged after the cut)" "$(wval d4 missing_in_loss_window)" "" ""
    link b st up
}

run_drills() {
    local t
    t=$(now_ms); drill1;             note "drill 1 took $(secs "$t" "$(now_ms)") s"
    t=$(now_ms); drill3 3 a b;       note "drill 3 (storage-b returns) took $(secs "$t" "$(now_ms)") s"
    t=$(now_ms); drill2;             note "drill 2 took $(secs "$t" "$(now_ms)") s"
    t=$(now_ms); drill3 3b b a;      note "drill 3b (storage-a returns) took $(secs "$t" "$(now_ms)") s"
    t=$(now_ms); drill5;             note "drill 5 took $(secs "$t" "$(now_ms)") s"
    t=$(now_ms); drill4;             note "drill 4 took $(secs "$t" "$(now_ms)") s"
    return 0
}
