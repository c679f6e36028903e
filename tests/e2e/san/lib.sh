# lib.sh - host helpers of `make e2e-san` (sourced by run.sh): the two VMs (start, kill,
# QMP link cuts), commands run inside them over the 9p share (gx), results and the
# timeline. Every wait is bounded; every qemu is killed by its PID.

now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
secs() { local d=$(($2 - $1)) s=; [ $d -lt 0 ] && { s=-; d=$((-d)); }; printf '%s%d.%03d' "$s" $((d / 1000)) $((d % 1000)); }
say() { printf '[e2e-san %(%H:%M:%S)T] %s\n' -1 "$*"; }

# ---- results --------------------------------------------------------------------------------
N_PASS=0 N_FAIL=0
pass() { N_PASS=$((N_PASS + 1)); echo "PASS: $*" | tee -a "$OUT/results.txt"; }
fail() { N_FAIL=$((N_FAIL + 1)); echo "FAIL: $*" | tee -a "$OUT/results.txt"; }
check() { local n=$1; shift; if "$@" > /dev/null 2>&1; then pass "$n"; else fail "$n"; fi; }
note() { echo "  .. $*" | tee -a "$OUT/notes.txt"; }
# tl DRILL EVENT SECONDS MODEL DESIGN: a timeline row (seconds from the drill's fault)
tl() { printf '%-8s %-58s %9s  %-26s %s\n' "$1" "$2" "$3" "$4" "$5" | tee -a "$OUT/timeline.txt"; }

# ---- deadlines --------------------------------------------------------------------------------
# past_deadline: true once the whole run's deadline (SAN_TIMEOUT) has passed
past_deadline() { [ "$(now_ms)" -ge "$RUN_DEADLINE_MS" ]; }
# wait_for SECONDS CMD...: poll CMD every 0.5 s until it succeeds; 1 at the timeout
wait_for() {
    local end=$(($(now_ms) + $1 * 1000)); shift
    until "$@" > /dev/null 2>&1; do
        { [ "$(now_ms)" -ge "$end" ] || past_deadline; } && return 1
        sleep 0.5
    done
}

