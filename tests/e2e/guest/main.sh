#!/bin/bash
# main.sh - the e2e scenario, run INSIDE the VM by /opt/e2e/init.sh (PID 1, no systemd).
#
#   setup     udevd, dbus, modules, LIO target (the "peer") on 127.0.0.1:3260, iscsid,
#             syslog catcher, the agent installed as ocf:san:iscsi-mirror
#   record    the real iscsiadm/sysfs outputs the stand-in imitates -> out/vm-recorded/
#   a         ocf-tester against the agent with the real initiator
#   b         single-node Corosync + Pacemaker, `pcs resource create`, timers in sysfs,
#             ZFS pool san-pool (local loop + iSCSI disk), 20 MB of data
#   c         iscsi-mirror check-timeouts (SKIP while the subcommand does not exist)
#   d         link cut (nftables): time to FAILED / I/O errors / vdev faulted vs the model;
#             the agent's monitor says degraded (190) with the portal in its reason
#   e         link back: session recovers, the agent onlines the vdev by itself (auto_online),
#             resilvered, health green, data reads back
#   g         doctor: during a second cut (the resource in maintenance) it names the link
#             and option C; after the restore --fix logs in and onlines the vdev; then all ok
#   f         pcs resource disable: clean logout, pool still imported on its local leg
#
# Results: PASS/FAIL/SKIP lines in out/results.txt and a final "N passed, M failed" line;
# the exit code is non-zero on any failure. All waits are bounded.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8

IQN=iqn.2025-01.lab.e2e:peer.disk1          # the peer's target (LIO in this VM)
IQN_CHAP=iqn.2025-01.lab.e2e:peer.chapdisk  # a second target with a CHAP-protected ACL
IQN_OTHER=iqn.2025-01.lab.e2e:vmnode.disk1  # "this node's own" target in peers mode
PORTAL=127.0.0.1:3260
AGENT=/usr/lib/ocf/resource.d/san/iscsi-mirror
POOL=san-pool
NODE=vmnode
# the resource's timers, and the model's predictions from them
I=2 P=2 R=5 LOGIN_TMO=10
BYPATH=/dev/disk/by-path/ip-$PORTAL-iscsi-$IQN-lun-0

mkdir -p "$LOGS" "$REC"
: > "$RESULTS"; : > "$MEASURE"; : > "$REC/INDEX"
T_START=$(now_ms)
echo "E2E-GUEST-START"

# =========================================================================================
sec "setup"
# the agent logs to syslog off a terminal; syslogd writes to the local disk (9p is too slow
# for a chatty Pacemaker: messages got lost) and the file is copied out at the end
busybox syslogd -n -O /var/log/messages & SYSLOG_PID=$!
trap 'cp /var/log/messages "$LOGS/syslog.log" 2>/dev/null' EXIT
mkdir -p /run/dbus /etc/target /run/crm /run/resource-agents /var/run/resource-agents
dbus-daemon --system --fork                         # targetcli-fb needs the system bus
/lib/systemd/systemd-udevd --daemon
udevadm trigger --action=add > /dev/null 2>&1; udevadm settle -t 60
modprobe -a iscsi_tcp target_core_mod iscsi_target_mod target_core_file loop zfs nf_tables
uname -r; iscsiadm --version; zfs version 2>&1 | head -2
dpkg-query -W -f='${Package} ${Version}\n' open-iscsi targetcli-fb pacemaker corosync pcs resource-agents crmsh zfsutils-linux zfs-dkms
cat /etc/iscsi/initiatorname.iscsi | grep -v '^#'
INITIATOR=$(sed -n 's/^InitiatorName=//p' /etc/iscsi/initiatorname.iscsi)

t=$(now_ms)
truncate -s 256M /var/tmp/peer-disk1.img /var/tmp/peer-chapdisk.img
targetcli > "$LOGS/targetcli.log" 2>&1 <<EOF
set global auto_add_default_portal=false
/backstores/fileio create name=disk1 file_or_dev=/var/tmp/peer-disk1.img
/iscsi create $IQN
/iscsi/$IQN/tpg1/luns create /backstores/fileio/disk1
/iscsi/$IQN/tpg1/portals create 127.0.0.1 3260
/iscsi/$IQN/tpg1 set attribute authentication=0 generate_node_acls=1 demo_mode_write_protect=0 cache_dynamic_acls=1
/backstores/fileio create name=chapdisk file_or_dev=/var/tmp/peer-chapdisk.img
/iscsi create $IQN_CHAP
/iscsi/$IQN_CHAP/tpg1/luns create /backstores/fileio/chapdisk
/iscsi/$IQN_CHAP/tpg1/portals create 127.0.0.1 3260
/iscsi/$IQN_CHAP/tpg1 set attribute authentication=1 generate_node_acls=0
/iscsi/$IQN_CHAP/tpg1/acls create $INITIATOR
/iscsi/$IQN_CHAP/tpg1/acls/$INITIATOR set auth userid=e2euser password=right-secret-12
EOF
rc=$?
note "targetcli setup rc=$rc in $(secs "$t" "$(now_ms)") s"
timeout 60 targetcli ls / 2>&1 | sed 's/^/    /' | head -40
[ $rc = 0 ] || fail "setup: targetcli (see logs/targetcli.log)"

