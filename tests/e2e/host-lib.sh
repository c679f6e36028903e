# host-lib.sh - what the VM runners (run.sh: one node; san/run.sh: two nodes; zfs21/run.sh)
# do on the host the same way. Sourced; needs TOP (the repository), OUT (a log directory)
# and say(); kill_qemu needs PIDF (the run's qemu pid file).

# el T0: the seconds since T0 (an $EPOCHREALTIME), one decimal
el() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}'; }

# qemu of ours still running (from the pid file)? kill it by PID, nothing else
kill_qemu() {
    local pid
    [ -f "$PIDF" ] || return 0
    pid=$(cat "$PIDF" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -qa qemu-system "/proc/$pid/cmdline" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PIDF"
}

# e2e_host_setup: the host tools (install-host-deps.sh), the agent binary
# (target/release/iscsi-mirror, built if missing or with E2E_BUILD=1) and its .deb (make deb).
# Sets AGENT_BIN, AGENT_ID (its hash, build time and the tree it came from) and AGENT_DEB.
# Returns 1 on failure.
e2e_host_setup() {
    say "host tools"
    bash "$TOP/tests/e2e/install-host-deps.sh" > "$OUT/install-host-deps.log" 2>&1 ||
        { cat "$OUT/install-host-deps.log"; return 1; }
    AGENT_BIN=$TOP/target/release/iscsi-mirror
    if [ ! -x "$AGENT_BIN" ] || [ "${E2E_BUILD:-0}" = 1 ]; then
        say "building the agent (cargo build --release --locked --bin iscsi-mirror)"
        (cd "$TOP" && cargo build --release --locked --bin iscsi-mirror) || return 1
    fi
    AGENT_ID="$(sha256sum < "$AGENT_BIN" | cut -c1-16) built $(date -u -r "$AGENT_BIN" +%FT%TZ), tree $(git -C "$TOP" describe --always --dirty 2>/dev/null || echo unknown)"
    say "agent: $AGENT_BIN ($AGENT_ID)"
    # The VMs install the agent as an admin does: the .deb (the agent, the /usr/sbin link,
    # man pages, completions, the ZED hook's links), built from this very binary.
    say "packaging the agent (make deb)"
    (cd "$TOP" && make -s deb) > "$OUT/make-deb.log" 2>&1 || { cat "$OUT/make-deb.log"; return 1; }
    AGENT_DEB=$(ls "$TOP"/target/debian/iscsi-mirror_*_amd64.deb 2>/dev/null | head -1)
    [ -f "$AGENT_DEB" ] || { echo "e2e: make deb made no .deb" >&2; return 1; }
    say "package: $AGENT_DEB"
}

# wait_guest PID: waits for the qemu pipeline PID to end, at most E2E_TIMEOUT seconds;
# past it, kills qemu (kill_qemu) and sets timed_out=1 (else 0)
wait_guest() {
    local deadline=$(( ${EPOCHREALTIME%.*} + E2E_TIMEOUT ))
    timed_out=0
    while kill -0 "$1" 2>/dev/null; do
        if [ "${EPOCHREALTIME%.*}" -ge "$deadline" ]; then
            say "deadline: the guest did not power off within ${E2E_TIMEOUT}s; killing qemu (pid $(cat "$PIDF" 2>/dev/null))"
            echo "run.sh: deadline ${E2E_TIMEOUT}s reached, qemu killed" >> "$OUT/serial.log"
            timed_out=1
            kill_qemu
        fi
        sleep 1
    done
}

# stamp: each line of stdin prefixed with the seconds since stamp started (a VM's serial
# console; bash's clock, no fork per line)
stamp() {
    local start=${EPOCHREALTIME/./} line d
    while IFS= read -r line; do
        d=$(( ${EPOCHREALTIME/./} - start ))
        printf '%4d.%03d %s\n' $((d / 1000000)) $((d / 1000 % 1000)) "${line%$'\r'}"
    done
}
