# phases.sh - the e2e-san phases before and after the drills (sourced by run.sh).
# Each phase returns non-zero when the run cannot go on meaningfully.

PROBE_DISK=/dev/disk/by-path/virtio-pci-0000:00:15.0

# ---- cluster ------------------------------------------------------------------------------
phase_cluster() {
    phase "cluster: corosync (2 links, two_node) + pacemaker + sbd on both nodes"
    local t; t=$(now_ms)
    if wait_for 240 gx a 30 both_online; then
        pass "c1 two-node cluster formed: both nodes online, DC elected ($(secs "$T_BOOT" "$(now_ms)") s after launch)"
    else
        fail "c1 the two nodes did not form a cluster within 240 s"
        gx a 30 'crm_mon -1; corosync-cfgtool -s; corosync-quorumtool -s' | sed 's/^/    /'
        return 1
    fi
    gx a 60 'corosync-cfgtool -s; corosync-quorumtool -s; corosync-cmapctl -g runtime.config.totem.token;
        corosync-cmapctl -g runtime.config.totem.consensus; sbd -d /dev/disk/by-id/virtio-sbd list;
        sbd -d /dev/disk/by-id/virtio-sbd dump; crm_attribute -t crm_config -n have-watchdog -G -q; crm_mon -1' \
        > "$OUT/logs/cluster-formed.txt"
    sed 's/^/    /' "$OUT/logs/cluster-formed.txt"
    check "c2 corosync token 4000 ms, consensus 4800 ms (runtime.config.totem)" \
        sh -c "grep -q 'runtime.config.totem.token (u32) = 4000' $OUT/logs/cluster-formed.txt && grep -q 'runtime.config.totem.consensus (u32) = 4800' $OUT/logs/cluster-formed.txt"
    check "c3 quorum: 2 votes, flags 2Node WaitForAll" sh -c "grep -Eq 'Flags: .*2Node.*WaitForAll|Flags: .*WaitForAll.*2Node' $OUT/logs/cluster-formed.txt"
    check "c4 both nodes have an sbd slot on the shared disk" sh -c "grep -q 'storage-a' $OUT/logs/cluster-formed.txt && grep -Eq '^[0-9]+[[:space:]]+storage-b' $OUT/logs/cluster-formed.txt"
    local n; for n in a b; do
        check "c0 ${VM_NAME[$n]}: the agent installed from its .deb, with the ZED hook's links in /etc/zfs/zed.d" \
            gx $n 30 'dpkg-query -W -f="\${Status}" iscsi-mirror | grep -q "install ok installed" && [ -x /usr/lib/ocf/resource.d/san/iscsi-mirror ] && [ -L /etc/zfs/zed.d/statechange-iscsi-mirror ]'
        check "c5 sbd runs on ${VM_NAME[$n]} with the i6300esb watchdog, pacemaker sees it (have-watchdog=true)" \
            gx $n 30 'kill -0 $(cat /run/sbd.pid) && grep -q "^SBD_WATCHDOG_DEV=/dev/watchdog" /etc/default/sbd && [ "$(crm_attribute -t crm_config -n have-watchdog -G -q)" = true ]'
    done
}