iscsid; note "iscsid pid $(cat /run/iscsid.pid 2>/dev/null)"
# the agent as an admin installs it: the package (no zed runs in this VM; its hook links
# are made all the same)
dpkg -i /e2e/bin/iscsi-mirror.deb > "$LOGS/dpkg-install.log" 2>&1 ||
    { cat "$LOGS/dpkg-install.log"; fail "setup: dpkg -i iscsi-mirror.deb (see logs/dpkg-install.log)"; }
note "agent: $AGENT ($(sha256sum < "$AGENT" | cut -c1-16)), $(dpkg-query -W -f='${Package} ${Version}' iscsi-mirror), /usr/sbin/iscsi-mirror -> $(readlink /usr/sbin/iscsi-mirror)"
note "setup took $(secs "$T_START" "$(now_ms)") s"

# =========================================================================================
sec "record: real open-iscsi outputs for the stand-in's fidelity test"
. "$HERE/record.sh"

# =========================================================================================
sec "a. ocf-tester against the agent (real initiator, crm_mon absent)"
t=$(now_ms)
timeout 600 ocf-tester -n mirror -o portal=$PORTAL -o target=$IQN -o crm_mon=/nonexistent "$AGENT" \
    > "$LOGS/ocf-tester-single.log" 2>&1
rc=$?
sed 's/^/    /' "$LOGS/ocf-tester-single.log"
note "ocf-tester (portal/target) rc=$rc in $(secs "$t" "$(now_ms)") s"
check "a1 ocf-tester passes in portal/target mode (rc=$rc)" [ $rc = 0 ]
check "a2 no session left behind by ocf-tester (portal/target)" no_sessions
t=$(now_ms)
timeout 600 ocf-tester -n mirror \
    -o "peers=$NODE=$IQN_OTHER@127.0.0.2:3260 peer=$IQN@$PORTAL" -o CRM_meta_on_node=$NODE \
    -o crm_mon=/nonexistent "$AGENT" > "$LOGS/ocf-tester-peers.log" 2>&1
rc=$?
sed 's/^/    /' "$LOGS/ocf-tester-peers.log"
note "ocf-tester (peers) rc=$rc in $(secs "$t" "$(now_ms)") s"
check "a3 ocf-tester passes in peers mode (rc=$rc)" [ $rc = 0 ]
check "a4 no session left behind by ocf-tester (peers)" no_sessions
# leave no node records behind: the resource below must start from nothing, as on a new node
iscsiadm -m node -o delete > /dev/null 2>&1
iscsiadm -m discoverydb -t sendtargets -p $PORTAL -o delete > /dev/null 2>&1

# =========================================================================================
sec "b. Corosync + Pacemaker (single node, token 4000), pcs resource create"
mkdir -p /etc/corosync /var/log/corosync
cat > /etc/corosync/corosync.conf <<EOF
# iscsi-mirror e2e VM, written by tests/e2e/guest/main.sh
totem {
    version: 2
    cluster_name: e2e
    transport: knet
    token: 4000
    crypto_cipher: none
    crypto_hash: none
}
logging {
    fileline: off
    to_stderr: yes
    to_logfile: yes
    logfile: /var/log/corosync/corosync.log
    to_syslog: no
    timestamp: on
}
quorum {
    provider: corosync_votequorum
}
nodelist {
    node {
        name: $NODE
        nodeid: 1
        ring0_addr: 127.0.0.1
    }
}
EOF
# the first CIB: stonith off (no fence device here), dc-deadtime 2s (as crm/lab/lib.sh)
tmp=$(mktemp)
cibadmin --empty > "$tmp"
CIB_file=$tmp crm_attribute -t crm_config -n stonith-enabled -v false
CIB_file=$tmp crm_attribute -t crm_config -n dc-deadtime -v 2s
install -o hacluster -g haclient -m 600 "$tmp" /var/lib/pacemaker/cib/cib.xml
rm -f "$tmp" /var/lib/pacemaker/cib/cib.xml.sig
chown hacluster:haclient /run/crm
DAEMON_ENV=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8)
t=$(now_ms)
"${DAEMON_ENV[@]}" corosync -f > "$LOGS/corosync.stdout" 2>&1 < /dev/null & COROSYNC_PID=$!
if wait_until 60 sh -c 'corosync-quorumtool -s | grep -q "^Quorate: *Yes"'; then
    note "corosync quorate after $(secs "$t" "$(now_ms)") s (pid $COROSYNC_PID)"
else
    fail "b0 corosync did not become quorate within 60 s"
fi
"${DAEMON_ENV[@]}" pacemakerd > "$LOGS/pacemakerd.stdout" 2>&1 < /dev/null & PACEMAKERD_PID=$!
if wait_until 180 cluster_settled; then
    pass "b1 single-node cluster up: corosync + pacemaker, DC elected ($(secs "$t" "$(now_ms)") s)"
else
    fail "b1 cluster did not settle within 180 s"
fi
run corosync-cmapctl -g runtime.config.totem.token
run corosync-cmapctl -g runtime.config.totem.consensus

t=$(now_ms)
# pool= from the start: the pool side does nothing until the pool is imported here
run timeout 120 pcs resource create mirror ocf:san:iscsi-mirror portal=$PORTAL target=$IQN \
    peer_node=peer noop_out_interval=$I noop_out_timeout=$P replacement_timeout=$R \
    login_timeout=$LOGIN_TMO pool=$POOL op monitor interval=5s timeout=20s
