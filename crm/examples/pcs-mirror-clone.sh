#!/bin/sh
# The mirror's clone alone, with the values of crm/examples/san.env (the man page's and the
# README's example). pcs-two-node-san.sh builds the whole SAN around it: fencing, Corosync,
# the pool, the constraints and the health properties that must go with it.
pcs resource create san-mirror ocf:san:iscsi-mirror \
    peers="storage-a=iqn.2025-01.lab.home:storage-a@10.10.10.1:3260 storage-b=iqn.2025-01.lab.home:storage-b@10.10.10.2:3260" \
    noop_out_interval=2 noop_out_timeout=2 replacement_timeout=5 login_timeout=10 pool=san-pool \
    op monitor interval=10s timeout=30s \
    clone san-mirror-clone interleave=true allow-unhealthy-nodes=true
