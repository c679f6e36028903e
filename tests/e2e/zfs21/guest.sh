#!/bin/bash
# guest.sh - the ZFS 2.1 recorder, run INSIDE the VM (image built with E2E_ZFS=2.1: Debian
# 12's own ZFS 2.1.11) by /opt/e2e/init.sh as /e2e/guest/main.sh; run.sh beside it boots it.
#
# One VM plays storage-a of the two-VM SAN (tests/e2e/san), so that the recordings name
# the pool's vdevs as the 2.3 ones do:
#   local leg    its data disk, virtio at PCI 0000:00:13.0, GPT partition data-a
#                -> /dev/disk/by-path/virtio-pci-0000:00:13.0-part1
#   remote leg   "storage-b"'s disk: LIO in this VM exports a file (GPT partition data-b)
#                as iqn.2025-01.lab.e2e:storage-b on 192.168.10.2:3260 (an address on lo);
#                open-iscsi logs in -> /dev/disk/by-path/ip-192.168.10.2:3260-iscsi-
#                iqn.2025-01.lab.e2e:storage-b-lun-0-part1
#   the pool     san-pool = mirror of the two, multihost=on, ashift=12, as the SAN's
#   zed          runs (zed -F), as on a real node: its diagnosis faults the remote leaf
#   storage link cut and restored with nftables (tcp/3260 on lo), as the one-node run does
#
# States, in the order of tests/e2e/san/phases.sh (phase_pool_recordings) and with its file
# names (tests/e2e/san/guest/record-zfs.sh; ZREC_JSON=0: no -j forms, 2.1 has none; their
# refusal recorded once, in healthy): not-imported (before the pool exists), healthy,
# faulted, session-back-vdev-faulted, resilvering-1..N, resilvered, admin-offline,
# healthy-again, exported, then suspended (the pool imported again; both legs gone,
# failmode=wait: last, the VM is powered off without a sync after it).
# Output: /e2e/out/zfs-recorded/ (STATE.NAME.txt, INDEX), /e2e/out/results.txt (PASS/FAIL
# lines, a final "N passed, M failed"), /e2e/out/DONE when the run reached its end.
set -u
. /e2e/guest/lib.sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
NODE=storage-a
POOL=san-pool
HOSTID=5a5a0001                    # storage-a's in the SAN
ST_ADDR=192.168.10.2               # "storage-b"'s storage address, on lo here
PEER_IQN=iqn.2025-01.lab.e2e:storage-b
PORTAL=$ST_ADDR:3260
LOCAL_DEV=/dev/disk/by-path/virtio-pci-0000:00:13.0-part1
REMOTE_DEV=/dev/disk/by-path/ip-$PORTAL-iscsi-$PEER_IQN-lun-0-part1
PEER_FILE=/var/tmp/storage-b-data.img
ZREC_JSON=0
SAMPLES_MAX=12
mkdir -p "$LOGS"
: > "$RESULTS"
rm -f "$OUT/DONE"
T_START=$(now_ms)
echo "E2E-GUEST-START"

# what record-zfs.sh and the waits below need
peer_session() { session_of "$PEER_IQN"; }
# the remote leaf's state; a leaf ZFS cannot open is listed by its GUID, "was PATH"
remote_vdev_state() {
    timeout 10 zpool status -P $POOL 2>/dev/null |
        awk -v p="$REMOTE_DEV" 'NF >= 2 && ($1 == p || ($(NF-1) == "was" && $NF == p)) {print $2; exit}'
}
remote_gone() { case $(remote_vdev_state) in FAULTED | UNAVAIL | REMOVED) return 0 ;; esac; return 1; }
remote_not_online() { [ "$(remote_vdev_state)" != ONLINE ]; }
session_logged_in() { local s; s=$(peer_session) && [ "$(cat "$s/state" 2>/dev/null)" = LOGGED_IN ]; }
resilvering() { timeout 10 zpool status $POOL 2>/dev/null | grep -q 'resilver in progress'; }
suspended() { grep -qx SUSPENDED /proc/spl/kstat/zfs/$POOL/state 2>/dev/null; }
say() { echo "[$(secs "$T_START" "$(now_ms)") s] $*"; }
# the daemons started here (zed, iscsid, syslogd) would keep init.sh waiting: power off
# here, by sysrq (qemu -no-reboot ends)
power_off() { echo 1 > /proc/sys/kernel/sysrq; echo o > /proc/sysrq-trigger; sleep 30; }
finish() {
    local summary="$N_PASS passed, $N_FAIL failed"
    echo "$summary" >> "$RESULTS"
    say "$summary"
    cp /var/log/messages "$LOGS/syslog.log" 2>/dev/null
    dmesg > "$LOGS/dmesg.txt" 2>/dev/null
    echo "E2E-GUEST-DONE"
    touch "$OUT/DONE"
}

