#!/bin/sh
# zedlet-dump.sh - a zedlet that records what ZED hands a zedlet: every ZEVENT_* variable
# and the moment it was invoked. Installed by main.sh as /etc/zfs/zed.d/all-zevent-dump.sh
# (every event) and, through a symlink from zed.d to a copy outside it, as
# statechange-symlink-probe (does ZED run a zedlet that is a symlink to a binary outside
# zed.d?). One file per invocation under /e2e/out/zevents/NODE/:
#   <epoch ns>-<eid>-<subclass>-<zedlet name>.env
node=$(cat /etc/hostname 2>/dev/null || echo unknown)
now=$(date +%s%N)
dir=/e2e/out/zevents/$node
mkdir -p "$dir"
f="$dir/$now-${ZEVENT_EID:-x}-${ZEVENT_SUBCLASS:-x}-$(basename "$0").env"
{
    echo "# zedlet $0 (argv0; realpath $(readlink -f "$0")) invoked at $now ns, uptime $(cut -d' ' -f1 /proc/uptime), pid $$"
    env | grep '^ZEVENT_' | sort
    env | grep -E '^(ZED_|ZFS_|PATH=)' | sort | sed 's/^/# env: /'
} > "$f"
exit 0
