#!/bin/bash
# The same two-node SAN as crmsh-two-node-san.sh with one single-target primitive per leg,
# the ocf:heartbeat:iscsi drop-in (see pcs-single-target.sh). Same usage: corosync | cib | print.
LEGS=single exec "$(dirname "$0")/crmsh-two-node-san.sh" "$@"