# ---- setup ------------------------------------------------------------------------------
hostname "$NODE"; echo "$NODE" > /etc/hostname
zgenhostid -f "$HOSTID"
busybox syslogd -n -O /var/log/messages > /dev/null 2>&1 &   # not on init.sh's log pipe
mkdir -p /run/dbus /etc/target
dbus-daemon --system --fork                         # targetcli-fb needs the system bus
/lib/systemd/systemd-udevd --daemon
udevadm trigger --action=add > /dev/null 2>&1; udevadm settle -t 60
modprobe spl spl_hostid=0x$HOSTID
modprobe zfs zfs_arc_max=$((256 * 1024 * 1024))
modprobe -a iscsi_tcp target_core_mod iscsi_target_mod target_core_file nf_tables
ip addr add $ST_ADDR/32 dev lo
uname -r; zfs version; iscsiadm --version
dpkg-query -W -f='${Package} ${Version}\n' zfsutils-linux zfs-dkms zfs-zed open-iscsi targetcli-fb

# "storage-b"'s disk: a file with the GPT layout of the SAN's data disks, exported whole
# (run.sh partitioned it on the host, the image has no sfdisk: its first and last MiB)
truncate -s 2G $PEER_FILE
dd if=/e2e/guest/data-b.head of=$PEER_FILE bs=1M conv=notrunc status=none
dd if=/e2e/guest/data-b.tail of=$PEER_FILE bs=1M seek=2047 conv=notrunc status=none
targetcli > "$LOGS/targetcli.log" 2>&1 <<EOF
set global auto_add_default_portal=false
/backstores/fileio create name=data file_or_dev=$PEER_FILE write_back=false
/iscsi create $PEER_IQN
/iscsi/$PEER_IQN/tpg1/luns create /backstores/fileio/data
/iscsi/$PEER_IQN/tpg1/portals create $ST_ADDR 3260
/iscsi/$PEER_IQN/tpg1 set attribute authentication=0 generate_node_acls=1 demo_mode_write_protect=0 cache_dynamic_acls=1
EOF
rc=$?
check "s1 LIO exports $PEER_IQN on $PORTAL (targetcli rc=$rc)" [ $rc = 0 ]
iscsid
zed -F -v -p /run/zed.pid -s /run/zed.state > "$LOGS/zed.log" 2>&1 &
check "s2 the local data disk is there ($LOCAL_DEV)" wait_until 30 test -e $LOCAL_DEV

. /e2e/guest/record-zfs.sh
zrec_host host-$NODE
# the pool exists nowhere yet: what a node where it is not imported sees
zrec not-imported

# the timers of the SAN's recordings (tests/e2e/san/phases.sh, ISCSI_TIMERS)
iscsiadm -m node -o new -T $PEER_IQN -p $PORTAL > /dev/null
for kv in node.conn[0].timeo.noop_out_interval=2 node.conn[0].timeo.noop_out_timeout=2 \
    node.session.timeo.replacement_timeout=5 node.conn[0].timeo.login_timeout=10; do
    iscsiadm -m node -T $PEER_IQN -p $PORTAL -o update -n "${kv%%=*}" -v "${kv#*=}"
done
timeout 30 iscsiadm -m node -T $PEER_IQN -p $PORTAL --login
check "s3 logged in; the iSCSI disk's by-path partition is there" wait_until 30 test -e "$REMOTE_DEV"
udevadm settle -t 10
run timeout 60 zpool create -f -o multihost=on -o ashift=12 -o cachefile=none -O compression=off -O atime=off \
    $POOL mirror $LOCAL_DEV "$REMOTE_DEV"
dd if=/dev/urandom of=/$POOL/seed bs=1M count=16 status=none && zpool sync $POOL
zpool status -P $POOL
check "p1 san-pool = mirror(local, iSCSI), ONLINE" [ "$(remote_vdev_state)" = ONLINE ]

# ---- healthy; 2.1's answer to -j (once) ------------------------------------------------------
zrec healthy
zrec_json_rejected healthy

