#!/bin/sh
# Two interleaved groups arriving out of order with jittered timing (±40 s of
# arrival jitter, compressed to milliseconds) and jittered file-name stamps
# → exactly two correct groups, both completed, named by their earliest file.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_common.inc"

write_conf "stages = load" "[ingest]" "workers = 2"   # grouping is under test, not the stages
A=1772344154          # 2026-03-01T05:49:14
B=$((A + 300))        # the next 5-minute group
# File-name stamps: up to 40 s after the group start, as correlator nodes open
# their files (within the 60 s tolerance of the earliest).
make_group "$REF1" $A 3 0 17 40 25 8 11 19 6 2 22 14 9 5 1 13
make_group "$REF2" $B 0 21 4 33 12 38 7 16 29 2 10 26 5 19 8 35
start_daemon
check "daemon became ready" wait_for 10 grep -q "ready:" "$T/daemon.log"

# Arrival order: each file's nominal time (group start + its stamp offset) plus
# a pseudo-random ±40 s jitter; the two groups overlap.  Moving into the
# ingest directory is how the correlator delivers (IN_MOVED_TO).
i=0
for f in "$T"/stage/*.hdf5; do
	n=$(basename "$f")
	t=$(date -u -d "$(echo "$n" | cut -c1-19)" +%s)
	j=$(( (i * 37 + 11) % 81 - 40 ))
	echo "$(( t - A + j + 100 )) $n"
	i=$((i + 1))
done | sort -n | awk '{print $2}' >"$T/order"
k=0
while read -r n; do
	mv "$T/stage/$n" "$T/in/$n"
	k=$((k + 1))
	[ $((k % 4)) = 0 ] && sleep 0.05
done <"$T/order"

check "both groups completed" wait_for 30 is "SELECT count(*) FROM groups WHERE state = 'completed'" 2
check "exactly two groups" is "SELECT count(*) FROM groups" 2
check "each processed once by the two workers" is "SELECT sum(runs) FROM groups" 2
check "group A named by its earliest file" is "SELECT name FROM groups ORDER BY t_first LIMIT 1" "2026-03-01T05:49:14"
check "group B named by its earliest file" is "SELECT name FROM groups ORDER BY t_first DESC LIMIT 1" "2026-03-01T05:54:14"
check "32 files, 16 per group, none duplicate" is \
	"SELECT group_concat(c) FROM (SELECT count(DISTINCT subband) c FROM subband_files WHERE status = 'ok' GROUP BY group_id)" "16,16"
check "every file of group A from the cal group" is \
	"SELECT count(*) FROM subband_files f JOIN groups g ON g.id = f.group_id WHERE g.name = '2026-03-01T05:49:14'" 16
tools
$CTL groups --json >"$T/groups.json"
check "groups --json parses and lists 2" [ "$("$T/daemon_tools" json "$T/groups.json" "#")" = 2 ]
check "groups --json: no missing subbands" [ "$("$T/daemon_tools" json "$T/groups.json" 0.missing)" = "[ ]" -o "$("$T/daemon_tools" json "$T/groups.json" 0.missing)" = "[]" ]
check "groups --json: n_subbands 16" [ "$("$T/daemon_tools" json "$T/groups.json" 1.n_subbands)" = 16 ]
stop_daemon
check "SIGTERM exit status 0" [ "$DRC" = 0 ]
exit 0
