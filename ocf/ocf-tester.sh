#!/bin/bash
# ocf-tester (resource-agents) against the agent installed under a provider directory,
# pointed at a simulated open-iscsi host, in peers mode and in portal/target mode.
#
#   ocf/ocf-tester.sh            uses target/release binaries (builds them if needed)
#
# The simulated host stands in for kernel iSCSI, which this host lacks; the portals are
# real TCP listeners on loopback, so "reachable" means what it means on a real SAN.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
cd "$TOP"

command -v ocf-tester >/dev/null || { echo "ocf-tester not found: apt-get install resource-agents" >&2; exit 1; }
cargo build --release --locked -q -p iscsi-mirror -p iscsi-simhost --bin iscsi-mirror --bin iscsi-simhost

WORK=$(mktemp -d /tmp/iscsi-mirror-ocf-tester.XXXXXX)
chmod 755 "$WORK"   # ocf-tester runs meta-data as nobody
LISTENERS=()
cleanup() {
    for pidfile in "${LISTENERS[@]}"; do
        [ -s "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

PROVIDER="$WORK/ocf/resource.d/san"
make -s install-agent DESTDIR="$WORK/root" >/dev/null
install -D -m 0755 "$WORK/root/usr/lib/ocf/resource.d/san/iscsi-mirror" "$PROVIDER/iscsi-mirror"

listen() { # ADDR PORT
    local pidfile="$WORK/listener-$1-$2.pid"
    python3 "$HERE/portal-listener.py" "$1" "$2" "$pidfile" &
    LISTENERS+=("$pidfile")
    for _ in $(seq 1 50); do [ -s "$pidfile" ] && return 0; sleep 0.1; done
    echo "listener on $1:$2 did not start" >&2; return 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

SIM=target/release/iscsi-simhost
HOST="$WORK/host"
IQN_A=iqn.2025-01.lab.home:storage-a
IQN_B=iqn.2025-01.lab.home:storage-b
PA=$(free_port); PB1=$(free_port); PB2=$(free_port)
listen 127.0.0.1 "$PA"; listen 127.0.0.2 "$PB1"; listen 127.0.0.3 "$PB2"
"$SIM" --root "$HOST" init --binary "$TOP/$SIM" >/dev/null
"$SIM" --root "$HOST" add-target "$IQN_A" "127.0.0.1:$PA" >/dev/null
"$SIM" --root "$HOST" add-target "$IQN_B" "127.0.0.2:$PB1,127.0.0.3:$PB2" >/dev/null

common=(-o "iscsiadm=$HOST/bin/iscsiadm" -o "host_root=$HOST" -o crm_mon=/nonexistent/crm_mon -o reconnect_jitter=100)
rc=0
echo "== ocf-tester, peers mode (clone on storage-a, two paths to storage-b)"
ocf-tester -n mirror -v \
    -o "peers=storage-a=$IQN_A@127.0.0.1:$PA storage-b=$IQN_B@127.0.0.2:$PB1,127.0.0.3:$PB2" \
    -o CRM_meta_on_node=storage-a "${common[@]}" "$PROVIDER/iscsi-mirror" || rc=1
echo "== ocf-tester, portal/target mode (drop-in for ocf:heartbeat:iscsi)"
ocf-tester -n single -v -o "portal=127.0.0.2:$PB1" -o "target=$IQN_B" "${common[@]}" "$PROVIDER/iscsi-mirror" || rc=1
left=$("$SIM" --root "$HOST" sessions)
if [ "$left" != "[]" ]; then echo "sessions left behind: $left" >&2; rc=1; fi
exit $rc
