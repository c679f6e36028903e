#!/bin/bash
# lab-exec.sh N CMD [ARGS...] - run CMD inside lab node N (its mount namespace, and in a
# multi-node lab also its network and UTS namespaces). Works for the single-node lab
# too (node 1): needed for anything that must see the lab's /usr/lib/ocf/resource.d/san,
# e.g.  lab-exec.sh 1 pcs resource create m ocf:san:iscsi-mirror ...
#       lab-exec.sh 2 crm_mon -1 --output-as=xml
#       lab-exec.sh 1 corosync-cmapctl -g runtime.config.totem.token
# Exit status: CMD's, or 2 if node N is not up.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
n=${1:?usage: lab-exec.sh N CMD...}; shift
[ $# -gt 0 ] || { echo "usage: lab-exec.sh N CMD..." >&2; exit 2; }
h=$(node_pid "$n" holder)
alive "$h" sleep || { echo "lab node $n is not up (no live holder in $LAB/n$n/pids)" >&2; exit 2; }
if [ "$(lab_mode)" = netns ]; then
    exec nsenter -t "$h" -n -m -u -- "$@"
else
    exec nsenter -t "$h" -m -- "$@"
fi
