#!/bin/bash
# Installs what building and testing need on a fresh Debian 12 machine (idempotent).
set -euo pipefail
PKGS=(pacemaker pacemaker-cli-utils corosync pcs crmsh resource-agents fence-agents libxml2-utils
      open-iscsi python3 iproute2 procps util-linux
      # doctor: ping for the path MTU; tgt's userspace target for the login probe's tests.
      iputils-ping tgt
      # make deb / rpm / package-test: debhelper builds the .deb, rpm the .rpm; lintian,
      # rpmlint, zsh (completion syntax), cpio (the .rpm's payload), man-db check them.
      debhelper lintian rpm rpmlint zsh cpio man-db)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# Debian starts nothing here (no systemd), but make sure no packaged daemon holds the
# ports and sockets the labs use: the tests start their own tgtd on ports of their own.
if command -v systemctl >/dev/null && systemctl is-enabled tgt.service >/dev/null 2>&1; then
    systemctl disable --now tgt.service >/dev/null 2>&1 || true
fi
command -v rustfmt >/dev/null || rustup component add rustfmt
