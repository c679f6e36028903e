# iscsi-mirror: build, install, package, test.
#
#   make demo      set up this machine and show the agent at work in a real Pacemaker cluster
#   make check     set up this machine and run every test (what CI runs), the VMs included
#   make check-fast the same without the VMs (make e2e, make e2e-san)
#   make install   install the agent as ocf:san:iscsi-mirror under $(DESTDIR), with its
#                  man pages and shell completions
#   make deb       target/debian/iscsi-mirror_VERSION_ARCH.deb
#   make rpm       target/rpm/RPMS/ARCH/iscsi-mirror-VERSION-1.ARCH.rpm
#   make package-test  both packages checked (lintian, rpmlint, rpm -qpl/-qpR), then
#                  each installed by dpkg / rpm into a throw-away copy of this host and
#                  asked by pcs, crmsh, crm_resource and man

PREFIX    ?= /usr
# Pacemaker reads OCF agents from /usr/lib/ocf/resource.d whatever PREFIX is.
OCF_DIR   := $(DESTDIR)/usr/lib/ocf/resource.d/san
SBIN_DIR  := $(DESTDIR)$(PREFIX)/sbin
MAN_DIR   := $(DESTDIR)$(PREFIX)/share/man
BASH_COMPLETION_DIR ?= $(PREFIX)/share/bash-completion/completions
# Debian's zsh reads vendor-completions; Fedora/RHEL's site-functions (the RPM sets this).
ZSH_COMPLETION_DIR  ?= $(PREFIX)/share/zsh/vendor-completions
CARGO     ?= cargo
RELEASE   := target/release/iscsi-mirror
# Man pages and completions, generated from the code (packaging/gen).
GEN       := target/gen
# The link in /usr/sbin: relative when both live under /usr (Debian policy), else absolute.
SBIN_LINK := $(if $(filter /usr /usr/,$(PREFIX)),../lib/ocf/resource.d/san/iscsi-mirror,/usr/lib/ocf/resource.d/san/iscsi-mirror)
ZEDLETS   := statechange-iscsi-mirror resilver_start-iscsi-mirror resilver_finish-iscsi-mirror
# The pages' date: the last commit's (reproducible), unless the caller set one.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)
export SOURCE_DATE_EPOCH

.PHONY: all build gen install install-agent install-man install-completions install-zedlets \
	deb rpm package-test deps check check-fast unit ocf-test scheduler-test cluster-test demo clean \
	bench-spawn bench-storm

all: build

build:
	$(CARGO) build --release --locked --bin iscsi-mirror

# ocf_san_iscsi-mirror.7 from the meta-data, iscsi-mirror*.8 and the bash/zsh completions
# from the clap definition, into $(GEN)/man and $(GEN)/completions.
gen:
	$(CARGO) run --release --locked -q -p iscsi-mirror-gen -- $(GEN) >/dev/null

install: build gen install-agent install-man install-completions

# Installs what is already built (ocf-tester and the labs use this on a fresh build).
install-agent:
	install -D -m 0755 $(RELEASE) $(OCF_DIR)/iscsi-mirror
	install -d $(SBIN_DIR)
	ln -sfn $(SBIN_LINK) $(SBIN_DIR)/iscsi-mirror

install-man:
	install -d $(MAN_DIR)/man7 $(MAN_DIR)/man8
	install -m 0644 $(GEN)/man/*.7 $(MAN_DIR)/man7/
	install -m 0644 $(GEN)/man/*.8 $(MAN_DIR)/man8/

install-completions:
	install -D -m 0644 $(GEN)/completions/iscsi-mirror.bash $(DESTDIR)$(BASH_COMPLETION_DIR)/iscsi-mirror
	install -D -m 0644 $(GEN)/completions/_iscsi-mirror $(DESTDIR)$(ZSH_COMPLETION_DIR)/_iscsi-mirror

# The ZED hook, for installs without a package (the packages enable it themselves): ZFS's
# event daemon runs the binary for these event classes through these links (a running ZED
# reads them on SIGHUP or restart).
install-zedlets:
	install -d $(DESTDIR)/etc/zfs/zed.d
	for z in $(ZEDLETS); do ln -sfn /usr/lib/ocf/resource.d/san/iscsi-mirror $(DESTDIR)/etc/zfs/zed.d/$$z; done

# The packages (packaging/README.md): both from the same build, staged by `make install`.
deb: build gen
	bash packaging/build-deb.sh

rpm: build gen
	bash packaging/build-rpm.sh

package-test: deb rpm
	bash packaging/test-packages.sh

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
	$(MAKE) e2e-san

check-fast: deps
	$(CARGO) fmt --all -- --check
	$(MAKE) unit
	$(MAKE) ocf-test
	$(MAKE) scheduler-test
	$(MAKE) cluster-test
	$(MAKE) package-test

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

# Real ZFS 2.1 outputs (Debian 12's own ZFS 2.1.11, text only) recorded in one qemu VM in
# the states of the 2.3 recordings, into tests/fixtures/zfs/vm-recorded-2.1/ (E2E_RECORD=0:
# only into tests/e2e/zfs21/out/). Not part of `make check`; its image (E2E_ZFS=2.1) is
# cached apart from the 2.3 one. See tests/e2e/README.md, "ZFS 2.1 recordings".
.PHONY: record-zfs21
record-zfs21:
	bash tests/e2e/zfs21/run.sh