# ---- LIO: block backstore vs ZFS on the same disk; fileio coherence --------------------------
phase_lio_probe() {
    phase "LIO probe: a block backstore and ZFS on one disk; a fileio backstore's page cache"
    local f=$OUT/logs/lio-probe.txt
    gx a 600 "
        PD=\$(readlink -f $PROBE_DISK); P1=\${PD}1
        r() { echo \"\\\$ \$*\"; \"\$@\" 2>&1; echo \"[rc=\$?]\"; }
        echo \"probe disk \$PD (partition \$P1), kernel \$(uname -r), \$(zfs version | head -1), targetcli \$(dpkg-query -W -f='\${Version}' targetcli-fb)\"
        echo '### 1. block backstore on the whole disk first, then ZFS on its partition'
        r targetcli /backstores/block create name=probeblk dev=\$PD
        r zpool create -f -o cachefile=none probe-pool \$P1
        r blockdev --rereadpt \$PD
        r targetcli /backstores/block delete probeblk
        echo '### 2. ZFS on the partition first, then a block backstore on the whole disk'
        r zpool create -f -o cachefile=none probe-pool \$P1
        r targetcli /backstores/block create name=probeblk dev=\$PD
        echo '### 3. ZFS on the partition, a block backstore on that same partition'
        r targetcli /backstores/block create name=probeblk1 dev=\$P1
        targetcli /backstores/block delete probeblk > /dev/null 2>&1
        targetcli /backstores/block delete probeblk1 > /dev/null 2>&1
        echo '### 4. ZFS on the partition, then a fileio backstore (write_back=false) on the whole disk'
        r targetcli /backstores/fileio create name=probefio file_or_dev=\$PD write_back=false
        r zpool destroy probe-pool
        targetcli /backstores/fileio delete probefio > /dev/null 2>&1
        echo '### 5. a fileio backstore (write_back=false) on the whole disk first, then ZFS on its partition (the lab: LIO at boot, the pool imported later)'
        r targetcli /backstores/fileio create name=probefio file_or_dev=\$PD write_back=false
        r zpool create -f -o cachefile=none probe-pool \$P1
        r zpool destroy probe-pool
        echo '### 6. coherence: the fileio LUN exported, storage-b reads it, storage-a writes the partition as ZFS does (direct, not through the whole disk)'
        targetcli /iscsi create $IQN_BASE:storage-a.probe > /dev/null
        targetcli /iscsi/$IQN_BASE:storage-a.probe/tpg1/luns create /backstores/fileio/probefio > /dev/null
        targetcli /iscsi/$IQN_BASE:storage-a.probe/tpg1/portals create $ST_NET.1 3260 > /dev/null
        targetcli /iscsi/$IQN_BASE:storage-a.probe/tpg1 set attribute authentication=0 generate_node_acls=1 demo_mode_write_protect=0 cache_dynamic_acls=1 > /dev/null
        # block 1024 (4 KiB blocks: 4 MiB into the disk, 3 MiB into the partition) := OLD
        printf 'OLD-%4092s' '' | tr ' ' o | dd of=\$PD bs=4096 seek=1024 count=1 oflag=direct conv=notrunc status=none
        echo \"storage-a wrote OLD at 4 MiB of \$PD (O_DIRECT)\"
    " > "$f" 2>&1
    local dev=/dev/disk/by-path/ip-$ST_NET.1:3260-iscsi-$IQN_BASE:storage-a.probe-lun-0
    local rd="dd if=$dev bs=4096 skip=1024 count=1 iflag=direct status=none | head -c 3; echo"
    {
        gx b 300 "iscsiadm -m node -o new -T $IQN_BASE:storage-a.probe -p $ST_NET.1:3260 > /dev/null
            timeout 30 iscsiadm -m node -T $IQN_BASE:storage-a.probe -p $ST_NET.1:3260 --login
            wait_until 30 test -e $dev; echo \"storage-b: $dev -> \$(readlink -f $dev)\"
            echo \"storage-b reads 4 MiB of the LUN (O_DIRECT): \$($rd)\""
        gx a 30 "P1=\$(readlink -f $PROBE_DISK)1
            printf 'NEW-%4092s' '' | tr ' ' n | dd of=\$P1 bs=4096 seek=768 count=1 oflag=direct conv=notrunc status=none
            echo \"storage-a wrote NEW at 3 MiB of \$P1 (O_DIRECT, as ZFS writes its vdev); reads back from the partition: \$(dd if=\$P1 bs=4096 skip=768 count=1 iflag=direct status=none | head -c 3), from the whole disk (O_DIRECT): \$(dd if=\$(readlink -f $PROBE_DISK) bs=4096 skip=1024 count=1 iflag=direct status=none | head -c 3)\""
        gx b 30 "echo \"storage-b reads 4 MiB of the LUN again (O_DIRECT): \$($rd)\""
        gx a 30 "blockdev --flushbufs \$(readlink -f $PROBE_DISK); echo \"storage-a: blockdev --flushbufs on the whole disk rc=\$?\""
        gx b 30 "echo \"storage-b reads 4 MiB of the LUN after the flush (O_DIRECT): \$($rd)\"
            iscsiadm -m node -T $IQN_BASE:storage-a.probe -p $ST_NET.1:3260 --logout > /dev/null
            iscsiadm -m node -T $IQN_BASE:storage-a.probe -p $ST_NET.1:3260 -o delete"
        gx a 30 "targetcli /iscsi delete $IQN_BASE:storage-a.probe > /dev/null; targetcli /backstores/fileio delete probefio > /dev/null; echo 'probe target removed'"
    } >> "$f" 2>&1
    sed 's/^/    /' "$f"
    # what the probe found, as findings (kernel facts the lab's configuration rests on)
    {
        echo "LIO probe (logs/lio-probe.txt), kernel $(grep -m1 -o 'kernel [^,]*' "$f"):"
        awk '/^### /{h=$0} /^\$ /{c=$0} /^\[rc=/{print "  " substr(h,5,60) " | " substr(c,3) " -> " $0}' "$f"
        grep -E '^storage-[ab] ' "$f" | sed 's/^/  /'
    } >> "$OUT/findings.txt"
    # the lab's export rests on 5: fileio first, then ZFS on the partition, both working
    check "p1 a fileio backstore on the whole disk, then ZFS on its partition: both work (the lab's export)" \
        awk '/^### 5/{s=1} /^### 6/{s=0} s && /^\[rc=/{n++; if ($0 == "[rc=0]") ok++} END{exit !(n >= 2 && ok == n)}' "$f"
}

# ---- the pool, and the ZFS recordings ----------------------------------------------------------
# sessions by hand here (the agent is not configured yet): the recordings need states the
# agent would repair (a FAULTED vdev whose session is back)
ISCSI_TIMERS='node.conn[0].timeo.noop_out_interval=2 node.conn[0].timeo.noop_out_timeout=2 node.session.timeo.replacement_timeout=5 node.conn[0].timeo.login_timeout=10'
login_peer_script() {
    cat <<EOF
iscsiadm -m node -o new -T \$PEER_IQN -p \$PEER_ST:3260 > /dev/null
for kv in $ISCSI_TIMERS; do iscsiadm -m node -T \$PEER_IQN -p \$PEER_ST:3260 -o update -n "\${kv%%=*}" -v "\${kv#*=}"; done
timeout 30 iscsiadm -m node -T \$PEER_IQN -p \$PEER_ST:3260 --login && wait_until 30 test -e \$REMOTE_DEV && udevadm settle -t 10
EOF
}
phase_pool_recordings() {
    phase "pool san-pool = mirror(storage-a's disk, storage-b's disk over iSCSI); ZFS recordings"
    local rz=". /e2e/guest/record-zfs.sh;"
    gxq a 30 "$rz zrec_host host-\$NODE"; gxq b 30 "$rz zrec_host host-\$NODE"
    if ! gx a 300 "$(login_peer_script)"; then
        fail "r0 storage-a could not log in to storage-b's target"; return 1
    fi
    gx a 300 "zpool create -f -o multihost=on -o ashift=12 -o cachefile=none -O compression=off -O atime=off \
        $POOL mirror \$LOCAL_DEV \$REMOTE_DEV && dd if=/dev/urandom of=/$POOL/seed bs=1M count=16 status=none && zpool sync $POOL && zpool status -P $POOL" \
        | tee "$OUT/logs/pool-created.txt" | sed 's/^/    /'
    if ! grep -q 'state: ONLINE' "$OUT/logs/pool-created.txt"; then
        fail "r1 zpool create san-pool mirror(local, remote) on storage-a"; return 1
    fi
    pass "r1 san-pool created on storage-a: mirror of its disk and storage-b's disk over iSCSI, multihost=on"
    if [ "${SAN_RECORD:-1}" = 0 ]; then   # working on the drills: the pool only
        gx a 60 "zpool export $POOL; iscsiadm -m node -T \$PEER_IQN -p \$PEER_ST:3260 --logout > /dev/null; iscsiadm -m node -o delete" | sed 's/^/    /'
        return 0
    fi
    gxq a 60 "$rz zrec healthy"
    gxq b 60 "$rz zrec not-imported; zcmd imported-elsewhere zpool-import zpool import; zcmd imported-elsewhere zpool-import-d-by-path zpool import -d /dev/disk/by-path"

    # --- the remote leg faults: the storage link cut (both NICs, QMP) with a write pending
    note "storage link cut (QMP set_link off on both nodes' storage NICs) with a write + sync pending"
    link a st down; link b st down; local cut=$(now_ms)
    gx a 120 "t0=\$(now_ms)
        ( dd if=/dev/urandom of=/$POOL/during-cut bs=1M count=8 status=none; zpool sync $POOL; echo \"write+sync returned \$(now_ms)\" >> /tmp/cut-write ) &
        cut_done() { [ -s /tmp/cut-write ] && remote_is FAULTED; }
        wait_until 90 cut_done
        echo \"remote vdev \$(remote_vdev_state) at \$(now_ms); \$(cat /tmp/cut-write)\"" | tee "$OUT/logs/recording-cut.txt" | sed 's/^/    /'
    gx a 60 "$rz zrec faulted; zevents_now faulted" > /dev/null
    gx a 30 "$rz scsi_counters" | sed 's/^/    /'
    note "150 MB written while the remote leg is FAULTED (the resilver then has something to copy)"
    gx a 400 "t=\$(now_ms); dd if=/dev/urandom of=/$POOL/while-faulted bs=1M count=150 status=none; zpool sync $POOL; echo \"150 MB in \$(secs \$t \$(now_ms)) s\"" | sed 's/^/    /'

    # --- the link returns: the kernel logs in again, the vdev stays FAULTED
    link a st up; link b st up; local up=$(now_ms)
    gx a 90 "wait_until 60 session_is LOGGED_IN; echo \"session \$(peer_session_state) at \$(now_ms)\"; sleep 5; echo \"remote vdev \$(remote_vdev_state) 5 s later\"" | sed 's/^/    /'
    gxq a 60 "$rz zrec session-back-vdev-faulted"

    # --- zpool online: the resilver, sampled
    gx a 240 "$rz zpool online $POOL \$REMOTE_DEV; echo \"zpool online rc=\$? at \$(now_ms)\"
        zrec resilvering-1
        for k in 2 3 4 5 6 7 8; do
            resilvering || break
            sleep 2; zrec resilvering-\$k
        done
        zpool wait -t resilver $POOL; echo \"resilver over at \$(now_ms)\"
        zrec resilvered; zevents_now resilvered
        timeout 10 zpool status -P $POOL" | tee "$OUT/logs/recording-resilver.txt" | sed 's/^/    /'
    local samples; samples=$(grep -c 'resilver in progress' "$OUT"/share-a/out/zfs-recorded/resilvering-*.zpool-status-P.txt 2>/dev/null | grep -c ':[1-9]')
    check "r2 the resilver was caught in progress ($samples samples with 'resilver in progress')" [ "${samples:-0}" -ge 2 ]

    # --- an admin takes the remote leg OFFLINE; back online
    gx a 120 "$rz zpool offline $POOL \$REMOTE_DEV; zrec admin-offline; zpool online $POOL \$REMOTE_DEV; zpool wait -t resilver $POOL; zpool clear $POOL
        zrec healthy-again; zpool status $POOL" | sed 's/^/    /'
    # --- exported: what every node sees when the pool is nowhere
    gx a 120 "$rz zpool export $POOL; echo \"export rc=\$?\"; zrec exported
        iscsiadm -m node -T \$PEER_IQN -p \$PEER_ST:3260 --logout > /dev/null; iscsiadm -m node -o delete" | sed 's/^/    /'
    zevents_summary recording "$cut"
    return 0
}

# zevents_summary LABEL SINCE_MS: which events ZED handed its zedlets since SINCE_MS
zevents_summary() {
    local label=$1 since=$2 d
    for d in "$OUT"/share-a/out/zevents/* "$OUT"/share-b/out/zevents/*; do
        [ -d "$d" ] || continue
        echo "ZED events ($label, node ${d##*/}, since $(date -d @$((since / 1000)) +%T)): $(
            for f in "$d"/*all-zevent-dump.sh.env; do
                [ -e "$f" ] || continue
                ns=${f##*/}; ns=${ns%%-*}
                [ $((ns / 1000000)) -ge "$since" ] || continue
                sed -n 's/^ZEVENT_SUBCLASS=//p' "$f"
            done | sort | uniq -c | awk '{printf "%s x%s, ", $2, $1}')"
    done >> "$OUT/findings.txt"
}