rc=$?
check "b2 pcs resource create ... ocf:san:iscsi-mirror (rc=$rc)" [ $rc = 0 ]
if wait_until 120 res_started mirror; then
    pass "b3 Pacemaker started the resource ($(secs "$t" "$(now_ms)") s after pcs resource create)"
else
    fail "b3 resource mirror not Started within 120 s"
fi
timeout 20 crm_mon -1 -r -f 2>&1 | sed 's/^/    /'
S=$(session_of $IQN); C=$(conn_of "$S")
note "session dir: ${S:-none}"
if [ -n "$S" ]; then
    st=$(cat "$S/state"); rt=$(cat "$C/recv_tmo"); pt=$(cat "$C/ping_tmo"); ct=$(cat "$S/recovery_tmo")
    note "sysfs: state=$st recv_tmo=$rt ping_tmo=$pt recovery_tmo=$ct conn.state=$(cat "$C/state")"
    check "b4 session LOGGED_IN in sysfs ($st)" [ "$st" = LOGGED_IN ]
    check "b5 sysfs recv_tmo = noop_out_interval = $I ($rt)" [ "$rt" = $I ]
    check "b6 sysfs ping_tmo = noop_out_timeout = $P ($pt)" [ "$pt" = $P ]
    check "b7 sysfs recovery_tmo = replacement_timeout = $R ($ct)" [ "$ct" = $R ]
else
    fail "b4 no session to $IQN in /sys/class/iscsi_session"
fi
record node-show-agent-written iscsiadm -m node -T $IQN -p $PORTAL -o show
lt=$(sed -n 's/^node.conn\[0\].timeo.login_timeout = //p' "$REC/node-show-agent-written.txt")
check "b8 node record login_timeout = $LOGIN_TMO ($lt)" [ "$lt" = $LOGIN_TMO ]
record session-P3-agent-started iscsiadm -m session -P 3
wait_until 30 test -e "$BYPATH" && note "by-path link: $BYPATH -> $(readlink "$BYPATH")"
check "b9 udev by-path link of the iSCSI disk exists" test -e "$BYPATH"

truncate -s 256M /var/tmp/local-disk.img
LOOP=$(losetup -f --show /var/tmp/local-disk.img)
run timeout 60 zpool create -f -o cachefile=none -O compression=off $POOL mirror "$LOOP" "$BYPATH"
rc=$?
check "b10 zpool create $POOL mirror $LOOP + iSCSI disk (rc=$rc)" [ $rc = 0 ]
timeout 10 zpool status -P $POOL
# the leaf vdevs as zpool names them (-P: full paths; a whole disk gets a -part1)
V_LOCAL=$(timeout 10 zpool status -P $POOL | awk '$1 ~ /^\/dev\/loop/ {print $1; exit}')
V_ISCSI=$(timeout 10 zpool status -P $POOL | awk '$1 ~ /^\/dev\/disk\/by-path\// {print $1; exit}')
note "vdevs: local=$V_LOCAL iscsi=$V_ISCSI"
t=$(now_ms)
dd if=/dev/urandom of=/$POOL/data bs=1M count=20 status=none && timeout 60 zpool sync $POOL
SUM=$(sha256sum < /$POOL/data | cut -d' ' -f1)
note "wrote 20 MB in $(secs "$t" "$(now_ms)") s, sha256 $SUM"
check "b11 20 MB written to the mirrored pool" [ "$(stat -c %s /$POOL/data 2>/dev/null)" = 20971520 ]

# =========================================================================================
sec "c. iscsi-mirror check-timeouts (live Corosync token, live session timers)"
timeout 20 "$AGENT" check-timeouts --help > "$LOGS/check-timeouts-help.txt" 2>&1
rc=$?
if [ $rc != 0 ]; then
    sed 's/^/    /' "$LOGS/check-timeouts-help.txt"
    skip "c1 check-timeouts: \`iscsi-mirror check-timeouts --help\` exits $rc in this build (subcommand not there yet)"
