#!/bin/sh
# Files that arrived while the daemon was down are found by the start-up scan;
# files that land without an inotify event (a hard link makes only IN_CREATE,
# which we do not watch — the same situation as a queue overflow) are found
# by a forced rescan (SIGUSR1) and by the periodic rescan.  Nothing is lost and
# nothing is registered twice.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_common.inc"

A=1772344154
B=$((A + 300))
C=$((A + 600))
write_conf "stages = load"
make_group "$REF1" $A 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
mv "$T"/stage/*.hdf5 "$T/in/"
# Not subband files: must be ignored.
echo x >"$T/in/2026-03-01T05:49:14_sb03_incomplete.hdf5"
echo x >"$T/in/notes.txt"
start_daemon
check "files that arrived while down: group completed" wait_for 20 is "SELECT count(*) FROM groups WHERE state = 'completed'" 1
check "ignored names were not registered" is "SELECT count(*) FROM subband_files" 16

make_group "$REF2" $B 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
for f in "$T"/stage/*.hdf5; do ln "$f" "$T/in/$(basename "$f")"; done
sleep 1.5
check "hard-linked files: no event, not seen yet" is "SELECT count(*) FROM subband_files" 16
kill -USR1 "$DPID"
check "forced rescan finds all 16" wait_for 10 is "SELECT count(*) FROM subband_files" 32
check "second group completed" wait_for 20 is "SELECT count(*) FROM groups WHERE state = 'completed'" 2
rm -f "$T"/stage/*

# A real inotify queue overflow: while the daemon is stopped (SIGSTOP), more
# events than the kernel queues (max_queued_events) pile up, then the group's
# files arrive — their events are dropped, IN_Q_OVERFLOW is queued instead.
D=$((A + 900))
MAXQ=$(cat /proc/sys/fs/inotify/max_queued_events 2>/dev/null || echo 0)
if [ "$MAXQ" -gt 0 ] && [ "$MAXQ" -le 20000 ]; then
	make_group "$REF1" $D 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
	kill -STOP "$DPID"
	# Alternating two names: inotify merges only identical consecutive events.
	( cd "$T/in" && yes "junk_a junk_b" | head -n $((MAXQ / 2 + 100)) | xargs touch )
	mv "$T"/stage/*.hdf5 "$T/in/"
	kill -CONT "$DPID"
	check "IN_Q_OVERFLOW seen" wait_for 20 grep -q "inotify queue overflowed" "$T/daemon.log"
	check "overflow rescan finds the group" wait_for 20 is "SELECT count(*) FROM groups WHERE state = 'completed'" 3
	rm -f "$T/in/junk_a" "$T/in/junk_b"
else
	echo "ok - $NAME: inotify overflow # SKIP max_queued_events=$MAXQ"
fi

# Periodic rescan, switched on by a configuration reload (SIGHUP).
write_conf "stages = load" "[ingest]" "rescan_interval_s = 1"
kill -HUP "$DPID"
check "SIGHUP reloads the configuration" wait_for 5 grep -q "configuration reloaded" "$T/daemon.log"
make_group "$REF1" $C 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
N0=$(q "SELECT count(*) FROM subband_files")
for f in "$T"/stage/*.hdf5; do ln "$f" "$T/in/$(basename "$f")"; done
check "periodic rescan finds them" wait_for 10 is "SELECT count(*) FROM subband_files" $((N0 + 16))
check "that group completed" wait_for 20 is "SELECT count(*) FROM groups WHERE state = 'completed'" "$(q "SELECT count(*) FROM groups")"
check "every group completed once, no duplicates" is "SELECT count(*) FROM groups WHERE runs != 1" 0
stop_daemon
check "exit 0" [ "$DRC" = 0 ]
exit 0