# ---- the VMs ----------------------------------------------------------------------------------
declare -A VM_NAME=([a]=storage-a [b]=storage-b) VM_ID=([a]=1 [b]=2) VM_PEER=([a]=b [b]=a)
declare -A VM_BOOT=([a]=0 [b]=0)
pidfile() { echo "$OUT/run/vm-$1.pid"; }
vm_pid() { cat "$(pidfile "$1")" 2>/dev/null; }
vm_alive() {
    local p; p=$(vm_pid "$1")
    [ -n "$p" ] && kill -0 "$p" 2>/dev/null && grep -qa qemu-system "/proc/$p/cmdline" 2>/dev/null
}
# udp ports: link L (0 cluster, 1 storage) of VM n listens on PORT_BASE + 10*L + id
port() { echo $((PORT_BASE + 10 * $2 + VM_ID[$1])); }
# node_env N: what the guest reads as /e2e/node.env
node_env() {
    local n=$1 p=${VM_PEER[$1]}
    cat <<EOF
NODE=${VM_NAME[$n]}
N=${VM_ID[$n]}
PEER=${VM_NAME[$p]}
BOOT=${VM_BOOT[$n]}
CL_NET=$CL_NET
ST_NET=$ST_NET
CL_ADDR=$CL_NET.${VM_ID[$n]}
ST_ADDR=$ST_NET.${VM_ID[$n]}
PEER_CL=$CL_NET.${VM_ID[$p]}
PEER_ST=$ST_NET.${VM_ID[$p]}
VIP=$VIP
CL_MAC=52:54:00:5a:01:0${VM_ID[$n]}
ST_MAC=52:54:00:5a:02:0${VM_ID[$n]}
IQN=$IQN_BASE:${VM_NAME[$n]}
PEER_IQN=$IQN_BASE:${VM_NAME[$p]}
INITIATOR=$IQN_BASE:${VM_NAME[$n]}-initiator
HOSTID=5a5a000${VM_ID[$n]}
SBD_CREATE=$([ "$n" = a ] && echo 1 || echo 0)
SBD_WD_TIMEOUT=$SBD_WD_TIMEOUT
SBD_MSGWAIT=$SBD_MSGWAIT
EOF
}
# vm_start N: boot VM N (again); its share is refreshed (commands, results, READY)
vm_start() {
    local n=$1 sh=$OUT/share-$1 pf
    pf=$(pidfile "$n")
    vm_alive "$n" && { echo "vm_start: $n is running" >&2; return 1; }
    VM_BOOT[$n]=$((VM_BOOT[$n] + 1))
    rm -rf "$sh/cmd" "$sh/res" "$sh/out/READY" "$pf"
    mkdir -p "$sh/cmd" "$sh/res" "$sh/out"
    node_env "$n" > "$sh/node.env"
    local cl_l cl_r st_l st_r
    cl_l=$(port "$n" 0); cl_r=$(port "${VM_PEER[$n]}" 0)
    st_l=$(port "$n" 1); st_r=$(port "${VM_PEER[$n]}" 1)
    local dg=local.type=inet,local.host=127.0.0.1,remote.type=inet,remote.host=127.0.0.1
    local extra=()
    [ "$n" = a ] && extra=(-drive "file=$OUT/run/probe-a.img,if=none,id=probe,format=raw"
                           -device "virtio-blk-pci,drive=probe,serial=probe,addr=0x15")
    say "booting ${VM_NAME[$n]} (boot ${VM_BOOT[$n]}): qemu TCG, 1 vCPU, ${VM_MEM} MiB"
    # in a subshell: not a job of this shell (no "Killed" notice when a drill kills it)
    ( qemu-system-x86_64 -name "${VM_NAME[$n]}" -accel tcg,thread=multi -cpu max -smp 1 -m "$VM_MEM" \
        -display none -vga none -monitor none -serial stdio -no-reboot -pidfile "$pf" \
        -qmp "unix:$OUT/run/vm-$n.qmp,server=on,wait=off" \
        -kernel "$IMG/vmlinuz" -initrd "$IMG/initrd.img" \
        -append "console=ttyS0 root=/dev/vda rw init=/opt/e2e/init.sh panic=-1 quiet" \
        -drive "file=$IMG/rootfs.img,if=none,id=root,format=raw,snapshot=on" \
        -device virtio-blk-pci,drive=root,addr=0x4 \
        -drive "file=$OUT/run/sbd.img,if=none,id=sbd,format=raw,file.locking=off" \
        -device virtio-blk-pci,drive=sbd,share-rw=on,serial=sbd,addr=0x10 \
        -drive "file=$OUT/run/data-$n.img,if=none,id=data,format=raw" \
        -device "virtio-blk-pci,drive=data,serial=data-${VM_NAME[$n]},addr=0x13" \
        "${extra[@]}" \
        -netdev "dgram,id=cl,$dg,local.port=$cl_l,remote.port=$cl_r" \
        -device "virtio-net-pci,netdev=cl,id=clnic,mac=52:54:00:5a:01:0${VM_ID[$n]},addr=0x11" \
        -netdev "dgram,id=st,$dg,local.port=$st_l,remote.port=$st_r" \
        -device "virtio-net-pci,netdev=st,id=stnic,mac=52:54:00:5a:02:0${VM_ID[$n]},addr=0x12" \
        -device i6300esb,addr=0x14 -action watchdog=poweroff \
        -virtfs "local,path=$sh,mount_tag=e2e,security_model=none,id=e2e" \
        < /dev/null 2>&1 | stamp >> "$OUT/serial-$n.log" & )
    local i
    for i in $(seq 1 100); do [ -s "$pf" ] && break; sleep 0.1; done
    [ -s "$pf" ] || { echo "vm_start: qemu for $n did not start" >&2; return 1; }
    echo "$(now_ms) host ${VM_NAME[$n]} boot ${VM_BOOT[$n]} pid $(vm_pid "$n")" >> "$OUT/host-events.log"
}
# vm_wait_ready N SECONDS: the guest's main.sh reached its command loop
vm_wait_ready() {
    local n=$1 end=$(($(now_ms) + $2 * 1000))
    until [ -s "$OUT/share-$n/out/READY" ]; do
        vm_alive "$n" || { echo "vm_wait_ready: ${VM_NAME[$n]} is not running" >&2; return 1; }
        { [ "$(now_ms)" -ge "$end" ] || past_deadline; } && return 1
        sleep 0.5
    done
}
# vm_kill N: SIGKILL its qemu (a node dying); sets KILL_MS to the host time of the kill
vm_kill() {
    local n=$1 p; p=$(vm_pid "$n")
    vm_alive "$n" || { echo "vm_kill: $n not running" >&2; return 1; }
    KILL_MS=$(now_ms)
    kill -KILL "$p"
    echo "$KILL_MS host ${VM_NAME[$n]} SIGKILL pid $p" >> "$OUT/host-events.log"
    local i; for i in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    rm -f "$(pidfile "$n")"
}
# vm_stop N: ask the guest to end (STOP: init.sh powers off), TERM then KILL by PID
vm_stop() {
    local n=$1 p i; p=$(vm_pid "$n")
    [ -n "$p" ] || return 0
    : > "$OUT/share-$n/cmd/STOP" 2>/dev/null
    for i in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$p" 2>/dev/null && grep -qa qemu-system "/proc/$p/cmdline" 2>/dev/null; then
        kill -TERM "$p" 2>/dev/null
        for i in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
    fi
    rm -f "$(pidfile "$n")"
}
kill_all_vms() {
    local n p
    for n in a b; do
        p=$(vm_pid "$n")
        if [ -n "$p" ] && kill -0 "$p" 2>/dev/null && grep -qa qemu-system "/proc/$p/cmdline" 2>/dev/null; then
            kill -KILL "$p" 2>/dev/null
        fi
        rm -f "$(pidfile "$n")"
    done
}
qmp() { local n=$1; shift; timeout 10 /usr/bin/python3 "$HERE/qmp.py" "$OUT/run/vm-$n.qmp" "$@"; }
# link N cl|st up|down: QMP set_link on VM N's NIC (a cable pull, seen as carrier 0)
link() {
    local rc; qmp "$1" set_link "$2nic" "$3"; rc=$?
    echo "$(now_ms) host ${VM_NAME[$1]} link $2 $3 rc=$rc" >> "$OUT/host-events.log"
    return $rc
}

