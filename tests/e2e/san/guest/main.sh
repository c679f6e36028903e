#!/bin/bash
# main.sh - what a storage node of the e2e-san run does at every boot, as PID 1's child
# (/opt/e2e/init.sh runs /e2e/guest/main.sh from the 9p share; no systemd). It brings the
# node up as a real node's boot would, in this order, then serves the host's commands:
#
#   clock      set from the host's clock (a file's mtime on the 9p share), so that guest
#              and host stamps compare to a few ms
#   identity   hostname, /etc/hosts, the initiator name and the ZFS hostid (zgenhostid):
#              per node, written at boot (the root disk is snapshot=on)
#   network    cluster link (ring0, the VIP) and storage link (iSCSI, ring1, MTU 9000)
#   target     LIO exports this node's data disk (fileio backstore on the whole disk,
#              write_back=false: see README, "LIO block vs ZFS") to the peer
#   initiator  iscsid (the sessions are the agent's: it logs in when Pacemaker starts it)
#   sbd        disk (poison pill) on the shared disk + the i6300esb watchdog, started
#              before corosync/pacemaker as sbd.service would
#   cluster    corosync (two links, two_node) and pacemakerd
#   zed        zed -F with Debian's zedlets and the recording zedlet (all-zevent-dump)
#   evmon      state transitions (session, vdevs, pool, VIP, writer) -> /e2e/out/events.log
#
# then loops: each /e2e/cmd/ID-TIMEOUT.sh the host drops is run (in the background, under
# `timeout`) with san-lib.sh sourced; its output goes to /e2e/res/ID.out, its exit code to
# /e2e/res/ID.rc. /e2e/cmd/STOP ends the loop (and the VM: init.sh powers off).
set -u
. /e2e/guest/san-lib.sh
mkdir -p "$LOGS" /e2e/res /run/gx
exec > "$OUT/boot-$BOOT.log" 2>&1
t_boot=$(now_ms)
echo "E2E-SAN-NODE $NODE boot $BOOT uptime $(cut -d' ' -f1 /proc/uptime)"

# ---- clock: the host stamps a file's mtime when qemu writes it on its behalf ---------------
clock_sync() {
    local best=999999 i t0 t1 h off rtt
    for i in 1 2 3 4 5; do
        t0=${EPOCHREALTIME/./}; echo "$i" > /e2e/out/.clock; t1=${EPOCHREALTIME/./}
        h=$(stat -c %.6Y /e2e/out/.clock); h=${h/./}
        rtt=$((t1 - t0))
        if [ $rtt -lt $best ]; then best=$rtt; off=$((h - (t0 + t1) / 2)); fi
    done
    echo "$off $best"
}
read -r off rtt < <(clock_sync)
# step the clock by the offset inside one process (date -s would lose its own exec time)
python3 -c "import time; time.clock_settime(time.CLOCK_REALTIME, time.clock_gettime(time.CLOCK_REALTIME) + $off / 1e6)"
read -r off2 rtt2 < <(clock_sync)
echo "clock: offset to host ${off} us (rtt ${rtt} us) -> after setting ${off2} us (rtt ${rtt2} us)"
echo "$NODE boot $BOOT clock_offset_after_set_us $off2 rtt_us $rtt2" >> "$OUT/clock.log"

# ---- identity ---------------------------------------------------------------------------
hostname "$NODE"; echo "$NODE" > /etc/hostname
cat > /etc/hosts <<EOF
127.0.0.1 localhost
$CL_ADDR $NODE
$PEER_CL $PEER
EOF
echo "InitiatorName=$INITIATOR" > /etc/iscsi/initiatorname.iscsi
zgenhostid -f "$HOSTID"
echo "hostid $(hostid) initiator $INITIATOR"

# ---- daemons and modules ----------------------------------------------------------------
busybox syslogd -n -O /var/log/messages & echo $! > /run/syslogd.pid
mkdir -p /run/dbus /etc/target /run/crm /run/resource-agents /var/log/corosync /var/log/pacemaker
dbus-daemon --system --fork
/lib/systemd/systemd-udevd --daemon
udevadm trigger --action=add > /dev/null 2>&1; udevadm settle -t 60
# ZFS: a small ARC (1 GiB VMs); the hostid is in /etc/hostid before spl loads
modprobe spl spl_hostid=0x$HOSTID
modprobe zfs zfs_arc_max=$((192 * 1024 * 1024))
modprobe -a iscsi_tcp target_core_mod iscsi_target_mod target_core_file target_core_iblock i6300esb
echo "zfs hostid (spl) $(cat /sys/module/spl/parameters/spl_hostid) hostid(1) $(hostid)"
# ship the local logs to the share as they grow (a killed VM's root disk is gone)
for f in /var/log/messages; do
    touch "$f"; tail -n +1 -F "$f" >> "$LOGS/$NODE-boot$BOOT-${f##*/}" 2>/dev/null &