else
    timeout 30 "$AGENT" check-timeouts > "$LOGS/check-timeouts.txt" 2>&1
    rc=$?
    sed 's/^/    /' "$LOGS/check-timeouts.txt"
    note "check-timeouts rc=$rc (0 inside, 1 warnings, 2 errors)"
    sid=${S##*session}
    # the managed session's block: "session N (IQN via PORTAL)" up to the next blank line
    awk -v h="session $sid ($IQN via $PORTAL)" '$0 == h {p = 1} p && /^$/ {exit} p' "$LOGS/check-timeouts.txt" > "$LOGS/check-timeouts-session.txt"
    check "c1 check-timeouts ran to a verdict (rc=$rc)" grep -q '^verdict:' "$LOGS/check-timeouts.txt"
    check "c2 it reads the live Corosync token: 4000 ms from corosync-cmapctl runtime.config.totem.token" \
        grep -Eq '^Corosync token +4000 ms +\(corosync-cmapctl runtime.config.totem.token\)' "$LOGS/check-timeouts.txt"
    check "c3 it reads the live session's timers from sysfs (recv_tmo $I, ping_tmo $P, recovery_tmo $R)" sh -c "
        grep -Eq 'noop_out_interval +$I s +\(sysfs connection$sid:0 recv_tmo\)' $LOGS/check-timeouts-session.txt &&
        grep -Eq 'noop_out_timeout +$P s +\(sysfs connection$sid:0 ping_tmo\)' $LOGS/check-timeouts-session.txt &&
        grep -Eq 'replacement_timeout +$R s +\(sysfs session$sid recovery_tmo\)' $LOGS/check-timeouts-session.txt"
    # PRODUCT.md: at T = 4000 ms, I+P = 4 s is inside; I+P+R = 9 s against T+C = 8.8 s: a warning by 0.2 s
    check "c4 the live session judged as the spec says: detection ok, I/O stall warning by 0.2 s" sh -c "
        grep -Eq '^ +ok +detection 4.0 s' $LOGS/check-timeouts-session.txt &&
        grep -Eq '^ +WARNING +I/O stall 9.0 s > token \+ consensus 8.8 s, by 0.2 s' $LOGS/check-timeouts-session.txt &&
        ! grep -q ERROR $LOGS/check-timeouts-session.txt"
    others=$(grep -c '^node record ' "$LOGS/check-timeouts.txt")
    [ "$others" != 0 ] && note "check-timeouts also judged $others node record(s) without a session: $(grep '^node record ' "$LOGS/check-timeouts.txt" | tr '\n' ';')"
fi

# =========================================================================================
sec "d. cut the storage link (nftables drops tcp/3260 on lo, both directions)"
SD=$(disk_of "$S")
note "iSCSI disk $SD; model: FAILED after I+P = $((I + P)) s, I/O errors after I+P+R = $((I + P + R)) s"
rm -f /tmp/bg-read /tmp/bg-write
link_cut
T_CUT=$(now_ms)
# raw I/O on the iSCSI disk and a pool write+sync, both started at the cut
( dd if=/dev/$SD of=/dev/null bs=4k count=1 iflag=direct skip=3000 status=none; rc=$?
  echo "$rc $(now_ms)" > /tmp/bg-read ) &
( dd if=/dev/urandom of=/$POOL/during bs=1M count=4 status=none && zpool sync $POOL; rc=$?
  echo "$rc $(now_ms)" > /tmp/bg-write ) &
T_FAILED= T_CONN_FAILED= T_BLOCKED= T_OFFLINE= T_FREE= T_VDEV= VDEV_ST= last_zs=0 i=0
while [ $(($(now_ms) - T_CUT)) -lt 45000 ]; do
    now=$(now_ms)
    ss=$(cat "$S/state" 2>/dev/null); cs=$(cat "$C/state" 2>/dev/null); ds=$(cat /sys/block/$SD/device/state 2>/dev/null)
    [ -z "$T_FAILED" ] && [ "$ss" = FAILED ] && T_FAILED=$now
    [ -z "$T_FREE" ] && [ "$ss" = FREE ] && T_FREE=$now
    [ -z "$T_CONN_FAILED" ] && [ "$cs" = failed ] && T_CONN_FAILED=$now
    [ -z "$T_BLOCKED" ] && [ "$ds" = blocked ] && T_BLOCKED=$now
    [ -z "$T_OFFLINE" ] && [ "$ds" = transport-offline ] && T_OFFLINE=$now
    if [ -z "$T_VDEV" ] && [ $((now - last_zs)) -ge 500 ]; then
        last_zs=$now
        VDEV_ST=$(vdev_state $POOL "$V_ISCSI")
        case $VDEV_ST in FAULTED|UNAVAIL|REMOVED|DEGRADED|OFFLINE) T_VDEV=$(now_ms) ;; esac
    fi
    [ $((i % 10)) = 0 ] && printf '    +%6ss session=%-9s conn=%-7s disk=%-17s vdev=%s\n' "$(secs "$T_CUT" "$now")" "$ss" "$cs" "$ds" "$VDEV_ST"
    i=$((i + 1))
    [ -n "$T_FAILED" ] && [ -n "$T_VDEV" ] && [ -s /tmp/bg-read ] && [ -s /tmp/bg-write ] && break
    sleep 0.1
