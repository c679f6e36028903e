#!/bin/sh
# standin-agent.sh - a tiny OCF agent used ONLY by the lab's fixture and self-test scripts
# in place of the real iscsi-mirror binary, so that crm_mon fixtures can show an
# ocf:san:iscsi-mirror clone started, and failed with a real exit reason, by the real
# pacemaker-execd. It manages nothing: start/stop keep a state file under HA_RSCTMP.
# Failure injection (inside a lab node's private /run):
#   echo "REASON" > /run/standin-fail-monitor   the next recurring monitor prints
#       "ocf-exit-reason:REASON" on stderr and exits 1 (OCF_ERR_GENERIC); the file is
#       removed, so the recovery (stop, start) that Pacemaker runs succeeds.
state=${HA_RSCTMP:-/run/resource-agents}/standin-${OCF_RESOURCE_INSTANCE:-default}.state
fail=/run/standin-fail-monitor
case ${1:-} in
meta-data)
    cat <<'XML'
<?xml version="1.0"?>
<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">
<resource-agent name="iscsi-mirror" version="0.0-standin">
<version>1.1</version>
<longdesc lang="en">Lab stand-in for ocf:san:iscsi-mirror (manages nothing).</longdesc>
<shortdesc lang="en">iscsi-mirror lab stand-in</shortdesc>
<parameters>
<parameter name="peers" unique="0" required="0">
<longdesc lang="en">NODE=IQN@PORTAL entries (ignored by the stand-in).</longdesc>
<shortdesc lang="en">peers</shortdesc>
<content type="string"/>
</parameter>
</parameters>
<actions>
<action name="start" timeout="20s"/>
<action name="stop" timeout="20s"/>
<action name="monitor" timeout="20s" interval="10s" depth="0"/>
<action name="meta-data" timeout="5s"/>
<action name="validate-all" timeout="20s"/>
</actions>
</resource-agent>
XML
    exit 0 ;;
start) mkdir -p "$(dirname "$state")" && touch "$state"; exit 0 ;;
stop) rm -f "$state"; exit 0 ;;
monitor|status)
    [ -e "$state" ] || exit 7
    if [ -e "$fail" ] && [ "${OCF_RESKEY_CRM_meta_interval:-0}" != 0 ]; then
        echo "ocf-exit-reason:$(head -1 "$fail")" >&2
        rm -f "$fail"
        exit 1
    fi
    exit 0 ;;
validate-all) exit 0 ;;
*) exit 3 ;;
esac