done

# ---- network: by MAC (the NIC names follow the PCI slots) --------------------------------
nic_of() { local d; for d in /sys/class/net/*; do [ "$(cat "$d/address")" = "$1" ] && { echo "${d##*/}"; return 0; }; done; return 1; }
CL_NIC=$(nic_of "$CL_MAC"); ST_NIC=$(nic_of "$ST_MAC")
ip link set "$CL_NIC" up; ip addr add "$CL_ADDR/24" dev "$CL_NIC"
ip link set "$ST_NIC" mtu 9000 2>/dev/null || echo "storage NIC: MTU 9000 refused, staying at $(cat /sys/class/net/$ST_NIC/mtu)"
ip link set "$ST_NIC" up; ip addr add "$ST_ADDR/24" dev "$ST_NIC"
echo "CL_NIC=$CL_NIC ST_NIC=$ST_NIC" > /run/nics.env
ip -br addr
echo "cluster nic $CL_NIC, storage nic $ST_NIC mtu $(cat /sys/class/net/$ST_NIC/mtu)"

# ---- LIO target: this node's data disk to the peer ---------------------------------------
DATA_DISK=/dev/disk/by-path/virtio-pci-0000:00:13.0
t=$(now_ms)
targetcli > "$LOGS/$NODE-targetcli-boot$BOOT.log" 2>&1 <<EOF
set global auto_add_default_portal=false
/backstores/fileio create name=data file_or_dev=$(readlink -f $DATA_DISK) write_back=false
/iscsi create $IQN
/iscsi/$IQN/tpg1/luns create /backstores/fileio/data
/iscsi/$IQN/tpg1/portals create $ST_ADDR 3260
/iscsi/$IQN/tpg1 set attribute authentication=0 generate_node_acls=1 demo_mode_write_protect=0 cache_dynamic_acls=1
EOF
echo "LIO target $IQN on $ST_ADDR:3260 (fileio on $(readlink -f $DATA_DISK)) rc=$? in $(secs "$t" "$(now_ms)") s"
iscsid

# ---- sbd: poison pill on the shared disk, the i6300esb watchdog --------------------------
WD=
for w in /sys/class/watchdog/watchdog*; do
    [ "$(cat "$w/identity" 2>/dev/null)" = "i6300ESB timer" ] && WD=/dev/${w##*/}
done
echo "watchdog: ${WD:-none} ($(cat /sys/class/watchdog/*/identity 2>/dev/null | tr '\n' ' '))"
SBD_DEV=/dev/disk/by-id/virtio-sbd
if [ "$SBD_CREATE" = 1 ] && ! sbd -d $SBD_DEV dump > /dev/null 2>&1; then
    sbd -d $SBD_DEV -1 "$SBD_WD_TIMEOUT" -4 "$SBD_MSGWAIT" create
fi
wait_until 120 sbd -d $SBD_DEV dump || echo "sbd: no header on $SBD_DEV after 120 s"
sbd -d $SBD_DEV dump
cat > /etc/default/sbd <<EOF
SBD_DEVICE=$SBD_DEV
SBD_PACEMAKER=yes
SBD_STARTMODE=always
SBD_DELAY_START=no
SBD_WATCHDOG_DEV=$WD
SBD_WATCHDOG_TIMEOUT=$SBD_WD_TIMEOUT
SBD_TIMEOUT_ACTION=flush,reboot
SBD_MOVE_TO_ROOT_CGROUP=auto
SBD_SYNC_RESOURCE_STARTUP=yes
SBD_OPTS=
EOF
# what sbd.service does: the config as environment, `sbd -p PIDFILE watch`
( set -a; . /etc/default/sbd; set +a; exec sbd -p /run/sbd.pid watch ) >> "$LOGS/$NODE-sbd-boot$BOOT.log" 2>&1 &
wait_until 30 test -s /run/sbd.pid
echo "sbd pid $(cat /run/sbd.pid 2>/dev/null) (watchdog $WD, timeout $SBD_WD_TIMEOUT s, msgwait $SBD_MSGWAIT s)"
sbd -d $SBD_DEV list

# ---- corosync + pacemaker ---------------------------------------------------------------
cat > /etc/corosync/corosync.conf <<EOF
# e2e-san, written by tests/e2e/san/guest/main.sh. ring0 (link 0) on the cluster link,
# ring1 (link 1) on the storage link, as the design has it: a storage-only cut keeps the
# membership on link 0. two_node (implies wait_for_all) with sbd fencing: see README.
totem {
    version: 2
    cluster_name: san
    transport: knet
    token: 4000
    consensus: 4800
    join: 1000
    max_messages: 20
    crypto_cipher: none
    crypto_hash: none
}
nodelist {
    node {
        name: storage-a
        nodeid: 1
        ring0_addr: $CL_NET.1
        ring1_addr: $ST_NET.1
    }
    node {
        name: storage-b
        nodeid: 2
        ring0_addr: $CL_NET.2
        ring1_addr: $ST_NET.2
    }
}
quorum {
    provider: corosync_votequorum
    two_node: 1
}
logging {
    fileline: off
    to_stderr: no
    to_logfile: yes
    logfile: /var/log/corosync/corosync.log
    to_syslog: no
    timestamp: hires
}
EOF
tmp=$(mktemp)
cibadmin --empty > "$tmp"
CIB_file=$tmp crm_attribute -t crm_config -n dc-deadtime -v 2s
CIB_file=$tmp crm_attribute -t crm_config -n stonith-enabled -v true
install -o hacluster -g haclient -m 600 "$tmp" /var/lib/pacemaker/cib/cib.xml
rm -f "$tmp" /var/lib/pacemaker/cib/cib.xml.sig
chown hacluster:haclient /run/crm /var/log/pacemaker
DAEMON_ENV=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8)
SBD_ENV=($(sed -n 's/^\(SBD_[A-Z_]*=.*\)/\1/p' /etc/default/sbd))
"${DAEMON_ENV[@]}" corosync -f > "$LOGS/$NODE-corosync-boot$BOOT.stdout" 2>&1 < /dev/null &
echo $! > /run/corosync-fg.pid
wait_until 60 sh -c 'corosync-cfgtool -s > /dev/null' || echo "corosync: cfgtool not answering after 60 s"
"${DAEMON_ENV[@]}" "${SBD_ENV[@]}" PCMK_logfile=/var/log/pacemaker/pacemaker.log pacemakerd \
    > "$LOGS/$NODE-pacemakerd-boot$BOOT.stdout" 2>&1 < /dev/null &
