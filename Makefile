# iscsi-mirror: build, install, test.
#
#   make demo      set up this machine and show the agent at work in a real Pacemaker cluster
#   make check     set up this machine and run every test (what CI runs), the VMs included
#   make check-fast the same without the VMs (make e2e, make e2e-san)
#   make install   install the agent as ocf:san:iscsi-mirror under $(DESTDIR)

PREFIX    ?= /usr
OCF_DIR   := $(DESTDIR)$(PREFIX)/lib/ocf/resource.d/san
SBIN_DIR  := $(DESTDIR)$(PREFIX)/sbin
CARGO     ?= cargo
RELEASE   := target/release/iscsi-mirror

.PHONY: all build install install-agent deps check check-fast unit ocf-test cluster-test demo clean

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

cluster-test:
	bash crm/tests/pacemaker-single-node.sh
	bash crm/tests/corosync-window.sh
	bash crm/tests/pacemaker-two-node.sh

check: check-fast
	$(MAKE) e2e
	$(MAKE) e2e-san

check-fast: deps
	$(CARGO) fmt --all -- --check
	$(MAKE) unit
	$(MAKE) ocf-test
	$(MAKE) cluster-test

demo: deps
	bash crm/demo.sh

clean:
	$(CARGO) clean

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
