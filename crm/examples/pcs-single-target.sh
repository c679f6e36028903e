#!/bin/bash
# Drop-in for ocf:heartbeat:iscsi: one target, one portal, same parameter names.
# peer_node lets the monitor judge a down session by that node's cluster state.
set -euo pipefail
pcs resource create remote-disk ocf:san:iscsi-mirror \
    portal=10.10.10.2:3260 target=iqn.2025-01.lab.home:storage-b peer_node=storage-b \
    udev=true op monitor interval=10s timeout=30s