echo $! > /run/pacemakerd-fg.pid
for f in /var/log/corosync/corosync.log /var/log/pacemaker/pacemaker.log; do
    touch "$f"; tail -n +1 -F "$f" >> "$LOGS/$NODE-boot$BOOT-${f##*/}" 2>/dev/null &
done

# ---- the agent, as an admin installs it: the package, whose ZED hook links zed reads next --
dpkg -i /e2e/bin/iscsi-mirror.deb > "$LOGS/$NODE-dpkg-install-boot$BOOT.log" 2>&1 ||
    echo "E2E-SAN-SETUP-FAILED dpkg -i iscsi-mirror.deb (see $NODE-dpkg-install-boot$BOOT.log)"
echo "agent: $(dpkg-query -W -f='${Package} ${Version}' iscsi-mirror), hooks: $(ls /etc/zfs/zed.d | grep iscsi-mirror | tr '\n' ' ')"

# ---- zed ------------------------------------------------------------------------------------
install -m 0755 /e2e/guest/zedlet-dump.sh /etc/zfs/zed.d/all-zevent-dump.sh
# is a zedlet that is a symlink to an executable outside zed.d run? (the agent plans to
# ship itself as statechange-iscsi-mirror etc.)
install -D -m 0755 /e2e/guest/zedlet-dump.sh /usr/local/libexec/zedlet-symlink-probe
ln -sf /usr/local/libexec/zedlet-symlink-probe /etc/zfs/zed.d/statechange-symlink-probe
zed -F -v -p /run/zed.pid -s /run/zed.state > "$LOGS/$NODE-zed-boot$BOOT.log" 2>&1 &

# ---- evmon, the writer's program --------------------------------------------------------------
install -m 0755 /e2e/guest/writer.sh /usr/local/sbin/san-writer
/e2e/guest/evmon.sh > "$LOGS/$NODE-evmon-boot$BOOT.log" 2>&1 &

echo "node up in $(secs "$t_boot" "$(now_ms)") s"
ts "E2E-SAN-READY $NODE boot $BOOT" | tee "$OUT/READY"

# ---- serve the host's commands ----------------------------------------------------------
exec 7<> <(:)    # read -t on it: a sleep without a fork
while [ ! -e /e2e/cmd/STOP ]; do
    for f in /e2e/cmd/[0-9]*.sh; do
        [ -e "$f" ] || continue
        b=${f##*/}; id=${b%%-*}; to=${b#*-}; to=${to%.sh}
        [ -e "/run/gx/$id" ] && continue
        : > "/run/gx/$id"
        (
            timeout -k 5 "$to" bash -c ". /e2e/guest/san-lib.sh; . $f" > "/e2e/res/$id.out" 2>&1 < /dev/null
            echo $? > "/e2e/res/$id.rc.tmp"; mv "/e2e/res/$id.rc.tmp" "/e2e/res/$id.rc"
        ) &
    done
    read -r -t 0.2 -u 7 _
done
echo "STOP: leaving the command loop"
