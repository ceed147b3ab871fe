#!/bin/sh
# A year of history must not slow rescans down (issue 16 item 2).  20 000
# subband files (1 250 groups) lie in the ingest directory, all registered
# and completed.  The state database holds 1 250 groups, then a year's worth
# (105 000 groups x 16 files, built with one bulk SQL fixture: the rows are
# what queue_add_file writes, see state/db.c).  A rescan of the 20 000 known
# files is timed with each: the cost per known file is one lstat() and one
# indexed look-up, so the ratio must stay flat (< 2x).  The scan runs off the
# event loop: READY ("ready:" in the log) comes before the start-up scan ends.
# Prints the measured times as TAP comments.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_common.inc"

A=1772344154          # 2026-03-01T05:49:14Z, the first group
MT=1772000000         # the files' mtime (whole seconds: stored exactly)
NDISK=1250            # groups whose files are on disk: 20 000 files
NYEAR=105000          # a year at one group per 300 s
write_conf "stages = load" "[log]" "level = info"

# Schema: the daemon creates and migrates the database.
start_daemon
check "daemon starts on an empty directory" wait_for 20 grep -q "ready:" "$T/daemon.log"
stop_daemon

# The 20 000 files (empty: only names, sizes and mtimes matter to a rescan).
sqlite3 :memory: "WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < $NDISK - 1),
	s(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM s WHERE k < 15)
	SELECT strftime('%Y-%m-%dT%H:%M:%S', $A + 300 * i, 'unixepoch') || printf('_sb%02d.hdf5', k)
	FROM g, s" >"$T/names"
( cd "$T/in" && xargs touch -d "@$MT" <"$T/names" )
check "20 000 files on disk" [ "$(ls "$T/in" | wc -l)" = 20000 ]

# fixture FROM TO: groups FROM..TO-1 (completed, 16 files each); the files
# of the first NDISK groups are the ones in the ingest directory.
fixture() {
	q "WITH RECURSIVE g(i) AS (SELECT $1 UNION ALL SELECT i + 1 FROM g WHERE i < $2 - 1)
	   INSERT INTO groups (name, t_first, state, n_expected, runs, created_at, updated_at,
	                       finished_at)
	   SELECT strftime('%Y-%m-%dT%H:%M:%S', $A + 300 * i, 'unixepoch'), $A + 300 * i,
	          'completed', 16, 1, $A + 300 * i, $A + 300 * i, $A + 300 * i FROM g;
	   WITH RECURSIVE s(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM s WHERE k < 15)
	   INSERT INTO subband_files (group_id, path, subband, ts, size, mtime, status, added_at)
	   SELECT id, CASE WHEN t_first < $A + 300 * $NDISK THEN '$T/in/' ELSE '/archive/' END
	              || name || printf('_sb%02d.hdf5', k), k, t_first, 0, $MT, 'ok', t_first
	   FROM groups, s WHERE t_first >= $A + 300 * $1 ORDER BY t_first, k;
	   SELECT count(*) FROM groups;"
}

# scan_times LABEL: start the daemon, wait for the start-up scan, then three
# SIGUSR1 rescans; prints "STARTUP MEDIAN" (seconds) of the scans' own timing.
scan_times() {
	: >"$T/daemon.log"
	start_daemon
	wait_for 120 grep -q "rescan (start-up):" "$T/daemon.log" || { echo "none none"; return; }
	for k in 1 2 3; do
		kill -USR1 "$DPID"
		wait_for 120 sh -c "[ \$(grep -c 'rescan (SIGUSR1):' '$T/daemon.log') -ge $k ]"
	done
	stop_daemon
	su=$(grep "rescan (start-up):" "$T/daemon.log" | sed 's/.* in \([0-9.]*\) s.*/\1/')
	med=$(grep "rescan (SIGUSR1):" "$T/daemon.log" | sed 's/.* in \([0-9.]*\) s.*/\1/' |
		sort -n | sed -n 2p)
	echo "$su $med"
}

fixture 0 $NDISK >/dev/null
check "history of $NDISK groups" is "SELECT count(*) FROM groups" $NDISK
check "every file on disk is registered" is "SELECT count(*) FROM subband_files" 20000
set -- $(scan_times)
S1=$1 M1=$2
echo "# $NDISK groups: start-up scan $S1 s, SIGUSR1 rescan (median of 3) $M1 s of 20000 known files"
check "every file known, none registered again" grep -q "rescan (start-up): 20000 subband files, 20000 known, 0 registered" "$T/daemon.log"
check "READY before the start-up scan ended" sh -c "grep -n 'ready:' '$T/daemon.log' | head -1 | cut -d: -f1 | { read r; s=\$(grep -n 'rescan (start-up):' '$T/daemon.log' | cut -d: -f1); [ \$r -lt \$s ]; }"

t0=$(date +%s.%N)
fixture $NDISK $NYEAR >/dev/null
t1=$(date +%s.%N)
echo "# fixture of $NYEAR groups x 16 files built in $(echo "$t1 - $t0" | bc) s"
check "history of a year: $NYEAR groups" is "SELECT count(*) FROM groups" $NYEAR
check "... and $((NYEAR * 16)) files" is "SELECT count(*) FROM subband_files" $((NYEAR * 16))
set -- $(scan_times)
S2=$1 M2=$2
echo "# $NYEAR groups: start-up scan $S2 s, SIGUSR1 rescan (median of 3) $M2 s of 20000 known files"
check "every file still known" grep -q "rescan (start-up): 20000 subband files, 20000 known, 0 registered" "$T/daemon.log"
ratio=$(echo "scale=3; $M2 / $M1" | bc 2>/dev/null)
echo "# rescan time ratio, $NYEAR vs $NDISK groups: $ratio"
check "rescan cost flat with history (ratio $ratio < 2)" [ "$(echo "$M2 < 2 * $M1" | bc 2>/dev/null)" = 1 ]
# The start-up scan is the first on a cold connection and page cache (a
# 300 MB database after the fixture): reported, the assertion is on the
# median of the warm rescans above.
ratio=$(echo "scale=3; $S2 / $S1" | bc 2>/dev/null)
echo "# start-up scan time ratio (not asserted; cold caches): $ratio"
exit 0