# ---- Pacemaker resources --------------------------------------------------------------------
phase_resources() {
    phase "Pacemaker resources: sbd fencing, the iscsi-mirror clone, san-pool (ocf:heartbeat:ZFS), VIP + writer"
    # The shipped configuration (crm/examples/crmsh-two-node-san.sh, the one the scheduler
    # tests prove) with this lab's values, in one crmsh load (pcs, one python start per
    # command, took over 180 s for its 16 commands under TCG). The lab adds only its test
    # service (the writer, in the services group) and where the pool starts first.
    gx a 600 "cd /e2e/guest/examples && NODE_A=storage-a NODE_B=storage-b \
        STORAGE_A=$ST_NET.1 STORAGE_B=$ST_NET.2 IQN_A=$IQN_BASE:storage-a IQN_B=$IQN_BASE:storage-b \
        POOL=$POOL ZFS_IMPORTARGS='-d /dev/disk/by-partlabel' VIP=$VIP VIP_CIDR=24 \
        FENCE=sbd SBD_DEVICE=/dev/disk/by-id/virtio-sbd LEGS=clone SAN_ENV=./san.env \
        bash ./crmsh-two-node-san.sh print > /tmp/san.crm || exit 1
        grep -qx 'group san-services san-vip' /tmp/san.crm || { echo 'no services group in the shipped configuration'; exit 1; }
        sed -i 's/^group san-services san-vip\$/group san-services san-vip writer/' /tmp/san.crm
        cat >> /tmp/san.crm <<CRM
# the lab's own: the test service, and where the pool starts first
primitive writer anything params binfile=/usr/local/sbin/san-writer pidfile=/run/san-writer.pid logfile=/var/log/san-writer.log errlogfile=/var/log/san-writer.log op monitor interval=5s
location pool-prefers-storage-a san-pool 100: storage-a
CRM
        cat /tmp/san.crm; t=\$(now_ms)
        crm configure load update /tmp/san.crm || exit 1
        echo \"crm configure load: \$(secs \$t \$(now_ms)) s\"
        cibadmin -Q -o configuration" > "$OUT/logs/cluster-config.txt" 2>&1
    local rc=$?
    sed -n '1,/^crm configure load/p' "$OUT/logs/cluster-config.txt" | sed 's/^/    /'
    if [ $rc != 0 ]; then fail "s1 the resources could not be configured (crm configure load, rc=$rc; logs/cluster-config.txt)"; return 1; fi
    pass "s1 resources configured (crm configure load; the CIB in logs/cluster-config.txt)"
    local t=$(now_ms)
    if wait_for 240 gx a 30 'clone_on storage-a && clone_on storage-b && [ "$(rsc_node writer)" = storage-a ] && [ "$(rsc_node san-vip)" = storage-a ]'; then
        pass "s2 Pacemaker started the clone on both nodes, san-pool + VIP + writer on storage-a ($(secs "$t" "$(now_ms)") s)"
    else
        fail "s2 resources not all started within 240 s"
        gx a 30 'crm_mon -1 -r -f' | sed 's/^/    /'
        return 1
    fi
    wait_for 60 gx a 30 '[ "$(health_of storage-a)" = green ] && [ "$(health_of storage-b)" = green ]'
    gx a 30 'crm_mon -1 -r -f -A; zpool status -P san-pool; iscsiadm -m session' | tee "$OUT/logs/resources-started.txt" | sed 's/^/    /'
    check "s3 mirror health green on both nodes (#health-iscsi-mirror)" \
        gx a 30 '[ "$(health_of storage-a)" = green ] && [ "$(health_of storage-b)" = green ]'
    check "s4 san-pool imported on storage-a, both vdevs ONLINE" \
        gx a 30 '[ "$(remote_vdev_state)" = ONLINE ] && [ "$(local_vdev_state)" = ONLINE ]'
    check "s5 the writer writes: records on the pool, acknowledged on the host" \
        wait_for 30 sh -c "[ \$(wc -l < $OUT/share-a/out/writer-acks.log 2>/dev/null || echo 0) -ge 10 ]"
    fencer_ready s6 a; fencer_ready s6 b
}

