#!/bin/bash
# installed-checks.sh deb|rpm PKGFILE: run as root INSIDE a throw-away root (test-packages.sh
# makes one: an overlay of this host in a private mount namespace). Installs the package with
# the real dpkg (or rpm), then asks the real Pacemaker tools about it: pcs resource describe,
# crm ra info, crm_resource --show-metadata / --validate, man, the shell completions, the
# shipped pcs and crmsh examples (into CIB files), the ZED hook links; then the maintainer
# scripts' lifecycle (an admin's disabled hook survives reinstall, remove, purge).
# Prints "ok ..." / "FAIL ..." lines; exits 1 if any check failed.
set -uo pipefail
MODE=${1:?deb|rpm}
PKG=${2:?package file}
AGENT=/usr/lib/ocf/resource.d/san/iscsi-mirror
ZEDD=/etc/zfs/zed.d
ZEDLETS=(statechange-iscsi-mirror resilver_start-iscsi-mirror resilver_finish-iscsi-mirror)
DOC=/usr/share/doc/iscsi-mirror
W=$(mktemp -d)
failed=0
# Whether this root had /etc/zfs before the package (a host with ZFS has it).
had_etc_zfs=$([ -e /etc/zfs ] && echo yes || echo no)

ok() { echo "ok   [$MODE] $*"; }
bad() { echo "FAIL [$MODE] $*"; failed=$((failed + 1)); }
# check NAME CMD...: the command's success is the check's.
check() {
    local name=$1
    shift
    if "$@" >"$W/out" 2>&1; then ok "$name"; else bad "$name: $(tail -5 "$W/out" | tr '\n' ' ')"; fi
}
contains() { grep -qF -- "$2" "$1"; }

install_pkg() {
    case $MODE in
    deb) dpkg -i "$PKG" ;;
    # This root's rpm database is Debian's (empty): it provides neither libc nor
    # iscsi-initiator-utils, hence --nodeps; test-packages.sh checks the requirements.
    rpm) rpm -i --nodeps --replacepkgs "$PKG" ;;
    esac
}
remove_pkg() {
    case $MODE in
    deb) dpkg -r iscsi-mirror ;;
    rpm) rpm -e iscsi-mirror ;;
    esac
}

# A stand-in for a running ZED: a process named zed whose pid is in /run/zed.pid. Only
# the signal the maintainer scripts send it is observed (the real ZED rescans its zedlets
# on SIGHUP, zed(8)); the VM runs the real one.
zed_standin_start() {
    cp /bin/sleep "$W/zed"
    "$W/zed" 30 &
    ZED_PID=$!
    echo $ZED_PID >/run/zed.pid
}
zed_standin_hupped() { # WHEN
    local i rc
    for i in $(seq 50); do kill -0 $ZED_PID 2>/dev/null || break; sleep 0.1; done
    if kill -0 $ZED_PID 2>/dev/null; then
        kill $ZED_PID
        wait $ZED_PID
        bad "$1: the running ZED was not signalled"
    else
        wait $ZED_PID
        rc=$?
        [ $rc = 129 ] && ok "$1: the running ZED got SIGHUP (rescan)" || bad "$1: ZED ended with $rc, not by SIGHUP (129)"
    fi
    rm -f /run/zed.pid
}

# ---- install
zed_standin_start
check "installs ($MODE)" install_pkg
zed_standin_hupped "install"
case $MODE in
deb) check "dpkg: installed" bash -c "dpkg-query -W -f='\${Status}' iscsi-mirror | grep -qx 'install ok installed'" ;;
rpm) check "rpm -V: files as packaged" rpm -V --nodeps iscsi-mirror ;;
esac

# ---- files
check "agent at $AGENT, root 0755 ELF" \
    bash -c "[ \"\$(stat -c '%U:%G %a %F' $AGENT)\" = 'root:root 755 regular file' ] && head -c4 $AGENT | grep -q ELF"
check "/usr/sbin/iscsi-mirror -> the agent" \
    bash -c "[ -L /usr/sbin/iscsi-mirror ] && [ \"\$(readlink -f /usr/sbin/iscsi-mirror)\" = $AGENT ]"
check "iscsi-mirror --version" bash -c "iscsi-mirror --version | grep -qx 'iscsi-mirror [0-9.]*'"

