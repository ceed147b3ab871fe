#!/bin/sh
# SIGTERM: intake stops, a running group finishes within the grace period and
# the daemon exits 0; with a grace period too short the running group is put
# back to pending (and completes after a restart).  requeue reprocesses a
# completed group; status --json parses.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_common.inc"

A=1772344154
write_conf "stages = load, convert, export" "threads = 1" "stop_grace_s = 60" "[debug]" "stage_delay_s = 1"
make_group "$REF1" $A 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
start_daemon --enable-fault-injection
wait_for 10 grep -q "ready:" "$T/daemon.log"
mv "$T"/stage/*.hdf5 "$T/in/"
check "group started" wait_for 20 is "SELECT count(*) FROM groups WHERE state = 'in_progress' AND stage IS NOT NULL" 1
t0=$(date +%s)
kill -TERM "$DPID"
wait "$DPID"
DRC=$?
DPID=
t1=$(date +%s)
check "SIGTERM: exit 0" [ "$DRC" = 0 ]
check "SIGTERM: running group finished before exit" is "SELECT state FROM groups" completed
check "SIGTERM: within the grace period" [ $((t1 - t0)) -lt 60 ]
check "pid file removed" test ! -e "$T/state/contimgd.pid"

# Too short a grace period: the running group is requeued, exit still 0.
write_conf "stages = load, convert, export" "threads = 1" "stop_grace_s = 0.3" "[debug]" "stage_delay_s = 3"
start_daemon --enable-fault-injection
wait_for 10 sh -c "[ \$(grep -c 'ready:' '$T/daemon.log') = 2 ]"
check "requeue of a completed group" $CTL requeue 2026-03-01T05:49:14 --reason "test reprocess"
check "requeued group restarts" wait_for 20 is "SELECT count(*) FROM groups WHERE state = 'in_progress' AND stage = 'convert'" 1
kill -TERM "$DPID"
wait "$DPID"
DRC=$?
DPID=
check "short grace: exit 0" [ "$DRC" = 0 ]
check "short grace: group back to pending" is "SELECT state FROM groups" pending
check "requeue reason recorded" is "SELECT count(*) FROM group_events WHERE kind = 'requeue' AND message = 'test reprocess'" 1

tools
$CTL status --json >"$T/status.json"
check "status --json parses" "$T/daemon_tools" json "$T/status.json"
check "status --json: daemon down" [ "$("$T/daemon_tools" json "$T/status.json" daemon.running)" = false ]
check "status --json: one pending" [ "$("$T/daemon_tools" json "$T/status.json" counts.pending)" = 1 ]

write_conf "stages = load, convert, export" "threads = 1"
start_daemon --enable-fault-injection
check "after restart the requeued group completes" wait_for 30 is "SELECT state FROM groups" completed
check "requeue reprocessed it: two completed runs" is "SELECT runs FROM groups" 2
check "products replaced, not duplicated" is "SELECT count(*) FROM products" 1
$CTL status --json >"$T/status.json"
check "status --json: daemon up" [ "$("$T/daemon_tools" json "$T/status.json" daemon.running)" = true ]
check "status --json: last completed" [ "$("$T/daemon_tools" json "$T/status.json" last_completed.group_id)" = 2026-03-01T05:49:14 ]
check "status (text)" sh -c "$CTL status | grep -q 'daemon: *running'"
check "requeue unknown group: exit 1" sh -c "$CTL requeue 2020-01-01T00:00:00; [ \$? = 1 ]"
check "requeue malformed id: exit 2" sh -c "$CTL requeue '../x'; [ \$? = 2 ]"
check "show unknown group: exit 1" sh -c "$CTL show 2020-01-01T00:00:00; [ \$? = 1 ]"
stop_daemon
check "final exit 0" [ "$DRC" = 0 ]
exit 0
