#!/bin/sh
# Claims that must not stay in_progress for ever (issue 16 items 1, 4, 13):
#  1. another process holds the state DB's write lock for 40 s while a group's
#     end is being recorded: the worker retries with back-off, STATUS= shows
#     it, and the group completes once the lock goes, without a restart;
#  2. an in_progress group owned by a live but unrelated process (its pid
#     reused: the recorded start time or boot id differs) is recovered by the
#     running daemon; `requeue` explains and refuses a live owner's group,
#     `requeue --force` takes it;
#     a claim under the daemon's own identity that no worker holds is freed;
#  3. a bad configuration is refused (exit 2) before any group is claimed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_common.inc"

PY=/usr/bin/python3
tools || { fail "cannot build the listener"; exit 0; }
A=1772344154
G=2026-03-01T05:49:14
write_conf "stages = load, convert, export" "threads = 1" "[debug]" "stage_delay_s = 2"
make_group "$REF1" $A 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
SOCK="$T/notify.sock"
"$T/daemon_tools" notify "$SOCK" "$T/notify.log" 120 &
LPID=$!
wait_for 5 test -S "$SOCK"
NOTIFY_SOCKET="$SOCK" start_daemon --enable-fault-injection
D1=$DPID
check "daemon became ready" wait_for 10 grep -q "ready:" "$T/daemon.log"
mv "$T"/stage/*.hdf5 "$T/in/"

# --- 1. the write lock held by another process across the completion commit ---
check "group reached its last stage (export)" wait_for 30 is \
	"SELECT stage FROM groups WHERE state = 'in_progress'" export
# Take the lock while export waits its stage_delay_s: the stage's own records
# and the completion commit all meet it.
"$PY" - "$DB" "$T/locked" <<'EOF' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
c.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
t0 = time.time()
time.sleep(40)
c.execute("ROLLBACK")
print("# lock held %.1f s" % (time.time() - t0))
EOF
HPID=$!
check "lock holder took BEGIN IMMEDIATE" wait_for 10 test -e "$T/locked"
T0=$(date +%s)
check "the worker reports the failed state change and retries" \
	wait_for 40 grep -q "cannot record the end of the run (attempt 2)" "$T/daemon.log"
grep "cannot record the end of the run" "$T/daemon.log" | sed 's/^/# /'
check "STATUS= shows the group whose end is being retried" \
	grep -q "^STATUS=.*running: $G (end not recorded, retry [0-9]*: .*locked" "$T/notify.log"
grep "end not recorded" "$T/notify.log" | tail -1 | sed 's/^/# /'
check "still in_progress while the lock is held (read through WAL)" \
	is "SELECT state FROM groups" in_progress
wait "$HPID"
T1=$(date +%s)
echo "# lock released $((T1 - T0)) s after it was seen taken"
check "group completes once the lock goes, no restart" wait_for 70 is "SELECT state FROM groups" completed
T2=$(date +%s)
echo "# completed $((T2 - T1)) s after the lock went"
check "same daemon process (no restart)" kill -0 "$D1"
check "ran once, products recorded" is "SELECT runs || '/' || (SELECT count(*) FROM products) FROM groups" "1/1"
check "the end was recorded after failed attempts (log)" \
	grep -q "end of the run recorded after [0-9]* failed attempts" "$T/daemon.log"

# --- 2. pid reuse: a live unrelated process as the recorded owner ---
stop_daemon
sleep 300 &
SPID=$!
SSTART=$(awk '{print $22}' /proc/$SPID/stat)
echo "# unrelated live process: pid $SPID, start $SSTART ticks"
q "UPDATE groups SET state = 'in_progress', owner_pid = $SPID, owner_start = $SSTART, stage = 'image'"
$CTL requeue "$G" >"$T/rq.out" 2>"$T/rq.err"
rc=$?
sed 's/^/# requeue (live owner): /' "$T/rq.err"
check "requeue of a live owner's group: exit 2" [ "$rc" = 2 ]
check "... it names the owner and --force" grep -q "processed now by pid $SPID.*--force" "$T/rq.err"
$CTL requeue --force --reason "wedged" "$G" >"$T/rqf.out" 2>&1
rc=$?
check "requeue --force: exit 0, pending" sh -c "[ $rc = 0 ] && grep -q '$G: pending' '$T/rqf.out'"
check "... the event names the owner taken from" is \
	"SELECT count(*) FROM group_events WHERE kind = 'requeue' AND message LIKE 'wedged (forced: taken from pid $SPID, alive)'" 1
check "... owner cleared" is "SELECT state || '/' || coalesce(owner_pid, 'none') FROM groups" "pending/none"
# The same live pid, but recorded with another start time (the pid was reused).
q "UPDATE groups SET state = 'in_progress', owner_pid = $SPID, owner_start = $((SSTART + 1)), stage = 'image'"
$CTL requeue "$G" >"$T/rq.out" 2>"$T/rq.err"
rc=$?
sed 's/^/# requeue (pid reused): /' "$T/rq.err"
check "requeue of a reused pid's group: exit 2, explains" \
	sh -c "[ $rc = 2 ] && grep -q 'now another process' '$T/rq.err'"
RUNS0=$(q "SELECT runs FROM groups")
write_conf "stages = load, convert, export" "threads = 1"
start_daemon
check "the restarted daemon recovers it" wait_for 20 is \
	"SELECT count(*) FROM group_events WHERE kind = 'recovered' AND message LIKE 'owner pid $SPID is now another process (pid reused)%'" 1
check "... and runs it again" wait_for 40 is "SELECT state || '/' || runs FROM groups" "completed/$((RUNS0 + 1))"
# Another boot id: recovered by the periodic pass of the running daemon too.
q "UPDATE groups SET state = 'in_progress', owner_pid = $SPID, owner_start = $SSTART, owner_boot = '00000000-0000-0000-0000-000000000000', stage = 'image'"
check "a claim from another boot is recovered while running" wait_for 20 is \
	"SELECT count(*) FROM group_events WHERE kind = 'recovered' AND message LIKE 'owner pid $SPID%'" 2
kill "$SPID" 2>/dev/null
wait "$SPID" 2>/dev/null
check "... and the group completes" wait_for 40 is "SELECT state FROM groups" completed
# A claim under the running daemon's own identity that none of its workers
# holds (made two minutes ago): the daemon frees it without a restart.
DSTART=$(awk '{print $22}' /proc/$DPID/stat)
BOOT=$(cat /proc/sys/kernel/random/boot_id)
q "UPDATE groups SET state = 'in_progress', owner_pid = $DPID, owner_start = $DSTART, owner_boot = '$BOOT', started_at = strftime('%s','now') - 120, stage = 'image', retries = 0"
check "the daemon's own claim that no worker holds is recovered" wait_for 20 is \
	"SELECT count(*) FROM group_events WHERE kind = 'recovered' AND message LIKE 'owner pid $DPID holds the claim but no worker runs the group%'" 1
check "... and the group completes again" wait_for 40 is "SELECT state FROM groups" completed
check "... by the same daemon" kill -0 "$DPID"

# --- 3. a bad configuration is refused before any group is claimed ---
stop_daemon
$CTL requeue --reason "config test" "$G" >/dev/null 2>&1
check "group pending before the start" is "SELECT state || '/' || coalesce(owner_pid, 'none') FROM groups" "pending/none"
E0=$(q "SELECT count(*) FROM group_events")
S0=$(q "SELECT started_at FROM groups")
write_conf "stages = load, convert, export" "threads = 1" "[image]" "sise = 512"
"$BIN/contimgd" --config "$CONF" --foreground --log-format text >"$T/bad.log" 2>&1
rc=$?
sed 's/^/# bad config: /' "$T/bad.log" | head -3
check "contimgd with a misspelt key: exit 2" [ "$rc" = 2 ]
check "... names the key" grep -q "sise" "$T/bad.log"
check "... the group is still pending, not claimed" \
	is "SELECT state || '/' || coalesce(owner_pid, 'none') || '/' || started_at FROM groups" "pending/none/$S0"
check "... no event written" is "SELECT count(*) FROM group_events" "$E0"
kill "$LPID" 2>/dev/null
wait "$LPID" 2>/dev/null
exit 0
