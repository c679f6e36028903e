# lib.sh - helpers shared by the iscsi-mirror lab scripts (sourced, never run).
#
# The lab runs REAL Corosync 3 + Pacemaker 2.1 (Debian 12 packages) on this machine,
# as root, without systemd. Every daemon is started by these scripts, its PID is
# recorded in $LAB/n<i>/pids, and it is stopped by that PID (never by name).
#
# Layout ($LAB, default /tmp/iscsi-mirror-lab):
#   $LAB/lab.env            NODES and MODE (host: NODES=1, netns: NODES>=2) of the running lab
#   $LAB/n<i>/              per-node state, bind-mounted inside node i's mount namespace:
#     var-lib-pacemaker -> /var/lib/pacemaker   var-lib-corosync -> /var/lib/corosync
#     log-pacemaker     -> /var/log/pacemaker   log-corosync     -> /var/log/corosync
#     etc-corosync      -> /etc/corosync        (a fresh tmpfs on /run)
#   $LAB/n<i>/pids          holder=, corosync=, pacemakerd= (the "holder" is a `sleep
#                           infinity` that keeps the node's namespaces alive)
#   $LAB/resource.d/        bind-mounted (recursively) over /usr/lib/ocf/resource.d in
#                           every node: the host's providers (heartbeat, pacemaker, ...)
#                           are bound into it read-only, and san/ is the lab's own
#                           provider dir, filled by install-agent.sh
#
# Modes:
#   host  (NODES=1): node lab1 on 127.0.0.1 in the HOST network namespace with the
#         host's /dev/shm, so crm_mon, cibadmin, pcs, corosync-cmapctl work from a
#         plain host shell. Only the mount namespace is private.
#   netns (NODES=2,3): node i in network namespace imlab-n<i>, 192.168.77.<i>/24 on
#         a bridge inside namespace imlab-sw; private mount, UTS (hostname lab<i>),
#         /dev/shm and /run. Nothing touches the host's interfaces or routes.

LAB=${LAB:-/tmp/iscsi-mirror-lab}
NS_PREFIX=imlab
NET=192.168.77
OCF_RD=/usr/lib/ocf/resource.d
# A minimal, systemd-like environment for the daemons (and so for the agents they run).
DAEMON_ENV=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8)

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }
log() { echo "[$(date +%T)] $*" >&2; }
die() { echo "ERROR: $*" >&2; exit 1; }

need_root() { [ "$(id -u)" = 0 ] || die "the lab needs root (namespaces, mounts)"; }
need_tools() {
    local t
    for t in corosync pacemakerd crm_mon cibadmin crm_attribute corosync-quorumtool \
             corosync-cfgtool xmllint nsenter unshare ip; do
        command -v "$t" > /dev/null || die "$t not found: apt-get install -y pacemaker corosync pcs pacemaker-cli-utils libxml2-utils iproute2"
    done
}

