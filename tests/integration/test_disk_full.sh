#!/bin/sh
# Full disks must not lose or fail groups (issue 16 item 7), on small tmpfs
# file systems (needs root to mount; skipped otherwise):
#  1. products_dir fills up while a group runs (another writer takes the
#     space): the export fails with a plain "HDF5 error", the free space is
#     below [housekeeping] min_free_products_gb, so the group goes back to
#     pending with a "nospace" event and no retry counted; the guard pauses
#     intake and claims; once the space is back it resumes and the group
#     completes (retries 0);
#  2. state_dir fills up at the completion commit ("database or disk is
#     full"): the worker retries recording the end with back-off, STATUS=
#     shows it, the group stays in_progress (not lost, not failed) and
#     completes once space is freed, without a restart.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_common.inc"

MNTS=
cleanup_full() {
	[ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	DPID=
	for m in $MNTS; do umount "$m" 2>/dev/null; done
	cleanup_daemon
}
trap cleanup_full EXIT

mkdir -p "$T/probe"
if ! mount -t tmpfs -o size=1m tmpfs "$T/probe" 2>/dev/null; then
	ok "disk-full tests # SKIP cannot mount a tmpfs here (needs root)"
	exit 0
fi
umount "$T/probe"
tools || { fail "cannot build the listener"; exit 0; }

# fill DIR LEAVE_KB: write DIR/filler until about LEAVE_KB remain free.
fill() {
	avail=$(df -k --output=avail "$1" | tail -1)
	n=$((avail - $2))
	[ "$n" -gt 0 ] && dd if=/dev/zero of="$1/filler" bs=1k count="$n" 2>/dev/null
	df -k --output=avail "$1" | tail -1
}

A=1772344154
G=$(stamp $A 0)

# --- 1. products_dir fills while the group runs ---
mkdir -p "$T/prod"
mount -t tmpfs -o size=64m tmpfs "$T/prod" && MNTS="$T/prod"
# The export stage waits 6 s before it writes: the disk is filled in that
# time (2 s was missed on a loaded machine, where dd of 64 MB took longer).
write_conf "stages = load, convert, export" "threads = 1" "[debug]" "stage_delay_s = 6" \
	"[housekeeping]" "min_free_products_gb = 0.002" "guard_interval_s = 1"
make_group "$REF1" $A 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
start_daemon --enable-fault-injection
D1=$DPID
check "daemon became ready (64 MB products_dir, pause below 2 MB)" wait_for 10 grep -q "ready:" "$T/daemon.log"
mv "$T"/stage/*.hdf5 "$T/in/"
check "group reached export" wait_for 30 is "SELECT stage FROM groups WHERE state = 'in_progress'" export
left=$(fill "$T/prod" 200)
echo "# products_dir filled: ${left} kB left"
check "the export fails and the group goes back to pending, no retry counted" wait_for 20 is \
	"SELECT state || '/' || retries FROM groups WHERE name = '$G' AND EXISTS (SELECT 1 FROM group_events WHERE kind = 'nospace')" \
	"pending/0"
q "SELECT message FROM group_events WHERE kind = 'nospace'" | sed 's/^/# nospace event: /'
check "the log says out of space, no retry counted" \
	grep -q "out of space, back to pending (no retry counted)" "$T/daemon.log"
check "the guard pauses intake and claims (products_dir)" wait_for 10 \
	grep -q "free-space guard: pausing intake and claims: products_dir free" "$T/daemon.log"
$CTL status --json >"$T/st.json" 2>/dev/null
check "status --json says paused" sh -c "'$T/daemon_tools' json '$T/st.json' housekeeping.paused | grep -qx true"
sleep 3
check "while paused the group is not claimed again" is \
	"SELECT state || '/' || retries || '/' || (SELECT count(*) FROM group_events WHERE kind = 'nospace') FROM groups" "pending/0/1"
rm -f "$T/prod/filler"
check "space back: the guard resumes" wait_for 10 grep -q "free-space guard: resuming" "$T/daemon.log"
check "the group completes, retries still 0" wait_for 60 is \
	"SELECT state || '/' || retries FROM groups" "completed/0"
check "same daemon process" kill -0 "$D1"
stop_daemon
umount "$T/prod" && MNTS=
rm -rf "$T/state" "$T/prod" "$T/in"/* "$T/notify.log"

# --- 2. state_dir full at the completion commit ---
mkdir -p "$T/state"
mount -t tmpfs -o size=16m tmpfs "$T/state" && MNTS="$T/state"
write_conf "stages = load, convert, export" "threads = 1" "[debug]" "stage_delay_s = 3" \
	"[housekeeping]" "min_free_state_gb = 0"
make_group "$REF1" $A 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
SOCK="$T/notify.sock"
"$T/daemon_tools" notify "$SOCK" "$T/notify.log" 150 &
LPID=$!
wait_for 5 test -S "$SOCK"
NOTIFY_SOCKET="$SOCK" start_daemon --enable-fault-injection
D2=$DPID
check "daemon became ready (state_dir a 16 MB tmpfs)" wait_for 10 grep -q "ready:" "$T/daemon.log"
mv "$T"/stage/*.hdf5 "$T/in/"
check "group reached its last stage (export)" wait_for 30 is \
	"SELECT stage FROM groups WHERE state = 'in_progress'" export
left=$(fill "$T/state" 0)
echo "# state_dir filled: ${left} kB left; WAL $(stat -c %s "$T/state/contimg.sqlite-wal" 2>/dev/null) bytes"
check "recording the end fails with 'database or disk is full' and is retried" \
	wait_for 40 grep -q "cannot record the end of the run (attempt 2): .*database or disk is full" "$T/daemon.log"
grep "cannot record the end of the run" "$T/daemon.log" | head -2 | sed 's/^/# /'
check "STATUS= shows the group whose end is being retried" \
	grep -q "^STATUS=.*running: $G (end not recorded, retry [0-9]*: .*full" "$T/notify.log"
check "still in_progress while the disk is full (not lost, not failed)" \
	is "SELECT state || '/' || retries FROM groups" "in_progress/0"
rm -f "$T/state/filler"
check "space freed: the group completes without a restart" wait_for 70 is \
	"SELECT state || '/' || retries || '/' || runs FROM groups" "completed/0/1"
check "... its product recorded" is "SELECT count(*) FROM products" 1
check "the end was recorded after failed attempts (log)" \
	grep -q "end of the run recorded after [0-9]* failed attempts" "$T/daemon.log"
check "same daemon process" kill -0 "$D2"
stop_daemon
kill "$LPID" 2>/dev/null
wait "$LPID" 2>/dev/null
exit 0