# ---- commands in the guests ----------------------------------------------------------------
# gx N TIMEOUT SCRIPT: run SCRIPT (bash, san-lib.sh sourced) in VM N, at most TIMEOUT s;
# prints its output, returns its exit code (254: no answer in time, 255: the VM is down).
# The id comes from a counter file, not a shell variable: gx often runs in a pipeline's
# subshell, where an increment would be lost and the next command would reuse the id.
gx() {
    local n=$1 to=$2 script=$3 id d end rc seq
    seq=$(( $(cat "$OUT/run/gx.seq" 2>/dev/null || echo 0) + 1 ))
    echo "$seq" > "$OUT/run/gx.seq"
    id=$(printf '%06d' "$seq")
    d=$OUT/share-$n
    printf '%s\n' "$script" > "$d/cmd/.tmp-$id"
    mv "$d/cmd/.tmp-$id" "$d/cmd/$id-$to.sh"
    end=$(($(now_ms) + (to + 20) * 1000))
    while [ ! -e "$d/res/$id.rc" ]; do
        if ! vm_alive "$n"; then rc=255; break; fi
        if [ "$(now_ms)" -ge "$end" ]; then rc=254; break; fi
        sleep 0.1
    done
    [ -z "${rc:-}" ] && rc=$(cat "$d/res/$id.rc")
    {
        printf '=== %s gx %s %s (timeout %s) rc=%s\n%s\n--- output:\n' "$(date +%T.%3N)" "${VM_NAME[$n]}" "$id" "$to" "$rc" "$script"
        cat "$d/res/$id.out" 2>/dev/null
    } >> "$OUT/logs/gx-$n.log"
    cat "$d/res/$id.out" 2>/dev/null
    rm -f "$d/cmd/$id-$to.sh"
    return "$rc"
}
# gxq: gx with the output only in the log
gxq() { gx "$@" > /dev/null; }
