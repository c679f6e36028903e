#!/bin/bash
# The seeds' two-node HA SAN with pcs: storage-a (10.10.10.1) and storage-b (10.10.10.2)
# export their local disks over LIO and mirror them with ZFS (pool san-pool). Run once,
# on either node, after `make install` on both. Review before running: it changes the CIB.
set -euo pipefail

pcs resource create san-mirror ocf:san:iscsi-mirror \
    peers="storage-a=iqn.2025-01.lab.home:storage-a@10.10.10.1:3260 storage-b=iqn.2025-01.lab.home:storage-b@10.10.10.2:3260" \
    noop_out_interval=2 noop_out_timeout=2 replacement_timeout=5 login_timeout=10 \
    timeout_policy=warn pool=san-pool \
    op start timeout=90s op stop timeout=90s \
    op monitor interval=10s timeout=30s \
    op monitor interval=60s timeout=60s OCF_CHECK_LEVEL=10 \
    clone interleave=true allow-unhealthy-nodes=true

# Prefer the node whose mirror is whole: the agent publishes #health-iscsi-mirror
# (green/yellow/red); with this strategy yellow costs a node some score, red bans it.
# allow-unhealthy-nodes=true (above) keeps the clone itself running, and repairing, on a
# node it marked red.
pcs property set node-health-strategy=progressive
pcs property set node-health-yellow=-100 node-health-red=-INFINITY

# Services that use the pool start after this node's leg, on a node where it runs:
# pcs constraint order start san-mirror-clone then start <pool-resource>
# pcs constraint colocation add <pool-resource> with san-mirror-clone INFINITY
