#!/bin/bash
# test-packages.sh (make package-test, after make deb rpm): the packages checked as built,
# then installed and used.
#
#  1. the .deb: lintian (pedantic, info and experimental tags too; overrides in
#     packaging/debian/iscsi-mirror.lintian-overrides, each with its reason), its fields
#     and file list;
#  2. the .rpm: rpmlint (packaging/rpm/rpmlint.toml), rpm -qpl and rpm -qpR, glibc symbol
#     versions within RHEL 9's 2.34;
#  3. both carry the same man pages and completions;
#  4. each installed (real dpkg, real rpm) into a throw-away root: an overlay of this host
#     (lower: /, upper: a tmpfs) in a private mount namespace, entered with chroot; the real
#     pcs, crmsh, crm_resource and man then ask it (packaging/installed-checks.sh). The
#     host's files, package databases and mounts do not change.
# Exits 1 if anything failed. Needs root (mount namespace, overlay, chroot).
set -uo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
DEB=$(ls target/debian/iscsi-mirror_*.deb 2>/dev/null | head -1)
RPM=$(ls target/rpm/RPMS/*/iscsi-mirror-*.rpm 2>/dev/null | head -1)
[ -n "$DEB" ] && [ -n "$RPM" ] || { echo "test-packages.sh: run make deb rpm first" >&2; exit 1; }
W=$(mktemp -d /tmp/iscsi-mirror-pkgtest.XXXXXX)
trap 'rm -rf "$W"' EXIT
failed=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; failed=$((failed + 1)); }
section() { echo "== $*"; }

section "lintian $(lintian --version | awk '{print $2}') on ${DEB#target/debian/} (+ .changes, .buildinfo)"
lintian -I -E --pedantic --fail-on error,warning,info,pedantic,experimental \
    target/debian/iscsi-mirror_*.changes >"$W/lintian" 2>&1
rc=$?
grep -v '^running with root privileges' "$W/lintian" | sed 's/^/    /'
[ $rc = 0 ] && ok "lintian: no tag beyond the overridden ones" || bad "lintian: exit $rc"
lintian -I -E --pedantic --show-overrides target/debian/iscsi-mirror_*.changes 2>/dev/null |
    grep '^O:' | sed 's/^/    /'

section ".deb fields and files"
field() { dpkg-deb -f "$DEB" "$1"; }
[[ "$(field Depends)" =~ libc6\ \(\>=\ [0-9.]+\) ]] && [[ "$(field Depends)" == *open-iscsi* ]] &&
    ok "Depends: $(field Depends)" || bad "Depends: $(field Depends)"
[ "$(field Recommends)" = "pacemaker-cli-utils, zfsutils-linux" ] && ok "Recommends: $(field Recommends)" ||
    bad "Recommends: $(field Recommends)"
[ "$(field Suggests)" = "zfs-zed, pcs | crmsh" ] && ok "Suggests: $(field Suggests)" || bad "Suggests: $(field Suggests)"
dpkg-deb -c "$DEB" | awk '{ s = $1 " " $2 " " $6; if ($7 != "") s = s " " $7 " " $8; print s }' >"$W/deb-files"
want_deb=(
    "-rwxr-xr-x root/root ./usr/lib/ocf/resource.d/san/iscsi-mirror"
    "lrwxrwxrwx root/root ./usr/sbin/iscsi-mirror -> ../lib/ocf/resource.d/san/iscsi-mirror"
    "-rw-r--r-- root/root ./usr/share/man/man7/ocf_san_iscsi-mirror.7.gz"
    "-rw-r--r-- root/root ./usr/share/man/man8/iscsi-mirror.8.gz"
    "-rw-r--r-- root/root ./usr/share/bash-completion/completions/iscsi-mirror"
    "-rw-r--r-- root/root ./usr/share/zsh/vendor-completions/_iscsi-mirror"
    "-rw-r--r-- root/root ./usr/share/doc/iscsi-mirror/copyright"
    "-rw-r--r-- root/root ./usr/share/doc/iscsi-mirror/examples/crmsh-mirror-clone.crm"
    "-rwxr-xr-x root/root ./usr/share/doc/iscsi-mirror/examples/pcs-two-node-san.sh"
    "-rwxr-xr-x root/root ./usr/share/doc/iscsi-mirror/examples/pcs-mirror-clone.sh"
)
for f in "${want_deb[@]}"; do
    grep -qxF -- "$f" "$W/deb-files" && ok "deb: $f" || bad "deb lacks: $f"
done
grep -q '^-.* ./etc/' "$W/deb-files" && bad "deb ships files in /etc" || ok "deb: nothing in /etc (the ZED links are the maintainer scripts')"

section "rpmlint $(rpmlint --version 2>/dev/null) on ${RPM#target/rpm/RPMS/}"
rpmlint -c packaging/rpm/rpmlint.toml "$RPM" target/rpm/iscsi-mirror.spec >"$W/rpmlint" 2>&1
rc=$?
grep -E ': [EW]: |checked' "$W/rpmlint" | sed 's/^/    /'
[ $rc = 0 ] && ! grep -qE ': [EW]: ' "$W/rpmlint" && ok "rpmlint: nothing beyond the filtered tags" ||
    bad "rpmlint: exit $rc"

section "rpm -qpl / -qpR"
rpm -qpl "$RPM" >"$W/rpm-files"
rpm -qpR "$RPM" >"$W/rpm-req"
for f in /usr/lib/ocf/resource.d/san/iscsi-mirror /usr/sbin/iscsi-mirror \
    /usr/share/man/man7/ocf_san_iscsi-mirror.7.gz /usr/share/man/man8/iscsi-mirror.8.gz \
    /usr/share/bash-completion/completions/iscsi-mirror /usr/share/zsh/site-functions/_iscsi-mirror \
    /usr/share/doc/iscsi-mirror/examples/pcs-two-node-san.sh /usr/share/licenses/iscsi-mirror/copyright; do
    grep -qxF "$f" "$W/rpm-files" && ok "rpm -qpl: $f" || bad "rpm -qpl lacks $f"
done
[ "$(rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$RPM" | grep ' /usr/lib/ocf/resource.d/san/iscsi-mirror$')" = \
  "-rwxr-xr-x /usr/lib/ocf/resource.d/san/iscsi-mirror" ] && ok "rpm: agent 0755" || bad "rpm: agent mode"
grep -qx iscsi-initiator-utils "$W/rpm-req" && ok "rpm -qpR: iscsi-initiator-utils" || bad "rpm -qpR lacks iscsi-initiator-utils"
grep -qx 'libc.so.6()(64bit)' "$W/rpm-req" && ok "rpm -qpR: libc.so.6()(64bit)" || bad "rpm -qpR lacks libc"
glibc=$(grep -o 'GLIBC_[0-9.]*' "$W/rpm-req" | sort -V | tail -1)
[ "$(printf '%s\n' "$glibc" GLIBC_2.34 | sort -V | tail -1)" = GLIBC_2.34 ] &&
    ok "newest glibc symbol version $glibc <= GLIBC_2.34 (RHEL/Rocky 9)" ||
    bad "needs $glibc: newer than RHEL/Rocky 9's glibc 2.34"
weak=$(rpm -qp --recommends "$RPM" | tr '\n' ' ')
[ "$weak" = "pacemaker-cli zfs " ] && ok "rpm Recommends: $weak" || bad "rpm Recommends: $weak"

section "the .deb and the .rpm carry the same pages and completions"
mkdir -p "$W/deb" "$W/rpm"
dpkg-deb -x "$DEB" "$W/deb"
(cd "$W/rpm" && rpm2cpio "$TOP/$RPM" | cpio -idm --quiet)
same=0
for f in usr/share/man/man7/ocf_san_iscsi-mirror.7.gz usr/share/man/man8/iscsi-mirror.8.gz \
    usr/share/man/man8/iscsi-mirror-status.8.gz usr/share/bash-completion/completions/iscsi-mirror; do
    if [ "$(zcat -f "$W/deb/$f" | md5sum)" = "$(zcat -f "$W/rpm/$f" | md5sum)" ]; then same=$((same + 1)); else bad "differs: $f"; fi
done
cmp -s "$W/deb/usr/share/zsh/vendor-completions/_iscsi-mirror" "$W/rpm/usr/share/zsh/site-functions/_iscsi-mirror" &&
    same=$((same + 1)) || bad "differs: zsh completion"
[ "$("$W/deb/usr/lib/ocf/resource.d/san/iscsi-mirror" meta-data | md5sum)" = \
  "$("$W/rpm/usr/lib/ocf/resource.d/san/iscsi-mirror" meta-data | md5sum)" ] && same=$((same + 1)) || bad "meta-data differs"
[ $same = 6 ] && ok "same man pages, completions and meta-data in both"

# What an install on the host itself would have changed.
host_state() {
    local f
    for f in /usr/lib/ocf/resource.d/san/iscsi-mirror /usr/sbin/iscsi-mirror /etc/zfs/zed.d \
        /usr/share/man/man7/ocf_san_iscsi-mirror.7.gz; do
        [ -e "$f" ] || [ -L "$f" ] && printf '%s ' "$f=$(stat -c %Y "$f")" || printf '%s ' "$f=absent"
    done
    printf 'dpkg:%s rpm:%s' "$(dpkg-query -W -f='${Status}' iscsi-mirror 2>/dev/null || echo none)" \
        "$(rpm -q iscsi-mirror >/dev/null 2>&1 && echo installed || echo none)"
}
host_before=$(host_state)

# One throw-away root per package: an overlay of / (upper on a tmpfs) in a new mount
# namespace; the package files and installed-checks.sh are copied into its /tmp.
in_throwaway_root() { # MODE PKGFILE
    unshare -m --propagation private bash -c '
        set -e
        T=$1; mode=$2; pkg=$3; top=$4
        mount -t tmpfs tmpfs "$T"
        mkdir "$T/upper" "$T/work" "$T/root"
        mount -t overlay overlay -o "lowerdir=/,upperdir=$T/upper,workdir=$T/work" "$T/root"
        mount -t proc proc "$T/root/proc"
        mount --rbind /dev "$T/root/dev"
        mount --rbind /sys "$T/root/sys"
        mount -t tmpfs tmpfs "$T/root/run"
        mount -t tmpfs tmpfs "$T/root/tmp"
        mkdir "$T/root/tmp/pkg"
        cp "$top/$pkg" "$top/packaging/installed-checks.sh" "$T/root/tmp/pkg/"
        exec chroot "$T/root" /bin/bash /tmp/pkg/installed-checks.sh "$mode" "/tmp/pkg/${pkg##*/}"
    ' _ "$W/ns-$1" "$1" "$2" "$TOP"
}
for mode in deb rpm; do
    pkg=$DEB
    [ $mode = rpm ] && pkg=$RPM
    section "installed ($mode) in a throw-away root"
    mkdir "$W/ns-$mode"
    in_throwaway_root $mode "$pkg" >"$W/$mode.log" 2>&1
    rc=$?
    cat "$W/$mode.log"
    [ $rc = 0 ] || bad "installed checks ($mode): exit $rc"
done
host_after=$(host_state)
[ "$host_before" = "$host_after" ] && ok "the host is as before: $host_after" ||
    bad "the host changed: before: $host_before; after: $host_after"

echo "== package-test: $failed failed"
[ $failed = 0 ]
