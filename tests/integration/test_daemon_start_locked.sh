#!/bin/sh
# Start-up with the state database's write lock held (an operator's sqlite3
# shell in BEGIN IMMEDIATE) for longer than the busy timeout (10 s): contimgd
# waits for it (open and recovery retried with back-off) and becomes ready
# once the lock goes, instead of exiting 1 into a restart loop (found by the
# soak, tests/soak/); SIGHUP and SIGUSR1 meanwhile do not end it.  A killed
# daemon's group is recovered by that start.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_common.inc"

write_conf "stages = load, convert, export" "threads = 1" "[debug]" "stage_delay_s = 30"
A=1772344154
make_group "$REF1" $A 0 0 0 0 1 1 1 1 2 2 2 2 3 3 3 3
start_daemon --enable-fault-injection
check "daemon became ready" wait_for 10 grep -q "ready:" "$T/daemon.log"
mv "$T"/stage/*.hdf5 "$T/in/"
check "group in progress" wait_for 20 is "SELECT state FROM groups" in_progress
kill -9 "$DPID"
wait "$DPID" 2>/dev/null
DPID=

# The lock: held for 16 s from the moment the shell reports it.
( echo "BEGIN IMMEDIATE;"; echo "SELECT 'soak-locked';"; sleep 16; echo "ROLLBACK;" ) |
	sqlite3 "$DB" >"$T/lock.out" 2>&1 &
LPID=$!
check "the sqlite3 shell holds the write lock" wait_for 10 grep -q soak-locked "$T/lock.out"
t0=$(date +%s)
write_conf "stages = load, convert, export" "threads = 1"
start_daemon --enable-fault-injection
sleep 1
# Reload and rescan requests before the handlers exist must not end it.
kill -HUP "$DPID"
kill -USR1 "$DPID"
sleep 12
check "after the busy timeout (and SIGHUP, SIGUSR1) the daemon is still running" kill -0 "$DPID"
check "it says it waits for the database" grep -q "database is locked; retrying in" "$T/daemon.log"
check "not ready while the lock is held" [ "$(grep -c 'ready:' "$T/daemon.log")" = 1 ]
wait "$LPID"
check "ready once the lock is released" wait_for 30 sh -c "[ \$(grep -c 'ready:' '$T/daemon.log') = 2 ]"
t1=$(date +%s)
echo "# ready $((t1 - t0)) s after the start with the lock held 16 s"
check "the killed daemon's group was recovered and completed" wait_for 30 is "SELECT state || runs FROM groups" completed1
stop_daemon
check "exit status 0" [ "$DRC" = 0 ]
exit 0
