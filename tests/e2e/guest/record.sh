# record.sh - sourced by main.sh inside the VM: drives the REAL open-iscsi 2.1.8 (kernel
# 6.1 iscsi_tcp, LIO target on 127.0.0.1:3260) through the situations the stand-in
# (tests/simhost) imitates and records each output + exit code as out/vm-recorded/NAME.txt
# (see `record` in lib.sh). run.sh copies them to tests/fixtures/iscsi/vm-recorded/ with
# E2E_RECORD=1. Nothing here is typed by hand.
#
# Leaves no session and no node record behind.

udevadm settle -t 30
record session-none iscsiadm -m session
record node-none iscsiadm -m node
record discoverydb-none iscsiadm -m discoverydb
record discovery-sendtargets iscsiadm -m discovery -t sendtargets -p $PORTAL
record node-list iscsiadm -m node
record discoverydb-list iscsiadm -m discoverydb
record node-show-discovered iscsiadm -m node -T $IQN -p $PORTAL -o show
# the CHAP target was discovered too; only $IQN is used until the CHAP case below
iscsiadm -m node -o delete -T $IQN_CHAP -p $PORTAL

record login iscsiadm -m node -T $IQN -p $PORTAL --login
udevadm settle -t 30
SID=$(S=$(session_of $IQN) && echo "${S##*session}")
record session-P0 iscsiadm -m session
record session-P0-explicit iscsiadm -m session -P 0
record session-P1 iscsiadm -m session -P 1
record session-P2 iscsiadm -m session -P 2
record session-P3 iscsiadm -m session -P 3
record session-r-sid-P1 iscsiadm -m session -r "$SID" -P 1
record session-r-sid-P3 iscsiadm -m session -r "$SID" -P 3
record session-r-unknown-sid iscsiadm -m session -r 99
record node-show-logged-in iscsiadm -m node -T $IQN -p $PORTAL -o show
record login-session-exists iscsiadm -m node -T $IQN -p $PORTAL --login
sysfs_tree "$(session_of $IQN)" | record_text sysfs-session-logged-in "sysfs tree of a LOGGED_IN session (LIO, 127.0.0.1:3260, defaults)"
for l in /dev/disk/by-path/*; do
    [ -e "$l" ] && echo "${l##*/} -> $(readlink "$l")"
done | record_text by-path-links "ls /dev/disk/by-path (udev's links, name -> target)"
# a live recovery_tmo write (what the agent does on a live session), and what -o update does not change
S_=$(session_of $IQN)
{ echo "before: recovery_tmo=$(cat "$S_/recovery_tmo")"
  echo 7 > "$S_/recovery_tmo"; echo "write 7 rc=$?"
  echo "after: recovery_tmo=$(cat "$S_/recovery_tmo")"
  echo 2 > "$(conn_of "$S_")/recv_tmo" 2>&1; echo "write recv_tmo 2 rc=$? (read-only in sysfs)"
  echo "recv_tmo=$(cat "$(conn_of "$S_")/recv_tmo") ping_tmo=$(cat "$(conn_of "$S_")/ping_tmo")"
} 2>&1 | record_text sysfs-live-timer-writes "writes to a live session's recovery_tmo / recv_tmo"
record logout iscsiadm -m node -T $IQN -p $PORTAL --logout
record logout-no-session iscsiadm -m node -T $IQN -p $PORTAL --logout
record session-none-after-logout iscsiadm -m session

# static records (no discovery), as an agent writes them
record node-delete iscsiadm -m node -o delete -T $IQN -p $PORTAL
record node-show-no-record iscsiadm -m node -T $IQN -p $PORTAL -o show
record login-no-record iscsiadm -m node -T $IQN -p $PORTAL --login
record node-new-static iscsiadm -m node -o new -T $IQN -p $PORTAL
record node-new-exists iscsiadm -m node -o new -T $IQN -p $PORTAL
record node-update-replacement iscsiadm -m node -T $IQN -p $PORTAL -o update -n node.session.timeo.replacement_timeout -v 5
record node-update-bad-key iscsiadm -m node -T $IQN -p $PORTAL -o update -n node.session.no_such_key -v 5
record node-show-static iscsiadm -m node -T $IQN -p $PORTAL -o show

# login to an unreachable portal: nftables drops tcp/3260; small login_timeout, one try
iscsiadm -m node -T $IQN -p $PORTAL -o update -n node.conn[0].timeo.login_timeout -v 3
iscsiadm -m node -T $IQN -p $PORTAL -o update -n node.session.initial_login_retry_max -v 1
link_cut
record login-unreachable iscsiadm -m node -T $IQN -p $PORTAL --login
record session-after-failed-login iscsiadm -m session
link_restore

# a closed port: discovery and login against 127.0.0.1:3261 (nothing listens)
record discovery-closed-port iscsiadm -m discovery -t sendtargets -p 127.0.0.1:3261
iscsiadm -m node -o new -T $IQN -p 127.0.0.1:3261 > /dev/null
iscsiadm -m node -T $IQN -p 127.0.0.1:3261 -o update -n node.conn[0].timeo.login_timeout -v 3
iscsiadm -m node -T $IQN -p 127.0.0.1:3261 -o update -n node.session.initial_login_retry_max -v 1
record login-closed-port iscsiadm -m node -T $IQN -p 127.0.0.1:3261 --login
iscsiadm -m node -o delete -T $IQN -p 127.0.0.1:3261

# CHAP: the target's ACL wants e2euser/right-secret-12; the node record has a wrong password
record node-new-chap iscsiadm -m node -o new -T $IQN_CHAP -p $PORTAL
iscsiadm -m node -T $IQN_CHAP -p $PORTAL -o update -n node.session.auth.authmethod -v CHAP
iscsiadm -m node -T $IQN_CHAP -p $PORTAL -o update -n node.session.auth.username -v e2euser
iscsiadm -m node -T $IQN_CHAP -p $PORTAL -o update -n node.session.auth.password -v wrong-secret-12
record login-chap-mismatch iscsiadm -m node -T $IQN_CHAP -p $PORTAL --login
record node-show-chap iscsiadm -m node -T $IQN_CHAP -p $PORTAL -o show
iscsiadm -m node -T $IQN_CHAP -p $PORTAL -o update -n node.session.auth.authmethod -v None
record login-chap-none iscsiadm -m node -T $IQN_CHAP -p $PORTAL --login
iscsiadm -m node -T $IQN_CHAP -p $PORTAL -o update -n node.session.auth.authmethod -v CHAP
iscsiadm -m node -T $IQN_CHAP -p $PORTAL -o update -n node.session.auth.password -v right-secret-12
record login-chap-ok iscsiadm -m node -T $IQN_CHAP -p $PORTAL --login
record logout-all iscsiadm -m node --logoutall=all

# leave nothing behind
iscsiadm -m node -o delete > /dev/null 2>&1
iscsiadm -m discoverydb -t sendtargets -p $PORTAL -o delete > /dev/null 2>&1
record node-none-after-cleanup iscsiadm -m node
no_sessions || { fail "record: sessions left behind"; iscsiadm -m session; }
