#!/bin/sh
# PID 1 of the e2e VM (no systemd), baked into the image as /opt/e2e/init.sh by
# build-image.sh (so it is part of the image's cache key). Mounts the kernel file systems,
# mounts the host's 9p share "e2e" on /e2e, runs /e2e/guest/main.sh (everything else the
# guest does lives in the share, so changing the scenario does not rebuild the image),
# then powers off; qemu runs with -no-reboot, so the VM ends.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root
mp() { mountpoint -q "$2" || mount -t "$1" "$1" "$2"; }
mp proc /proc; mp sysfs /sys; mp devtmpfs /dev
mkdir -p /dev/pts /dev/shm; mp devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mp tmpfs /run; mkdir -p /run/lock; mp tmpfs /tmp
modprobe configfs 2>/dev/null; mp configfs /sys/kernel/config
mount -o remount,rw / 2>/dev/null
hostname "$(cat /etc/hostname)"; ip link set lo up
echo "E2E-INIT-START uptime=$(cut -d' ' -f1 /proc/uptime)"
modprobe -a 9p 9pnet_virtio
mkdir -p /e2e
if mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 e2e /e2e; then
    mkdir -p /e2e/out
    if [ -x /e2e/guest/main.sh ]; then
        /bin/bash -c '/e2e/guest/main.sh 2>&1 | tee /e2e/out/guest.log; echo "${PIPESTATUS[0]}" > /e2e/out/guest.rc'
    else
        echo "E2E-INIT: /e2e/guest/main.sh missing"
    fi
    sync; umount /e2e
else
    echo "E2E-INIT: 9p share 'e2e' not available"
fi
echo "E2E-INIT-POWEROFF uptime=$(cut -d' ' -f1 /proc/uptime)"
sync
echo 1 > /proc/sys/kernel/sysrq
poweroff -f 2>/dev/null || echo o > /proc/sysrq-trigger
sleep 30