# alive PID [COMM]: PID runs (a zombie counts as gone) and, if given, its comm is COMM
alive() {
    local pid=${1:-} comm=${2:-}
    [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && return 1
    [ -z "$comm" ] || [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ]
}

# wait_gone PID SECONDS: wait until PID has exited (reaping our own children); 1 on timeout
wait_gone() {
    local pid=$1 end=$(( $(date +%s%N) / 1000000 + $2 * 1000 ))
    while alive "$pid"; do
        [ $(( $(date +%s%N) / 1000000 )) -ge $end ] && return 1
        sleep 0.1
    done
    wait "$pid" 2>/dev/null || true
    return 0
}

# stop_pid PID COMM SECONDS: SIGTERM the PID if its comm is COMM, wait, then SIGKILL
stop_pid() {
    local pid=$1 comm=$2 t=${3:-15}
    alive "$pid" "$comm" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" "$t"; then
        log "  $comm[$pid] ignored SIGTERM for ${t}s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" 5 || true
    fi
}

# stop_daemons "N..." KEY SECONDS CMD...: in each listed node whose recorded KEY daemon
# (pacemakerd, corosync) lives, run CMD (its own clean shutdown) in parallel; wait up to
# SECONDS for each PID, then SIGTERM/SIGKILL it by PID
stop_daemons() {
    local nodes=$1 key=$2 t=$3 i p; shift 3
    for i in $nodes; do
        if alive "$(node_pid "$i" "$key")" "$key"; then
            in_node "$i" timeout "$t" "$@" > /dev/null 2>&1 &
        fi
    done
    wait || true
    for i in $nodes; do
        p=$(node_pid "$i" "$key")
        if alive "$p" "$key"; then wait_gone "$p" "$t" || stop_pid "$p" "$key" 10; fi
    done
}

# wait_until SECONDS CMD...: poll CMD every 0.2 s until it succeeds; 1 on timeout
wait_until() {
    local end=$(( $(date +%s%N) / 1000000 + $1 * 1000 )); shift
    until "$@" > /dev/null 2>&1; do
        [ $(( $(date +%s%N) / 1000000 )) -ge $end ] && return 1
        sleep 0.2
    done
}

# pids_in_mntns HOLDER: every PID except the holder that shares the holder's mount
# namespace, i.e. exactly the processes these scripts started inside that node
pids_in_mntns() {
    local holder=$1 ns p
    ns=$(readlink "/proc/$holder/ns/mnt" 2>/dev/null) || return 0
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [ "$p" = "$holder" ] && continue
        [ "$(readlink "/proc/$p/ns/mnt" 2>/dev/null)" = "$ns" ] && echo "$p"
    done
    return 0
}

# lab_nodes / lab_mode: NODES and MODE of the lab recorded in $LAB/lab.env (0 / empty if none)
lab_nodes() { local n; n=$(sed -n 's/^NODES=//p' "$LAB/lab.env" 2>/dev/null); echo "${n:-0}"; }
lab_mode()  { sed -n 's/^MODE=//p' "$LAB/lab.env" 2>/dev/null || true; }

# node_pid N KEY: the recorded PID (holder, corosync, pacemakerd) of node N, or empty
node_pid() {
    local f=$LAB/n$1/pids
    [ -f "$f" ] || return 0
    sed -n "s/^$2=//p" "$f" | tail -1
}
set_node_pid() { # set_node_pid N KEY PID
    local f=$LAB/n$1/pids
    touch "$f"
    sed -i "/^$2=/d" "$f"
    echo "$2=$3" >> "$f"
}

# in_node N CMD...: run CMD inside node N's namespaces
in_node() {
    local n=$1 h; shift
    h=$(node_pid "$n" holder)
    alive "$h" sleep || { echo "lab node $n is not up (no live holder in $LAB/n$n/pids)" >&2; return 2; }
    if [ "$(lab_mode)" = netns ]; then
        nsenter -t "$h" -n -m -u -- "$@"
    else
        nsenter -t "$h" -m -- "$@"
    fi
}

# prep_state N: a fresh, empty per-node state tree, owned as Pacemaker expects
prep_state() {
    local d=$LAB/n$1
    rm -rf "$d"
    mkdir -p "$d"/var-lib-pacemaker/{cib,pengine,cores,blackbox,lrm} "$d"/var-lib-corosync \
             "$d"/log-pacemaker/bundles "$d"/log-corosync "$d"/etc-corosync
    chown -R hacluster:haclient "$d"/var-lib-pacemaker "$d"/log-pacemaker
    chmod 750 "$d"/var-lib-pacemaker/*
    chmod 770 "$d"/log-pacemaker "$d"/log-pacemaker/bundles
    if [ -d /etc/corosync/uidgid.d ]; then cp -a /etc/corosync/uidgid.d "$d"/etc-corosync/; fi
}

# prep_resource_d: $LAB/resource.d with an empty mount point per host provider and the
# lab's own san/ provider dir (kept across cluster restarts: install-agent.sh fills it)
prep_resource_d() {
    local p
    mkdir -p "$LAB/resource.d/san"
    for p in "$OCF_RD"/*/; do
        p=$(basename "$p")
        [ "$p" = san ] && continue
        mkdir -p "$LAB/resource.d/$p"
    done
}

# seed_cib FILE: the first CIB: stonith off (no fence devices in the lab) and dc-deadtime
# 2s (the default 20s makes a fresh node wait that long before it elects itself DC)
seed_cib() {
    local f=$1 tmp
    tmp=$(mktemp)
    cibadmin --empty > "$tmp"
    CIB_file=$tmp crm_attribute -t crm_config -n stonith-enabled -v "${STONITH:-false}"
    CIB_file=$tmp crm_attribute -t crm_config -n dc-deadtime -v "${DC_DEADTIME:-2s}"
    if [ -n "${NO_QUORUM_POLICY:-}" ]; then
        CIB_file=$tmp crm_attribute -t crm_config -n no-quorum-policy -v "$NO_QUORUM_POLICY"
    fi
    install -o hacluster -g haclient -m 600 "$tmp" "$f"
    rm -f "$tmp"
}

# write_corosync_conf FILE CLUSTER "id:name:addr"...: knet, no crypto, votequorum
write_corosync_conf() {
    local f=$1 cluster=$2; shift 2
    local n=$# e id name addr
    {
        echo "# iscsi-mirror lab ($cluster), written by crm/lab/cluster-up.sh"
        echo "totem {"
        echo "    version: 2"
        echo "    cluster_name: $cluster"
        echo "    transport: knet"
        echo "    token: ${TOKEN:-4000}"
        if [ -n "${TOKEN_COEFFICIENT:-}" ]; then echo "    token_coefficient: $TOKEN_COEFFICIENT"; fi
        if [ -n "${CONSENSUS:-}" ]; then echo "    consensus: $CONSENSUS"; fi
        echo "    crypto_cipher: none"
        echo "    crypto_hash: none"
        echo "}"
        echo "logging {"
        echo "    fileline: off"
        echo "    to_stderr: yes"
        echo "    to_logfile: yes"
        echo "    logfile: /var/log/corosync/corosync.log"
        echo "    to_syslog: no"
        echo "    timestamp: on"
        echo "}"
        echo "quorum {"
        echo "    provider: corosync_votequorum"
        if [ "$n" -eq 2 ] && [ "${TWO_NODE:-1}" = 1 ]; then echo "    two_node: 1"; fi
        echo "}"
        echo "nodelist {"
        for e in "$@"; do
            IFS=: read -r id name addr <<< "$e"
            echo "    node {"
            echo "        name: $name"
            echo "        nodeid: $id"
            echo "        ring0_addr: $addr"
            echo "    }"
        done
        echo "}"
    } > "$f"
}

# start_holder N MODE: create node N's namespaces, held by `sleep infinity`; records holder=
start_holder() {
    local n=$1 mode=$2 s=$LAB/n$1 pre=() uts=() extra="" pid i p binds=""
    rm -f "$s/ready"
    if [ "$mode" = netns ]; then
        pre=(ip netns exec "$NS_PREFIX-n$n"); uts=(--uts)
        extra="mount -t tmpfs -o mode=1777 tmpfs /dev/shm; hostname lab$n;"
    fi
    # the host's providers, read-only, into the lab's resource.d; then that over the real one
    for p in "$LAB"/resource.d/*/; do
        p=$(basename "$p")
        [ "$p" = san ] && continue
        [ -d "$OCF_RD/$p" ] || continue
        binds+="mount --bind $OCF_RD/$p $LAB/resource.d/$p; mount -o remount,bind,ro $LAB/resource.d/$p;"
    done
    "${pre[@]}" unshare --mount "${uts[@]}" --propagation private -- bash -c "
        set -e
        mount --bind $s/var-lib-pacemaker /var/lib/pacemaker
        mount --bind $s/var-lib-corosync  /var/lib/corosync
        mount --bind $s/log-pacemaker     /var/log/pacemaker
        mount --bind $s/log-corosync      /var/log/corosync
        mount --bind $s/etc-corosync      /etc/corosync
        $binds
        mount --rbind $LAB/resource.d $OCF_RD
        mount -t tmpfs -o mode=755 tmpfs /run
        mkdir -p /run/crm /run/resource-agents
        chmod 1755 /run/resource-agents
        $extra
        touch $s/ready
        exec sleep infinity" > "$s/holder.out" 2>&1 < /dev/null &
    pid=$!
    for i in $(seq 1 50); do [ -e "$s/ready" ] && break; sleep 0.1; done
    [ -e "$s/ready" ] || { cat "$s/holder.out" >&2; die "node $n: namespace holder did not come up"; }
    set_node_pid "$n" holder "$pid"
}

# start_corosync N: start corosync -f inside node N; records corosync=
start_corosync() {
    local n=$1 s=$LAB/n$1 h mode
    h=$(node_pid "$n" holder); mode=$(lab_mode)
    if [ "$mode" = netns ]; then
        nsenter -t "$h" -n -m -u -- "${DAEMON_ENV[@]}" corosync -f >> "$s/corosync.stdout" 2>&1 < /dev/null &
    else
        nsenter -t "$h" -m -- "${DAEMON_ENV[@]}" corosync -f >> "$s/corosync.stdout" 2>&1 < /dev/null &
    fi
    set_node_pid "$n" corosync $!
}

# start_pacemaker N: start pacemakerd inside node N; records pacemakerd=
start_pacemaker() {
    local n=$1 s=$LAB/n$1 h mode
    h=$(node_pid "$n" holder); mode=$(lab_mode)
    if [ "$mode" = netns ]; then
        nsenter -t "$h" -n -m -u -- "${DAEMON_ENV[@]}" pacemakerd >> "$s/pacemakerd.stdout" 2>&1 < /dev/null &
    else
        nsenter -t "$h" -m -- "${DAEMON_ENV[@]}" pacemakerd >> "$s/pacemakerd.stdout" 2>&1 < /dev/null &
    fi
    set_node_pid "$n" pacemakerd $!
}

# corosync_member N COUNT: node N's corosync is quorate and sees COUNT members
corosync_member() {
    local out
    out=$(in_node "$1" corosync-quorumtool -s 2>/dev/null) || true
    grep -q '^Quorate: *Yes' <<< "$out" && grep -q "^Nodes: *$2\$" <<< "$out"
}

# xp XPATH: evaluate an XPath expression on stdin (empty on no match)
xp() { xmllint --xpath "$1" - 2>/dev/null || true; }

# cluster_settled N COUNT: node N's crm_mon shows COUNT nodes online and a quorate DC
cluster_settled() {
    local x
    x=$(in_node "$1" crm_mon -1 --output-as=xml 2>/dev/null) || return 1
    [ "$(xp 'count(/pacemaker-result/nodes/node[@online="true"])' <<< "$x")" = "$2" ] &&
    [ "$(xp 'string(/pacemaker-result/summary/current_dc/@present)' <<< "$x")" = true ] &&
    [ "$(xp 'string(/pacemaker-result/summary/current_dc/@with_quorum)' <<< "$x")" = true ]
}