# fencer_ready ID NODE(a|b): the node's fencer has the fence device from the CIB. Seen in a
# loaded boot: pacemaker-fenced gave up connecting to a slow CIB manager ("setup_cib: Could
# not connect to the CIB manager"), went on without the CIB, and so without any device: the
# node could fence nobody ("No fence device"). Pacemakerd restarts a fencer that exits, and
# the new one reads the CIB: the lab does that (noted), then checks.
fencer_ready() {
    local id=$1 n=$2 has='stonith_admin --list-registered 2>/dev/null | grep -qw fence-sbd'
    if ! wait_for 30 gx "$n" 30 "$has"; then
        note "${VM_NAME[$n]}'s fencer has no fence device: $(gx "$n" 30 "grep -h 'pacemaker-fenced.*setup_cib' /var/log/pacemaker/pacemaker.log | tail -1"); restarting it (pacemakerd respawns it)"
        gx "$n" 30 'pkill -TERM -x pacemaker-fenced' > /dev/null
        wait_for 90 gx "$n" 30 "$has"
    fi
    check "$id ${VM_NAME[$n]}'s fencer has the fence device (stonith_admin --list-registered: fence-sbd)" gx "$n" 30 "$has"
}

# ---- the suspended pool (last: destructive) ------------------------------------------------------
# failmode=wait and both legs gone: the remote one by a storage cut (or its node dead),
# the local one by removing the data disk's PCI device in the guest. Pacemaker is put in
# maintenance mode first (a suspended pool cannot be exported: a stop would fail -> fence).
phase_suspend_recording() {
    phase "ZFS recording: the pool SUSPENDED (both legs gone, failmode=wait)"
    local n h=
    for n in a b; do vm_alive $n && gx $n 30 pool_imported && { h=$n; break; }; done
    if [ -z "$h" ]; then
        fail "r3 no node holds san-pool at the end of the run: the suspended state was not recorded"; return 0
    fi
    gxq "$h" 60 'pcs property set maintenance-mode=true'
    local p=${VM_PEER[$h]}
    vm_alive "$p" && { link "$h" st down; link "$p" st down; }
    gx "$h" 240 ". /e2e/guest/record-zfs.sh
        ( dd if=/dev/urandom of=/$POOL/suspend-1 bs=1M count=4 status=none; zpool sync $POOL ) > /dev/null 2>&1 &
        wait_until 60 remote_not ONLINE
        echo \"remote vdev: \$(remote_vdev_state); removing the local data disk (PCI 0000:00:13.0)\"
        echo 1 > /sys/bus/pci/devices/0000:00:13.0/remove
        ( dd if=/dev/urandom of=/$POOL/suspend-2 bs=1M count=4 status=none; zpool sync $POOL ) > /dev/null 2>&1 &
        wait_until 90 grep -qx SUSPENDED /proc/spl/kstat/zfs/$POOL/state
        echo \"pool state (kstat): \$(cat /proc/spl/kstat/zfs/$POOL/state)\"
        zrec suspended; zevents_now suspended" | sed 's/^/    /'
    check "r3 the pool SUSPENDED state recorded (kstat state SUSPENDED)" \
        grep -qx SUSPENDED "$OUT/share-$h/out/zfs-recorded/suspended.kstat-state.txt"
}