done
printf '    +%6ss session=%-9s conn=%-7s disk=%-17s vdev=%s\n' "$(secs "$T_CUT" "$(now_ms)")" "$(cat "$S/state" 2>/dev/null)" "$(cat "$C/state" 2>/dev/null)" "$(cat /sys/block/$SD/device/state 2>/dev/null)" "$VDEV_ST"
since_cut() { if [ -n "$1" ]; then secs "$T_CUT" "$1"; else echo never; fi; }
read -r R_RC R_T < /tmp/bg-read 2>/dev/null || { R_RC=none; R_T=; }
read -r W_RC W_T < /tmp/bg-write 2>/dev/null || { W_RC=none; W_T=; }
echo "  model: session FAILED at I+P = $((I + P)) s; queued I/O fails at I+P+R = $((I + P + R)) s"
measure cut_to_session_failed_s "$(since_cut "$T_FAILED") (model $((I + P)))"
measure cut_to_conn_failed_s "$(since_cut "$T_CONN_FAILED")"
measure cut_to_disk_blocked_s "$(since_cut "$T_BLOCKED")"
measure cut_to_session_free_s "$(since_cut "$T_FREE") (model $((I + P + R)))"
measure cut_to_disk_transport_offline_s "$(since_cut "$T_OFFLINE") (model $((I + P + R)))"
measure cut_to_raw_read_error_s "$(since_cut "$R_T") rc=$R_RC (model $((I + P + R)))"
measure cut_to_pool_write_sync_return_s "$(since_cut "$W_T") rc=$W_RC (model $((I + P + R)))"
measure cut_to_vdev_not_online_s "$(since_cut "$T_VDEV") state=$VDEV_ST (model $((I + P + R)))"
failed_in_time() { [ -n "$T_FAILED" ] && [ $((T_FAILED - T_CUT)) -le $((3 * (I + P) * 1000)) ]; }
read_errored() { [ -n "$R_T" ] && [ "$R_RC" != 0 ]; }
check "d1 the kernel fails the session (FAILED within 3x the model)" failed_in_time
check "d2 raw I/O on the iSCSI disk errors out (rc=$R_RC)" read_errored
check "d3 the pool's write+sync returns (rc=$W_RC): ZFS stops waiting for the dead leg" [ -n "$W_T" ]
check "d4 the iSCSI vdev leaves ONLINE ($VDEV_ST)" [ -n "$T_VDEV" ]
timeout 10 zpool status $POOL | sed 's/^/    /'
timeout 10 iscsiadm -m session -P 1 | sed 's/^/    /'
sysfs_tree "$S" | record_text sysfs-session-failed "sysfs tree of the session while the link is cut (after replacement_timeout)"
record session-P1-link-down iscsiadm -m session -P 1
record session-P0-link-down iscsiadm -m session

# the agent's monitor, by hand, as Pacemaker's recurring monitor would run it
MON_ENV=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
    OCF_ROOT=/usr/lib/ocf OCF_RA_VERSION_MAJOR=1 OCF_RA_VERSION_MINOR=1
    OCF_RESOURCE_INSTANCE=mirror OCF_RESOURCE_TYPE=iscsi-mirror OCF_RESOURCE_PROVIDER=san
    HA_RSCTMP=/run/resource-agents
    OCF_RESKEY_portal=$PORTAL OCF_RESKEY_target=$IQN OCF_RESKEY_peer_node=peer
    OCF_RESKEY_noop_out_interval=$I OCF_RESKEY_noop_out_timeout=$P
    OCF_RESKEY_replacement_timeout=$R OCF_RESKEY_login_timeout=$LOGIN_TMO OCF_RESKEY_pool=$POOL
    OCF_RESKEY_CRM_meta_interval=5000 OCF_RESKEY_CRM_meta_timeout=20000
    OCF_RESKEY_CRM_meta_name=monitor OCF_RESKEY_CRM_meta_on_node=$NODE)
printf '    %s\n' "${MON_ENV[@]:1}" > "$LOGS/monitor-env.txt"
t=$(now_ms)
"${MON_ENV[@]}" timeout 30 "$AGENT" monitor > "$LOGS/monitor-link-down.stdout" 2> "$LOGS/monitor-link-down.stderr"
rc=$?
note "monitor (link down) rc=$rc in $(secs "$t" "$(now_ms)") s; stderr:"
sed 's/^/      /' "$LOGS/monitor-link-down.stderr"
REASON=$(grep -m1 '^ocf-exit-reason:' "$LOGS/monitor-link-down.stderr")
check "d5 monitor with the link cut exits 190 degraded (rc=$rc)" [ $rc = 190 ]
check "d6 its exit reason names the portal $PORTAL" grep -q "^ocf-exit-reason:.*$PORTAL" "$LOGS/monitor-link-down.stderr"
check "d7 its exit reason says storage network down (portal unreachable)" grep -Eq '^ocf-exit-reason:.*unreachable.*storage network down' "$LOGS/monitor-link-down.stderr"
sleep 6   # one recurring monitor of Pacemaker's (interval 5 s) during the outage
echo "  --- crm_mon -1 --output-as=xml during the outage (resource, failures):"
crm_xml > "$LOGS/crm_mon-link-down.xml"
xp "//resource[@id='mirror']" < "$LOGS/crm_mon-link-down.xml" | sed 's/^/    /'; echo
xp "//failures" < "$LOGS/crm_mon-link-down.xml" | sed 's/^/    /'; echo
xp "//node_history//resource_history[@id='mirror']" < "$LOGS/crm_mon-link-down.xml" | sed 's/^/    /'; echo
t190=$(xp "string((//resource_history[@id='mirror']/operation_history[@rc='190'])[1]/@last-rc-change)" < "$LOGS/crm_mon-link-down.xml")
if [ -n "$t190" ]; then
    measure cut_to_pacemaker_monitor_190_s "$(( $(date -d "$t190" +%s) - T_CUT / 1000 )) (1 s resolution; monitor interval 5 s)"
else
    note "no 190 in Pacemaker's operation history"
fi
echo "  --- crm_mon -1 -r -f -A during the outage (-A: node attributes, the agent publishes #health-iscsi-mirror):"
timeout 20 crm_mon -1 -r -f -A 2>&1 | sed 's/^/    /' | tee "$LOGS/crm_mon-link-down.txt"

