#!/bin/bash
# make demo: the agent at work in a real single-node Pacemaker + Corosync cluster on this
# machine. This kernel has no iSCSI, so the sessions live in the simulated open-iscsi host
# (tests/simhost); Pacemaker, Corosync, pcs, crm_mon and the agent are the real thing.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== iscsi-mirror demo: a mirror leg under Pacemaker, its failure, its recovery"
DEMO=1 bash crm/tests/pacemaker-single-node.sh
