#!/bin/bash
# The same two-node SAN as pcs-two-node-san.sh, with the agent as a drop-in for
# ocf:heartbeat:iscsi: one single-target primitive per leg (same parameter names: portal,
# target; plus peer_node, so that a leg down because its peer is down is judged as
# expected) instead of the clone:
#   san-leg-a on storage-a: portal=10.10.10.2:3260 target=<storage-b's IQN> peer_node=storage-b
#   san-leg-b on storage-b: portal=10.10.10.1:3260 target=<storage-a's IQN> peer_node=storage-a
# Fencing, quorum, pool, services, health and stickiness are the same; the pool's order and
# colocation name each leg. Same usage as pcs-two-node-san.sh (corosync | cib; COROSYNC_CONF,
# CIB_FILE, FENCE, ...); crm/tests/scheduler.sh runs every scenario against it too.
LEGS=single exec "$(dirname "$0")/pcs-two-node-san.sh" "$@"