# =========================================================================================
sec "e. restore the link: session back, the agent onlines the vdev (nobody types zpool online), resilvered, data intact"
link_restore
T_UP=$(now_ms)
T_LOGGED_IN=
if wait_until 60 sh -c "S=\$(for s in /sys/class/iscsi_session/session*; do [ \"\$(cat \$s/targetname 2>/dev/null)\" = $IQN ] && echo \$s; done); [ -n \"\$S\" ] && [ \"\$(cat \$S/state)\" = LOGGED_IN ]"; then
    T_LOGGED_IN=$(now_ms)
fi
measure restore_to_logged_in_s "$(if [ -n "$T_LOGGED_IN" ]; then secs "$T_UP" "$T_LOGGED_IN"; else echo never; fi)"
S2=$(session_of $IQN)
note "session after restore: ${S2:-none} state=$(cat "$S2/state" 2>/dev/null) (before the cut: $S)"
check "e1 the session to $IQN is LOGGED_IN again after the link returns" [ -n "$T_LOGGED_IN" ]
wait_until 30 test -e "$BYPATH"
VDEV_ST=$(vdev_state $POOL "$V_ISCSI")
note "vdev $V_ISCSI is $VDEV_ST with its session back; no zed runs here and nobody types zpool online: Pacemaker's recurring monitor (5 s) brings it back once the session has been stable for two intervals"
T_ONLINE=
# the agent logs to syslog (/var/log/messages here) and to stderr (pacemaker.log)
agent_log() { cat /var/log/messages /var/log/pacemaker/pacemaker.log 2>/dev/null; }
if wait_until 90 sh -c "cat /var/log/messages /var/log/pacemaker/pacemaker.log 2>/dev/null | grep -q 'zpool online $POOL $V_ISCSI'"; then
    T_ONLINE=$(now_ms)
fi
agent_log | grep -E "iscsi-mirror.*(zpool online|resilver|whole)" | tail -5 | sed 's/^/    /'
measure logged_in_to_agent_zpool_online_s "$(if [ -n "$T_ONLINE" ] && [ -n "$T_LOGGED_IN" ]; then secs "$T_LOGGED_IN" "$T_ONLINE"; else echo never; fi) (model: 2 monitor intervals of stability, 10 s, + up to one interval)"
check "e2 the agent ran zpool online $POOL on the iSCSI vdev by itself (its log)" [ -n "$T_ONLINE" ]
# the resilver runs after the online: wait for its "resilvered ... with" line
t=$(now_ms)
wait_until 120 sh -c "zpool status $POOL | grep -q 'resilvered .* with'"
run timeout 120 zpool wait -t resilver $POOL
measure online_to_resilvered_s "$(secs "$t" "$(now_ms)")"
# green only once the mirror is whole: the next monitor publishes it
if wait_until 30 sh -c "crm_attribute -N $NODE -l reboot -n '#health-iscsi-mirror' -G -q 2>/dev/null | grep -qx green"; then
    pass "e2b the agent publishes #health-iscsi-mirror=green once the resilver is done"
else
    fail "e2b #health-iscsi-mirror is $(crm_attribute -N $NODE -l reboot -n '#health-iscsi-mirror' -G -q 2>&1) 30 s after the resilver"
fi
timeout 10 zpool status $POOL > "$LOGS/zpool-status-after-resilver.txt"; sed 's/^/    /' "$LOGS/zpool-status-after-resilver.txt"
run timeout 30 zpool clear $POOL
t=$(now_ms)
run timeout 180 zpool scrub -w $POOL
measure scrub_s "$(secs "$t" "$(now_ms)")"
timeout 10 zpool status -v $POOL | tee "$LOGS/zpool-status-after-restore.txt" | sed 's/^/    /'
check "e3 the iSCSI vdev is ONLINE ($(vdev_state $POOL "$V_ISCSI"))" [ "$(vdev_state $POOL "$V_ISCSI")" = ONLINE ]
check "e4 the pool is ONLINE ($(pool_state $POOL))" [ "$(pool_state $POOL)" = ONLINE ]
check "e5 zpool status: errors: No known data errors" grep -q '^errors: No known data errors' "$LOGS/zpool-status-after-restore.txt"
check "e6 resilvered (zpool status: $(grep -o 'resilvered.*' "$LOGS/zpool-status-after-resilver.txt"))" grep -q 'resilvered .* with 0 errors' "$LOGS/zpool-status-after-resilver.txt"
check "e6b scrub after the resilver repaired nothing" grep -q 'scrub repaired 0B .* with 0 errors' "$LOGS/zpool-status-after-restore.txt"
echo 3 > /proc/sys/vm/drop_caches
SUM2=$(sha256sum < /$POOL/data | cut -d' ' -f1)
check "e7 the 20 MB written before the cut read back with the same sha256" [ "$SUM2" = "$SUM" ]
sleep 6   # one recurring monitor with the link back
"${MON_ENV[@]}" timeout 30 "$AGENT" monitor > /dev/null 2> "$LOGS/monitor-link-up.stderr"
rc=$?
check "e8 monitor by hand with the link back exits 0 (rc=$rc)" [ $rc = 0 ]
timeout 20 crm_mon -1 -r -f 2>&1 | sed 's/^/    /' | tee "$LOGS/crm_mon-link-up.txt"
check "e9 Pacemaker shows the resource Started" res_started mirror
# Pacemaker keeps the 190 among the failed actions (it did not restart the resource); an admin clears it
run timeout 120 pcs resource cleanup mirror
# the cleanup re-probes the resource: wait for the probe and the recurring monitor to settle
no_failures_and_started() {
    [ "$(crm_xml | xp 'count(//failures/failure)')" = 0 ] && res_started mirror
}
if wait_until 60 no_failures_and_started; then
    pass "e10 after pcs resource cleanup: no failed action, resource Started"