# ---- the ZED hook: links created, each as ZED demands of a zedlet (it follows links:
# executable, owned by root, writable by nobody else).
for z in "${ZEDLETS[@]}"; do
    check "ZED hook $ZEDD/$z -> /usr/sbin/iscsi-mirror, root-owned, not g/o-writable, executable" \
        bash -c "[ \"\$(readlink $ZEDD/$z)\" = /usr/sbin/iscsi-mirror ] &&
                 [ \"\$(stat -L -c '%u' $ZEDD/$z)\" = 0 ] &&
                 [ \$(( 0\$(stat -L -c '%a' $ZEDD/$z) & 022 )) = 0 ] && [ -x $ZEDD/$z ]"
done
# Run as ZED runs it (its environment only): the zedlet path, not the agent's (which
# would answer an empty action with usage, exit 2).
check "statechange hook run as ZED runs it: exit 0" \
    env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin ZEVENT_EID=7 ZEVENT_CLASS=sysevent.fs.zfs.statechange \
    ZEVENT_SUBCLASS=statechange ZEVENT_POOL=san-pool ZEVENT_VDEV_STATE_STR=FAULTED \
    ZEVENT_VDEV_PATH=/dev/disk/by-path/ip-127.0.0.2:3260-iscsi-iqn.2025-01.lab.home:storage-b-lun-0 \
    "$ZEDD/statechange-iscsi-mirror"
env -i PATH=/usr/bin:/bin "$ZEDD/statechange-iscsi-mirror" >/dev/null 2>&1
rc=$?
if [ $rc = 2 ]; then ok "the same link without ZEVENT_*: the agent's usage (exit 2)"; else bad "without ZEVENT_*: exit $rc, not 2"; fi

# ---- the meta-data, as Pacemaker's tools read it
# Pacemaker passes OCF_RA_VERSION 1.1 to every OCF action: it gets the OCF 1.1 form (with
# reload-agent); a shell (and ocf-tester) the form ra-api-1.dtd accepts.
OCF_RA_VERSION_MAJOR=1 OCF_RA_VERSION_MINOR=1 iscsi-mirror meta-data >"$W/md11.xml"
iscsi-mirror meta-data >"$W/md.xml"
check "crm_resource --show-metadata ocf:san:iscsi-mirror = iscsi-mirror meta-data (OCF 1.1 form)" \
    bash -c "crm_resource --show-metadata ocf:san:iscsi-mirror | cmp - $W/md11.xml"
check "meta-data (plain form) valid against resource-agents' ra-api-1.dtd" \
    xmllint --noout --dtdvalid /usr/share/resource-agents/ra-api-1.dtd "$W/md.xml"
mapfile -t PARAMS < <(xmllint --xpath '//parameters/parameter/@name' "$W/md.xml" | sed 's/.*name="\([^"]*\)".*/\1/')
[ ${#PARAMS[@]} -ge 10 ] && ok "meta-data has ${#PARAMS[@]} parameters" || bad "meta-data parameters: ${PARAMS[*]}"

# lists_every_parameter NAME LINE-PREFIX LINE-SUFFIX CMD...: the tool's output names the
# agent (its title) and has a line for each parameter of the meta-data.
lists_every_parameter() {
    local name=$1 pre=$2 post=$3 rc missing p
    shift 3
    "$@" >"$W/listing" 2>&1
    rc=$?
    missing=$(for p in "${PARAMS[@]}"; do grep -q "^$pre$p$post" "$W/listing" || echo "$p"; done)
    if [ $rc = 0 ] && contains "$W/listing" "ocf:san:iscsi-mirror" && [ -z "$missing" ]; then
        ok "$name: every parameter"
    else
        bad "$name: rc=$rc, missing: $missing"
    fi
}
lists_every_parameter "pcs resource describe ocf:san:iscsi-mirror" "  " ": " pcs resource describe ocf:san:iscsi-mirror
lists_every_parameter "crm ra info ocf:san:iscsi-mirror" "" " (" crm ra info ocf:san:iscsi-mirror

# ---- validate-all through crm_resource: this node in peers (named as crm_node -n names
# it, as the agent does), portals on loopback.
node=$(crm_node -n 2>/dev/null || uname -n)
valid=(--option "peers=$node=iqn.2025-01.lab.home:$node@127.0.0.1:3260 storage-b=iqn.2025-01.lab.home:storage-b@127.0.0.2:3260"
    --option noop_out_interval=2 --option noop_out_timeout=2 --option replacement_timeout=5
    --option login_timeout=10 --option pool=san-pool)
check "crm_resource --validate (peers, the seeds' timers): OK" \
    crm_resource --validate --class ocf --provider san --agent iscsi-mirror "${valid[@]}"
crm_resource --validate --class ocf --provider san --agent iscsi-mirror --option portal=127.0.0.2:3260 >"$W/v" 2>&1
rc=$?
if [ $rc != 0 ] && contains "$W/v" "returned 6 (not configured: portal is set but target is not"; then
    ok "crm_resource --validate (portal without target): not configured (crm_resource exit $rc)"
else
    bad "crm_resource --validate of a bad configuration: rc=$rc $(tr '\n' ' ' <"$W/v")"
fi

# ---- man pages: found by man, rendered at 80 columns without a warning
for page in ocf_san_iscsi-mirror iscsi-mirror iscsi-mirror-status iscsi-mirror-cluster \
    iscsi-mirror-check-timeouts iscsi-mirror-outdated iscsi-mirror-doctor; do
    warnings=$(MANWIDTH=80 man --warnings "$page" 2>&1 >"$W/man")
    if [ -z "$warnings" ] && [ "$(wc -l <"$W/man")" -gt 20 ] && man -w "$page" | grep -q '\.gz$'; then
        ok "man $page: $(man -w "$page"), $(wc -l <"$W/man") lines, no warnings"
    else
        bad "man $page: $(man -w "$page" 2>&1) warnings: $warnings"
    fi
done
MANWIDTH=80 man ocf_san_iscsi-mirror >"$W/man7" 2>/dev/null
missing=$(for p in "${PARAMS[@]}"; do grep -qx "       $p" "$W/man7" || echo "$p"; done)
for h in "SUPPORTED PARAMETERS" "SUPPORTED ACTIONS" "EXAMPLE CRM SHELL" "EXAMPLE PCS"; do
    grep -qx "$h" "$W/man7" || missing="$missing [$h]"
done
grep -q "Suggested minimum timeout: 90s" "$W/man7" || missing="$missing [start timeout]"
[ -z "$missing" ] && ok "man ocf_san_iscsi-mirror: every parameter, the actions' timeouts, both examples" ||
    bad "man ocf_san_iscsi-mirror lacks: $missing"

# ---- completions
case $MODE in
deb) ZSHC=/usr/share/zsh/vendor-completions/_iscsi-mirror ;;
rpm) ZSHC=/usr/share/zsh/site-functions/_iscsi-mirror ;;
esac
complete_words() { # the bash completion's candidates for the words given
    bash -c 'source /usr/share/bash-completion/completions/iscsi-mirror
             fn=$(complete -p iscsi-mirror | sed -n "s/.*-F \([^ ]*\).*/\1/p")
             COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
             "$fn" iscsi-mirror "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
             printf "%s\n" "${COMPREPLY[@]}"' _ "$@"
}
export -f complete_words
check "bash completion: iscsi-mirror sta<TAB> -> status" bash -c '[ "$(complete_words iscsi-mirror sta)" = status ]'
complete_words iscsi-mirror status -- >"$W/c"
check "bash completion: iscsi-mirror status --<TAB> offers --json --cib-xml --rsc-tmp" \
    bash -c "grep -qx -- --json $W/c && grep -qx -- --cib-xml $W/c && grep -qx -- --rsc-tmp $W/c"
if command -v zsh >/dev/null; then
    check "zsh completion $ZSHC parses (zsh -n), #compdef iscsi-mirror" \
        bash -c "zsh -n $ZSHC && head -1 $ZSHC | grep -qx '#compdef iscsi-mirror'"
else
    bad "zsh not installed: cannot check $ZSHC"
fi

# ---- the shipped examples, as an admin would run them, into CIB files
cp -r "$DOC/examples" "$W/ex"
cibadmin --empty >"$W/pcs-cib.xml"
pcs() { command pcs -f "$PCS_CIB" "$@"; }
export -f pcs
export PCS_CIB=$W/pcs-cib.xml
check "examples/pcs-mirror-clone.sh with pcs -f: accepted" bash "$W/ex/pcs-mirror-clone.sh"
unset -f pcs
command pcs -f "$W/pcs-cib.xml" resource config >"$W/pcsconf" 2>&1
check "... the clone in the CIB: peers, timers, pool, monitor 10s/30s, interleave, allow-unhealthy-nodes" \
    bash -c "grep -q 'Clone: san-mirror-clone' $W/pcsconf && grep -q 'allow-unhealthy-nodes=true' $W/pcsconf &&
             grep -q 'interleave=true' $W/pcsconf && grep -q 'pool=san-pool' $W/pcsconf &&
             grep -q 'replacement_timeout=5' $W/pcsconf && grep -q 'monitor: san-mirror-monitor-interval-10s' $W/pcsconf"
cibadmin --empty >"$W/crm-cib.xml"
CIB_file=$W/crm-cib.xml crm_attribute -t crm_config -n stonith-enabled -v false
check "examples/crmsh-mirror-clone.crm with crm configure load update: accepted" \
    env CIB_file="$W/crm-cib.xml" crm configure load update "$W/ex/crmsh-mirror-clone.crm"
CIB_file=$W/crm-cib.xml crm configure show >"$W/crmconf" 2>&1
check "... the clone in the CIB" \
    bash -c "grep -q 'primitive san-mirror ocf:san:iscsi-mirror' $W/crmconf &&
             grep -q 'clone san-mirror-clone san-mirror' $W/crmconf &&
             grep -q 'allow-unhealthy-nodes=true' $W/crmconf"
# The whole SAN's scripts (proven under the scheduler by crm/tests/scheduler.sh) are there.
for f in san.env pcs-two-node-san.sh crmsh-two-node-san.sh pcs-single-target.sh crmsh-single-target.sh; do
    check "examples/$f shipped" test -s "$W/ex/$f"
done

# ---- the ZED hook's lifecycle: an admin disables one hook; it stays disabled.
rm -f "$ZEDD/resilver_start-iscsi-mirror"
check "reinstall ($MODE)" install_pkg
check "after reinstall: the disabled hook stays absent, the others remain, no marker left" \
    bash -c "[ ! -e $ZEDD/resilver_start-iscsi-mirror ] && [ ! -L $ZEDD/resilver_start-iscsi-mirror ] &&
             [ \"\$(readlink $ZEDD/statechange-iscsi-mirror)\" = /usr/sbin/iscsi-mirror ] &&
             [ \"\$(readlink $ZEDD/resilver_finish-iscsi-mirror)\" = /usr/sbin/iscsi-mirror ]"
zed_standin_start
check "remove ($MODE)" remove_pkg
zed_standin_hupped "remove"
check "after remove: agent gone, no hook left pointing at it" \
    bash -c "[ ! -e $AGENT ] && [ ! -L $ZEDD/statechange-iscsi-mirror ] && [ ! -L $ZEDD/resilver_finish-iscsi-mirror ]"
if [ "$MODE" = deb ]; then
    check "after remove: the disabled hook is remembered (-> /dev/null)" \
        bash -c "[ \"\$(readlink $ZEDD/resilver_start-iscsi-mirror)\" = /dev/null ]"
    check "install again" install_pkg
    check "after install again: enabled hooks back, the disabled one still absent" \
        bash -c "[ \"\$(readlink $ZEDD/statechange-iscsi-mirror)\" = /usr/sbin/iscsi-mirror ] &&
                 [ ! -e $ZEDD/resilver_start-iscsi-mirror ] && [ ! -L $ZEDD/resilver_start-iscsi-mirror ]"
    check "purge" dpkg -P iscsi-mirror
fi
gone=$([ "$MODE" = deb ] && echo purge || echo erase)
if [ "$had_etc_zfs" = no ]; then
    # /etc/zfs was the package's alone, and goes with it.
    check "after $gone: no /etc/zfs left" bash -c "[ ! -e /etc/zfs ]"
else
    check "after $gone: no iscsi-mirror hook left in $ZEDD" bash -c "! ls $ZEDD/*-iscsi-mirror 2>/dev/null"
fi

rm -rf "$W"
echo "[$MODE] $failed check(s) failed"
[ $failed = 0 ]
