#!/bin/bash
# install-agent.sh PATH - make the agent binary PATH visible as
# /usr/lib/ocf/resource.d/san/iscsi-mirror INSIDE every lab node, the host untouched.
#
# How: cluster-up.sh gives each node a private mount namespace in which $LAB/resource.d
# is bind-mounted (recursively) over /usr/lib/ocf/resource.d; the host's own providers
# (heartbeat, pacemaker, ...) are bound read-only into it, and $LAB/resource.d/san is the
# lab's plain directory. This script copies PATH to $LAB/resource.d/san/iscsi-mirror
# (atomically: copy then rename), so pacemaker-execd, crm_resource and pcs inside the
# nodes find ocf:san:iscsi-mirror, while the host's /usr/lib/ocf/resource.d has no san/.
# Works before or after cluster-up.sh; run it again after each rebuild.
# With --remove: delete the lab's copy.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
src=${1:?usage: install-agent.sh PATH | --remove}
dst=$LAB/resource.d/san/iscsi-mirror
mkdir -p "$LAB/resource.d/san"
if [ "$src" = --remove ]; then rm -f "$dst"; log "removed $dst"; exit 0; fi
[ -f "$src" ] && [ -x "$src" ] || die "$src: not an executable file"
install -m 755 "$src" "$dst.new"
mv -f "$dst.new" "$dst"
log "installed $src as $dst"
# show what a node sees, when a lab is up
if alive "$(node_pid 1 holder)" sleep; then
    for i in $(seq 1 "$(lab_nodes)"); do
        in_node "$i" test -x "$OCF_RD/san/iscsi-mirror" || die "lab$i does not see $OCF_RD/san/iscsi-mirror"
    done
    log "visible in lab node(s) 1..$(lab_nodes) as $OCF_RD/san/iscsi-mirror"
fi
