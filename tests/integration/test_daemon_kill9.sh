#!/bin/sh
# kill -9 in the middle of a group, restart → the group goes back to pending,
# completes exactly once, and its products are not duplicated.  A second kill
# comes while the export's temporary exists (SIGKILL from the fault hook right
# after the temporary is written and fsynced, before the rename), so "no
# temporary left" after the restart tests something: the run that completes
# the group starts by removing it (issue 16).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_common.inc"

write_conf "stages = load, convert, export" "threads = 1" "[debug]" "stage_delay_s = 2"
A=1772344154
make_group "$REF1" $A 0 0 0 0 1 1 1 1 2 2 2 2 3 3 3 3
start_daemon --enable-fault-injection
check "daemon became ready" wait_for 10 grep -q "ready:" "$T/daemon.log"
mv "$T"/stage/*.hdf5 "$T/in/"
# Kill while convert (the longest stage) runs.
check "group reached the convert stage" wait_for 20 is "SELECT stage FROM groups WHERE state = 'in_progress'" convert
kill -9 "$DPID"
wait "$DPID" 2>/dev/null
DPID=
check "killed mid-group: still in_progress" is "SELECT state FROM groups" in_progress
check "no products recorded yet" is "SELECT count(*) FROM products" 0
PD="$T/prod/2026-03-01/2026-03-01T05:49:14"
check "killed before any product file" sh -c "! ls '$PD' 2>/dev/null | grep -q ."

# Killed again, this time with the export's temporary on disk.
write_conf "stages = load, convert, export" "threads = 1" "[debug]" "crash_at_step = synced"
start_daemon --enable-fault-injection
wait_for 60 sh -c "! kill -0 $DPID" || kill -9 "$DPID"
wait "$DPID" 2>/dev/null
krc=$?
DPID=
check "killed (SIGKILL) after the temporary was fsynced" [ "$krc" = 137 ]
tsize=$(stat -c %s "$PD/2026-03-01T05:49:14.uvh5.tmp" 2>/dev/null || echo 0)
echo "# the kill left a temporary of $tsize bytes and no product"
check "a temporary is left, no product" sh -c "[ $tsize -gt 0 ] && [ ! -e '$PD/2026-03-01T05:49:14.uvh5' ]"
check "still in_progress, no product recorded" is "SELECT state || (SELECT count(*) FROM products) FROM groups" in_progress0

# The restarted daemon also checks the watchdog rule: a stage that shows no
# progress for longer than stall_timeout_s withholds WATCHDOG=1.
write_conf "stages = load, convert, export" "threads = 1" "stall_timeout_s = 0.1" "[debug]" "stage_delay_s = 0.5"
WATCHDOG_USEC=200000 start_daemon --enable-fault-injection
check "restarted daemon completes the group" wait_for 30 is "SELECT state FROM groups" completed
check "the group ran to completion once" is "SELECT runs FROM groups" 1
check "a stalled stage withholds the watchdog ping" grep -q "withholding the watchdog ping" "$T/daemon.log"
check "both recoveries were recorded" is "SELECT count(*) FROM group_events WHERE kind = 'recovered'" 2
check "the run removed the killed run's temporary" grep -q "removed 1 temporary or scratch file(s) of an interrupted run" "$T/daemon.log"
check "one vis product row" is "SELECT count(*) FROM products" 1
check "one exported file, no temporary left" [ "$(ls "$T/prod/2026-03-01/2026-03-01T05:49:14/" | wc -l)" = 1 ]
check "product path exists" test -s "$(q "SELECT path FROM products WHERE name = 'vis'")"
check "still one group and 16 files" is "SELECT count(*) || '/' || (SELECT count(*) FROM subband_files) FROM groups" "1/16"

# A second restart with nothing to do must not run it again.
stop_daemon
start_daemon --enable-fault-injection
check "ready again (the fourth start)" wait_for 10 sh -c "[ \$(grep -c 'ready:' '$T/daemon.log') = 4 ]"
sleep 1
check "not processed twice" is "SELECT runs FROM groups" 1
stop_daemon
check "exit status 0" [ "$DRC" = 0 ]
exit 0