# ---- collect -----------------------------------------------------------------------------------
phase_collect() {
    phase "collect"
    local n
    mkdir -p "$OUT/zfs-recorded" "$OUT/zevents"
    for n in a b; do
        [ -d "$OUT/share-$n/out/zfs-recorded" ] && cp "$OUT/share-$n/out/zfs-recorded"/*.txt "$OUT/zfs-recorded/" 2>/dev/null
        [ -f "$OUT/share-$n/out/zfs-recorded/INDEX" ] && cat "$OUT/share-$n/out/zfs-recorded/INDEX" >> "$OUT/zfs-recorded/INDEX"
        [ -d "$OUT/share-$n/out/zevents" ] && cp -r "$OUT/share-$n/out/zevents"/* "$OUT/zevents/" 2>/dev/null
        cp -r "$OUT/share-$n/out/logs"/* "$OUT/logs/" 2>/dev/null
        cp "$OUT/share-$n/out"/boot-*.log "$OUT/logs/" 2>/dev/null
        for f in "$OUT/share-$n/out"/boot-*.log; do [ -e "$f" ] && cp "$f" "$OUT/logs/${VM_NAME[$n]}-${f##*/}"; done
    done
    cat "$OUT"/share-?/out/events.log 2>/dev/null | sort -n > "$OUT/events.log"
    cat "$OUT"/share-?/out/writer-acks.log 2>/dev/null > "$OUT/writer-acks.log"
    if [ "${E2E_RECORD:-0}" = 1 ] && [ -s "$OUT/zfs-recorded/INDEX" ]; then
        record_fixtures
    fi
}

