#!/bin/sh
# The free-space guard (issue 16 item 7; daemon/housekeeping.h):
#  1. a daemon whose products_dir threshold is above the free space pauses:
#     the log, STATUS= and `contimgctl status` (text and --json) say why; a
#     pending group stays pending with no attempt consumed; a group whose
#     files arrive meanwhile is not registered;
#  2. SIGHUP with a lower threshold resumes: the files that arrived while
#     paused are registered by the rescan at resume, both groups complete
#     with no retry counted, STATUS= and status no longer say paused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_common.inc"

tools || { fail "cannot build the listener"; exit 0; }
A=1772344154
B=$((A + 3600))
GA=$(stamp $A 0)
GB=$(stamp $B 0)
HUGE=1000000
write_conf "stages = load, convert, export" "threads = 1" "[housekeeping]" \
	"min_free_products_gb = $HUGE" "guard_interval_s = 1"
# Group A is registered (pending) before the daemon starts.
make_group "$REF1" $A 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
mv "$T"/stage/*.hdf5 "$T/in/"
$CTL ingest "$T/in" >/dev/null 2>&1
check "group A pending before the start" is "SELECT state || '/' || retries FROM groups" "pending/0"

SOCK="$T/notify.sock"
"$T/daemon_tools" notify "$SOCK" "$T/notify.log" 120 &
LPID=$!
wait_for 5 test -S "$SOCK"
NOTIFY_SOCKET="$SOCK" start_daemon
D1=$DPID
check "daemon became ready" wait_for 10 grep -q "ready:" "$T/daemon.log"
check "the log says it pauses and why" \
	grep -q "free-space guard: pausing intake and claims: products_dir free [0-9.]* GB < 1e+06 GB" "$T/daemon.log"
grep "free-space guard" "$T/daemon.log" | head -2 | sed 's/^/# /'
check "STATUS= says paused and why" wait_for 10 \
	grep -q "^STATUS=paused: products_dir free [0-9.]* GB < 1e+06 GB; 1 pending" "$T/notify.log"
grep "^STATUS=paused" "$T/notify.log" | head -1 | sed 's/^/# /'
check "contimgctl status --json: housekeeping.paused with the reason" wait_for 10 sh -c \
	"$CTL status --json >'$T/st.json' && '$T/daemon_tools' json '$T/st.json' housekeeping.paused | grep -qx true && '$T/daemon_tools' json '$T/st.json' housekeeping.reason | grep -q 'products_dir free .* < 1e+06 GB'"
$CTL status >"$T/st.txt" 2>&1
check "contimgctl status (text) says paused and why" \
	grep -q "^paused: .*products_dir free .* GB < 1e+06 GB" "$T/st.txt"
grep -E "^(paused|disk):" "$T/st.txt" | sed 's/^/# /'
check "... and shows products_dir BELOW its threshold" \
	grep -q "^disk: *products_dir .*(pause below 1e+06 GB) BELOW" "$T/st.txt"
# Group B's files arrive while paused: not registered.
make_group "$REF1" $B 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
mv "$T"/stage/*.hdf5 "$T/in/"
sleep 4
check "while paused: A still pending, no attempt consumed, not run" is \
	"SELECT state || '/' || retries || '/' || runs || '/' || coalesce(started_at, 'never') FROM groups WHERE name = '$GA'" \
	"pending/0/0/never"
check "while paused: B's files are not registered" is "SELECT count(*) FROM groups" 1

# --- resume by reload with a lower threshold ---
write_conf "stages = load, convert, export" "threads = 1" "[housekeeping]" \
	"min_free_products_gb = 0.001" "guard_interval_s = 1"
kill -HUP "$DPID"
check "the log says it resumes" wait_for 10 grep -q "free-space guard: resuming intake and claims" "$T/daemon.log"
check "B registered by the rescan at resume" wait_for 20 is "SELECT count(*) FROM groups" 2
check "both groups complete" wait_for 90 is "SELECT count(*) FROM groups WHERE state = 'completed'" 2
check "... with no retry counted" is "SELECT sum(retries) || '/' || sum(runs) FROM groups" "0/2"
check "same daemon process" kill -0 "$D1"
check "STATUS= no longer paused" sh -c "tail -1 '$T/notify.log' | grep -q '^STATUS=' && ! grep '^STATUS=' '$T/notify.log' | tail -1 | grep -q paused"
$CTL status --json >"$T/st2.json"
check "contimgctl status --json: not paused" sh -c \
	"'$T/daemon_tools' json '$T/st2.json' housekeeping.paused | grep -qx false"
stop_daemon
kill "$LPID" 2>/dev/null
wait "$LPID" 2>/dev/null
exit 0