else
    fail "e10 after pcs resource cleanup: failed actions left or resource not Started within 60 s"
fi

# An admin takes the iSCSI vdev OFFLINE (maintenance on the peer's disk, say): the agent
# reports it and leaves it alone; only the admin's zpool online brings it back.
onlines_before=$(agent_log | grep -c "zpool online $POOL")
run timeout 30 zpool offline $POOL "$V_ISCSI"
sleep 16   # three of Pacemaker's recurring monitors (5 s)
"${MON_ENV[@]}" timeout 30 "$AGENT" monitor > /dev/null 2> "$LOGS/monitor-admin-offline.stderr"
rc=$?
note "monitor with the vdev OFFLINE: rc=$rc, $(grep -m1 '^ocf-exit-reason:' "$LOGS/monitor-admin-offline.stderr")"
check "e11 an admin-OFFLINE vdev is left alone: still OFFLINE after three monitors ($(vdev_state $POOL "$V_ISCSI")), no zpool online by the agent" \
    sh -c "[ '$(vdev_state $POOL "$V_ISCSI")' = OFFLINE ] && [ $(agent_log | grep -c "zpool online $POOL") = $onlines_before ]"
check "e12 the monitor says so: 190, the reason names the admin's OFFLINE (rc=$rc)" \
    sh -c "[ $rc = 190 ] && grep -q '^ocf-exit-reason:.*OFFLINE' '$LOGS/monitor-admin-offline.stderr'"
run timeout 30 zpool online $POOL "$V_ISCSI"
run timeout 120 zpool wait -t resilver $POOL
if wait_until 40 sh -c "crm_attribute -N $NODE -l reboot -n '#health-iscsi-mirror' -G -q 2>/dev/null | grep -qx green"; then
    pass "e13 the admin's zpool online: resilvered, health green again"
else
    fail "e13 health not green 40 s after the admin's zpool online"
fi