# ---- the storage link cut with a write pending: the remote leaf faults -------------------------
link_cut; t=$(now_ms)
rm -f /tmp/cut-write
( dd if=/dev/urandom of=/$POOL/during-cut bs=1M count=8 status=none; zpool sync $POOL
  echo "write+sync returned after $(secs "$t" "$(now_ms)") s" > /tmp/cut-write ) &
cut_done() { [ -s /tmp/cut-write ] && remote_gone; }
wait_until 120 cut_done
say "remote vdev $(remote_vdev_state) $(secs "$t" "$(now_ms)") s after the cut; $(cat /tmp/cut-write 2>/dev/null)"
check "f1 the remote leaf left ONLINE after the cut ($(remote_vdev_state))" remote_gone
zrec faulted; zevents_now faulted
t=$(now_ms)
dd if=/dev/urandom of=/$POOL/while-faulted bs=1M count=200 status=none; zpool sync $POOL
say "200 MB written while the remote leg is $(remote_vdev_state), in $(secs "$t" "$(now_ms)") s"

# ---- the link back: the session logs in again, the vdev stays out ------------------------------
link_restore; t=$(now_ms)
wait_until 60 session_logged_in
say "session $(cat "$(peer_session)/state" 2>/dev/null) $(secs "$t" "$(now_ms)") s after the restore"
sleep 5
check "b1 session LOGGED_IN again, remote leaf still $(remote_vdev_state)" sh -c "[ '$(remote_vdev_state)' != ONLINE ]"
session_logged_in || fail "b2 the session did not log in again within 60 s"
zrec session-back-vdev-faulted

# ---- zpool online: the resilver, sampled as fast as the recording goes -------------------------
run zpool online $POOL "$REMOTE_DEV"
t=$(now_ms)
zrec resilvering-1
k=1
while [ $k -lt $SAMPLES_MAX ] && resilvering; do
    k=$((k + 1)); zrec resilvering-$k
done
timeout 600 zpool wait -t resilver $POOL
say "resilver over $(secs "$t" "$(now_ms)") s after zpool online; $k samples"
n=$(grep -l 'resilver in progress' "$ZREC"/resilvering-*.zpool-status-P.txt 2>/dev/null | wc -l)
check "r1 the resilver was caught in progress in at least 3 samples ($n)" [ "$n" -ge 3 ]
zrec resilvered; zevents_now resilvered
zpool status -P $POOL

# ---- an admin takes the remote leg OFFLINE; back online, resilver, clear --------------------
run zpool offline $POOL "$REMOTE_DEV"
zrec admin-offline
run zpool online $POOL "$REMOTE_DEV"
timeout 300 zpool wait -t resilver $POOL
run zpool clear $POOL
zrec healthy-again
check "h1 healthy again: remote leaf ONLINE" [ "$(remote_vdev_state)" = ONLINE ]

# ---- exported -------------------------------------------------------------------------------
run zpool export $POOL
zrec exported
check "e1 exported: no kstat" [ ! -d /proc/spl/kstat/zfs/$POOL ]

# ---- suspended (last): imported again, both legs gone, failmode=wait ------------------------
run timeout 120 zpool import -d /dev/disk/by-path $POOL
zpool status -P $POOL
if ! [ -d /proc/spl/kstat/zfs/$POOL ]; then
    fail "x1 san-pool could not be imported again: no suspended state"
    finish; sync; power_off
fi
link_cut; t=$(now_ms)
( dd if=/dev/urandom of=/$POOL/suspend-1 bs=1M count=4 status=none; zpool sync $POOL ) > /dev/null 2>&1 &
wait_until 120 remote_not_online
say "remote vdev $(remote_vdev_state) after $(secs "$t" "$(now_ms)") s; removing the local data disk (PCI 0000:00:13.0)"
echo 1 > /sys/bus/pci/devices/0000:00:13.0/remove
( dd if=/dev/urandom of=/$POOL/suspend-2 bs=1M count=4 status=none; zpool sync $POOL ) > /dev/null 2>&1 &
wait_until 120 suspended
say "pool state (kstat): $(cat /proc/spl/kstat/zfs/$POOL/state) after $(secs "$t" "$(now_ms)") s"
zrec suspended; zevents_now suspended
check "x1 the pool SUSPENDED (kstat)" grep -qx SUSPENDED "$ZREC/suspended.kstat-state.txt"
say "guest took $(secs "$T_START" "$(now_ms)") s"
finish
# a suspended pool never syncs: power off without the sync init.sh would do (9p has no
# cache, the share is written through)
power_off
