#!/bin/bash
# apt-private.sh - apt-get/apt-cache with PRIVATE package lists that add bookworm-backports
# and the contrib component, without touching /etc/apt or /var/lib/apt/lists (other users
# of apt on this host keep seeing only their own sources). Used by install-host-deps.sh
# for qemu-system-x86 from bookworm-backports.
#   apt-private.sh update | policy PKG... | install [-t SUITE] PKG...
set -euo pipefail
STATE=${E2E_CACHE:-/var/cache/iscsi-mirror-e2e}/host-apt
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
mkdir -p "$STATE/sources.d" "$STATE/lists/partial" "$STATE/cache/archives/partial"
cat > "$STATE/sources.d/e2e.sources" <<SRC
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates bookworm-backports
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY
Suites: bookworm-security
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
OPTS=(-o Dir::Etc::sourcelist=/dev/null -o "Dir::Etc::sourceparts=$STATE/sources.d"
      -o "Dir::State::lists=$STATE/lists" -o "Dir::Cache=$STATE/cache" -o DPkg::Lock::Timeout=900)
# refresh the private lists when they are older than a day
if [[ ${1:-} != update ]] && ! find "$STATE/lists" -maxdepth 1 -name '*_InRelease' -mtime -1 | grep -q .; then
    apt-get "${OPTS[@]}" update -q
fi
case ${1:-} in
    update) apt-get "${OPTS[@]}" update -q ;;
    policy) shift; apt-cache "${OPTS[@]}" policy "$@" ;;
    install) shift; DEBIAN_FRONTEND=noninteractive apt-get "${OPTS[@]}" install -y --no-install-recommends "$@" ;;
    *) echo "usage: $0 update | policy PKG... | install [-t SUITE] PKG..." >&2; exit 2 ;;
esac
