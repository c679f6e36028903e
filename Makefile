# iscsi-mirror: build, install, test.
#
#   make demo      set up this machine and show the agent at work in a real Pacemaker cluster
#   make check     set up this machine and run every test (what CI runs), the VM included
#   make check-fast the same without the VM (make e2e)
#   make install   install the agent as ocf:san:iscsi-mirror under $(DESTDIR)

PREFIX    ?= /usr
OCF_DIR   := $(DESTDIR)$(PREFIX)/lib/ocf/resource.d/san
SBIN_DIR  := $(DESTDIR)$(PREFIX)/sbin
CARGO     ?= cargo
RELEASE   := target/release/iscsi-mirror

.PHONY: all build install install-agent deps check check-fast unit ocf-test scheduler-test cluster-test demo clean bench-spawn bench-storm

all: build

build:
	$(CARGO) build --release --locked --bin iscsi-mirror

install: build install-agent

# Installs what is already built (ocf-tester and the labs use this on a fresh build).
install-agent:
	install -D -m 0755 $(RELEASE) $(OCF_DIR)/iscsi-mirror
	install -d $(SBIN_DIR)
	ln -sf ../lib/ocf/resource.d/san/iscsi-mirror $(SBIN_DIR)/iscsi-mirror

deps:
	bash .ci/install-deps.sh

unit:
	$(CARGO) test --locked --workspace

ocf-test:
	bash ocf/ocf-tester.sh

# The shipped configurations (crm/examples) under Pacemaker's own scheduler: crm_simulate
# scenarios, no daemons (crm/tests/scheduler.sh).
scheduler-test:
	bash crm/tests/scheduler.sh

cluster-test:
	bash crm/tests/pacemaker-single-node.sh
	bash crm/tests/pacemaker-reload.sh
	bash crm/tests/pacemaker-health.sh
	bash crm/tests/corosync-window.sh
	bash crm/tests/pacemaker-two-node.sh

check: check-fast
	$(MAKE) e2e

check-fast: deps
	$(CARGO) fmt --all -- --check
	$(MAKE) unit
	$(MAKE) ocf-test
	$(MAKE) scheduler-test
	$(MAKE) cluster-test

demo: deps
	bash crm/demo.sh

clean:
	$(CARGO) clean

# Per-call cost of process::run (pidfd + poll) against the polling runner it replaced, for
# /bin/true and a 20 ms child; prints a table (benches/spawn). BENCH_N sets the calls per row.
bench-spawn:
	$(CARGO) bench --locked --bench spawn

# The connection storm of seeds/002 in virtual time: N initiators (the agent's own reconnect
# policy and monitor table, Pacemaker's restart on a failed monitor) against a target that
# returns at t=0 and refuses logins above a capacity, with independent and synchronized
# monitors, and a lone leg; prints a table per scenario with the goals (benches/storm).
# STORM_N, STORM_SEEDS, STORM_SEED, STORM_CAPACITY, STORM_JITTER_MS, STORM_DOWN_S tune it.
bench-storm:
	$(CARGO) bench --locked --bench storm

# The agent on the real stack in a qemu VM (kernel iSCSI, LIO, ZFS, Pacemaker); see
# tests/e2e/README.md. Needs root; builds its image once (cached under /var/cache).
.PHONY: e2e
e2e: build
	bash tests/e2e/run.sh

# The HA SAN in two qemu VMs (storage-a, storage-b): LIO both ways, ZFS mirror, sbd
# fencing, the agent as a clone; drills (node kills, returns, planned failover, storage
# cut) timed against the model; ZFS recordings. See tests/e2e/README.md, "e2e-san".
.PHONY: e2e-san
e2e-san: build
	bash tests/e2e/san/run.sh
