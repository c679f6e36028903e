#!/bin/bash
# kill-corosync.sh N - SIGKILL node N's corosync (by its recorded PID) to simulate the
# loss of that node as its peers see it. Pacemaker on node N keeps running without its
# corosync (pacemakerd stays; its children exit). node-restart.sh N brings it back.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
n=${1:?usage: kill-corosync.sh N}
p=$(node_pid "$n" corosync)
alive "$p" corosync || die "lab$n: no live corosync recorded (pid '${p}')"
kill -KILL "$p"
wait_gone "$p" 5 || die "lab$n: corosync[$p] survived SIGKILL for 5s"
log "lab$n: corosync[$p] killed"
