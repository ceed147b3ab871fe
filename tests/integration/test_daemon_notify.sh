#!/bin/sh
# The sd_notify protocol: READY=1 after start-up, STATUS= with the queue,
# WATCHDOG=1 while workers progress, STOPPING=1 on SIGTERM — received on a
# NOTIFY_SOCKET this test listens on.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_common.inc"

tools || { fail "cannot build the listener"; exit 0; }
A=1772344154
write_conf "stages = load, convert" "[debug]" "stage_delay_s = 0.5"
make_group "$REF1" $A 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
SOCK="$T/notify.sock"
"$T/daemon_tools" notify "$SOCK" "$T/notify.log" 8 &
LPID=$!
wait_for 5 test -S "$SOCK"
NOTIFY_SOCKET="$SOCK" WATCHDOG_USEC=400000 start_daemon --log-format json --enable-fault-injection
check "READY=1 received" wait_for 5 grep -qx "READY=1" "$T/notify.log"
mv "$T"/stage/*.hdf5 "$T/in/"
check "group completed" wait_for 20 is "SELECT state FROM groups" completed
check "WATCHDOG=1 received" wait_for 5 grep -qx "WATCHDOG=1" "$T/notify.log"
check "STATUS= names the queue" grep -q "^STATUS=.*pending.*running" "$T/notify.log"
check "STATUS= showed a running group" grep -q "^STATUS=.*running: 2026-03-01T05:49:14" "$T/notify.log"
kill -TERM "$DPID"
wait "$DPID"
DRC=$?
DPID=
check "exit 0" [ "$DRC" = 0 ]
check "STOPPING=1 received" wait_for 3 grep -qx "STOPPING=1" "$T/notify.log"
check "READY=1 came before STOPPING=1" sh -c "grep -nx 'READY=1' '$T/notify.log' | head -1 | cut -d: -f1 | { read r; s=\$(grep -nx 'STOPPING=1' '$T/notify.log' | cut -d: -f1); [ \$r -lt \$s ]; }"
# --log-format json: every line one object; stage lines carry group_id and stage.
bad=0
while read -r line; do
	printf '%s' "$line" | "$T/daemon_tools" json - >/dev/null || bad=$((bad + 1))
done <"$T/daemon.log"
check "--log-format json: every log line parses" [ $bad = 0 ]
check "--log-format json: structured group/stage fields" grep -q '"group_id":"2026-03-01T05:49:14","stage":"convert"' "$T/daemon.log"
kill "$LPID" 2>/dev/null
wait "$LPID" 2>/dev/null
exit 0