# record_fixtures: the ZFS recordings (and a selection of the ZED event dumps) become the
# fixtures tests/fixtures/zfs/vm-recorded/, with the versions they came from (E2E_RECORD=1)
record_fixtures() {
    local dst=$TOP/tests/fixtures/zfs/vm-recorded d f key
    rm -rf "$dst"; mkdir -p "$dst/zevents"
    cp "$OUT"/zfs-recorded/* "$dst/"
    # ZED: every event class seen, at most 3 dumps per node, subclass and zedlet
    declare -A seen=()
    for d in "$OUT"/zevents/*; do
        [ -d "$d" ] || continue
        for f in $(ls "$d" | sort -n); do
            key="${d##*/} $(echo "$f" | cut -d- -f3-)"
            seen[$key]=$(( ${seen[$key]:-0} + 1 ))
            [ "${seen[$key]}" -le 3 ] && cp "$d/$f" "$dst/zevents/${d##*/}-$f"
        done
    done
    {
        echo "ZFS outputs recorded by tests/e2e/san (make e2e-san with E2E_RECORD=1) in two qemu VMs;"
        echo "states and commands: INDEX (file, seconds, node, command); ZED dumps: zevents/."
        echo "kernel, packages and image recipe of this recording:"
        head -1 "$IMG/manifest.txt"
        grep -E '^(linux-image-[0-9][^ ]*|zfsutils-linux|zfs-dkms|zfs-zed|open-iscsi|targetcli-fb|python3-rtslib-fb|pacemaker|corosync|sbd|fence-agents) ' "$IMG/manifest.txt"
        sed -n 2p "$IMG/manifest.txt"
    } > "$dst/VERSIONS"
    say "recordings copied to $dst"
}