# =========================================================================================
sec "g. doctor: during a cut it names the storage link and option C; after the restore --fix logs in and onlines the vdev; after the resilver all ok"
# The recurring monitor would repair all of this itself (section e): the resource in
# maintenance (Pacemaker cancels its monitor) leaves the repairs to the admin's doctor.
run timeout 60 crm_resource --resource mirror --meta --set-parameter maintenance --parameter-value true
sleep 6
DOC=(timeout 90 "$AGENT" doctor --node "$NODE")
doctor_json() { "${DOC[@]}" --json "$@" 2>"$LOGS/doctor.stderr"; }
# finding FILE CHECK FIELD: FIELD (grade, why, subject) of the first CHECK finding in FILE
finding() {
    python3 -c "import json,sys; f=[f for f in json.load(open(sys.argv[1]))['findings'] if f['check']==sys.argv[2]]; print(f[0].get(sys.argv[3], '') if f else 'none')" "$1" "$2" "$3" 2>/dev/null
}
iscsi_vdev_is() { [ "$(vdev_state $POOL "$V_ISCSI")" = "$1" ]; }
session_state() { local s; s=$(session_of $IQN) && cat "$s/state" 2>/dev/null; }
link_cut
T_CUT2=$(now_ms)
# ZFS faults a vdev on a failed I/O: give it some
( dd if=/dev/urandom of=/$POOL/during-doctor bs=1M count=2 status=none; timeout 60 zpool sync $POOL ) &
wait_until 40 iscsi_vdev_is FAULTED
note "cut again: session $(session_state), vdev $(vdev_state $POOL "$V_ISCSI") after $(secs "$T_CUT2" "$(now_ms)") s"
"${DOC[@]}" > "$LOGS/doctor-cut.txt" 2>&1; rc_text=$?
sed 's/^/    /' "$LOGS/doctor-cut.txt"
doctor_json > "$LOGS/doctor-cut.json"; rc=$?
check "g1 doctor during the cut exits 2 (failures; text rc=$rc_text, json rc=$rc)" [ $rc = 2 ]
CJ=$LOGS/doctor-cut.json
check "g2 its portal_tcp finding fails: $(finding "$CJ" portal_tcp why)" [ "$(finding "$CJ" portal_tcp grade)" = fail ]
check "g3 it names the storage link's interface, lo: $(finding "$CJ" interface why)" grep -qw lo "$CJ"
reconnect_then_c() { finding "$CJ" reconnect why | grep -q 'then C'; }
check "g4 its reconnect finding: the root cause first, then option C: $(finding "$CJ" reconnect why)" reconnect_then_c
# The session gone while the link is down (as after iscsid gave up, or a stop): only a new
# login brings the leg back, and nobody but doctor will make it.
SID2=$(basename "$(session_of $IQN)"); SID2=${SID2#session}
run timeout 30 iscsiadm -m session -r "$SID2" --logout
link_restore
sleep 2
doctor_json --fix > "$LOGS/doctor-fix.json"; rc=$?
"${DOC[@]}" --fix > "$LOGS/doctor-fix2.txt" 2>&1 || true   # a second run: a vdev held back by the first
sed 's/^/    /' "$LOGS/doctor-fix2.txt"
actions=$(python3 -c "import json; v=json.load(open('$LOGS/doctor-fix.json')); print('; '.join(a['command']+' -> '+a['outcome'] for a in v['actions']))")
note "doctor --fix (rc=$rc): $actions"
check "g5 doctor --fix logged in to $IQN by its node record (option C)" \
    sh -c "grep -q 'iscsiadm -m node -T $IQN -p $PORTAL --login' '$LOGS/doctor-fix.json' '$LOGS/doctor-fix2.txt'"
check "g6 the session is LOGGED_IN again ($(session_state))" [ "$(session_state)" = LOGGED_IN ]
check "g7 doctor --fix ran zpool online $POOL on the iSCSI vdev" \
    sh -c "grep -q 'zpool online $POOL' '$LOGS/doctor-fix.json' '$LOGS/doctor-fix2.txt'"
wait_until 60 iscsi_vdev_is ONLINE
run timeout 120 zpool wait -t resilver $POOL
timeout 10 zpool status $POOL | sed 's/^/    /'
"${DOC[@]}" > "$LOGS/doctor-after.txt" 2>&1; rc=$?
sed 's/^/    /' "$LOGS/doctor-after.txt"
check "g8 after the resilver doctor reports all ok (rc=$rc)" [ $rc = 0 ]
run timeout 60 crm_resource --resource mirror --meta --delete-parameter maintenance
run timeout 120 pcs resource cleanup mirror
if wait_until 60 no_failures_and_started; then
    pass "g9 out of maintenance: the resource Started, no failed action"
else
    fail "g9 out of maintenance: failed actions or not Started within 60 s"
fi

# =========================================================================================
sec "f. pcs resource disable mirror: clean logout, the pool stays on its local leg"
t=$(now_ms)
run timeout 120 pcs resource disable mirror
note "pcs resource disable returned after $(secs "$t" "$(now_ms)") s"
if wait_until 90 res_stopped mirror; then
    pass "f1 Pacemaker stopped the resource ($(secs "$t" "$(now_ms)") s)"
else
    fail "f1 resource mirror not Stopped within 90 s"
fi
timeout 20 crm_mon -1 -r -f 2>&1 | sed 's/^/    /'
ls /sys/class/iscsi_session/ | sed 's/^/    sysfs: /'
check "f2 no iSCSI session left in sysfs" no_sessions
record session-none-after-agent-stop iscsiadm -m session
check "f3 iscsiadm -m session: rc 21 (no active sessions)" grep -qx '\[rc=21\]' "$REC/session-none-after-agent-stop.txt"
note "iSCSI vdev right after the logout, before any I/O: $(vdev_state $POOL "$V_ISCSI") (ZFS notices at the next I/O)"
t=$(now_ms)
dd if=/dev/urandom of=/$POOL/after bs=1M count=2 status=none && timeout 60 zpool sync $POOL
rc=$?
check "f4 the pool takes writes with the iSCSI leg gone (rc=$rc, $(secs "$t" "$(now_ms)") s)" [ $rc = 0 ]
timeout 10 zpool status -P $POOL | tee "$LOGS/zpool-status-after-disable.txt" | sed 's/^/    /'
ps=$(pool_state $POOL)
check "f5 pool $POOL still imported, DEGRADED on its local leg ($ps)" [ "$ps" = DEGRADED ]
check "f6 local vdev ONLINE, iSCSI vdev $(vdev_state $POOL "$V_ISCSI")" sh -c "[ '$(vdev_state $POOL "$V_LOCAL")' = ONLINE ] && [ '$(vdev_state $POOL "$V_ISCSI")' != ONLINE ]"
SUM3=$(sha256sum < /$POOL/data | cut -d' ' -f1)
check "f7 the data still reads back" [ "$SUM3" = "$SUM" ]

# =========================================================================================
sec "teardown"
timeout 60 zpool export $POOL; losetup -d "$LOOP" 2>/dev/null
kill -TERM $PACEMAKERD_PID 2>/dev/null
for _ in $(seq 1 300); do kill -0 $PACEMAKERD_PID 2>/dev/null || break; sleep 0.2; done
kill -0 $PACEMAKERD_PID 2>/dev/null && { note "pacemakerd ignored SIGTERM for 60 s: SIGKILL"; kill -KILL $PACEMAKERD_PID; }
kill -TERM $COROSYNC_PID 2>/dev/null
for _ in $(seq 1 100); do kill -0 $COROSYNC_PID 2>/dev/null || break; sleep 0.2; done
cp /var/log/pacemaker/pacemaker.log /var/log/corosync/corosync.log "$LOGS/" 2>/dev/null
dmesg > "$LOGS/dmesg.txt"
sleep 1; kill $SYSLOG_PID 2>/dev/null
echo
echo "guest scenario took $(secs "$T_START" "$(now_ms)") s"
echo "measurements:"; sed 's/^/  /' "$MEASURE"
SUMMARY="$N_PASS passed, $N_FAIL failed, $N_SKIP skipped"
echo "$SUMMARY" >> "$RESULTS"
echo "$SUMMARY"
echo "E2E-GUEST-DONE"
[ $N_FAIL = 0 ]
