#!/bin/sh
# A corrupt subband: with min_subbands = 16 its group fails with a reason
# naming the file; with min_subbands = 15 it completes with the file named as
# missing.  The next group succeeds either way.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_common.inc"

A=1772344154
B=$((A + 300))
BAD=$(stamp $A 0)_sb07.hdf5
run_case() { # min_subbands
	rm -rf "$T/state" "$T/prod" "$T/in" "$T/stage"
	write_conf "stages = load" "[ingest]" "min_subbands = $1" "max_retries = 2"
	make_group "$REF1" $A 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
	make_group "$REF2" $B 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
	# Garbage where an HDF5 file should be (not even a superblock).
	head -c 300000 /dev/urandom >"$T/stage/$BAD"
	start_daemon
	wait_for 10 grep -q "ready:" "$T/daemon.log"
	mv "$T"/stage/*.hdf5 "$T/in/"
	wait_for 20 is "SELECT count(*) FROM groups WHERE state IN ('completed','failed')" 2
}

run_case 16
check "min 16: corrupt group failed" is "SELECT state FROM groups WHERE name = '$(stamp $A 0)'" failed
check "min 16: the reason names the file" \
	sh -c "sqlite3 '$DB' \"SELECT error FROM groups WHERE name = '$(stamp $A 0)'\" | grep -q '$BAD'"
check "min 16: failed at once (bad input is not retried)" is "SELECT retries FROM groups WHERE name = '$(stamp $A 0)'" 1
check "min 16: next group completed" is "SELECT state FROM groups WHERE name = '$(stamp $B 0)'" completed
check "min 16: file marked bad" is "SELECT status FROM subband_files WHERE path LIKE '%$BAD'" bad
stop_daemon
check "min 16: daemon exit 0" [ "$DRC" = 0 ]

run_case 15
check "min 15: corrupt group completed" is "SELECT state FROM groups WHERE name = '$(stamp $A 0)'" completed
check "min 15: next group completed" is "SELECT state FROM groups WHERE name = '$(stamp $B 0)'" completed
tools
$CTL show "$(stamp $A 0)" --json >"$T/show.json"
check "show --json: missing is [7]" [ "$("$T/daemon_tools" json "$T/show.json" missing)" = "[7]" ]
check "show --json: reason names the file" sh -c "'$T/daemon_tools' json '$T/show.json' missing_reasons.7 | grep -q '$BAD'"
check "show --json: 15 subbands" [ "$("$T/daemon_tools" json "$T/show.json" n_subbands)" = 15 ]
check "show (text) names the missing file" sh -c "$CTL show '$(stamp $A 0)' | grep -q 'missing sb07: $BAD'"

# A group whose sb11 never arrives: processed after collect_timeout_s (3 s)
# with the absent subband recorded.
C=$((A + 600))
make_group "$REF1" $C 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
rm "$T/stage/$(stamp $C 0)_sb11.hdf5"
mv "$T"/stage/*.hdf5 "$T/in/"
check "15 of 16: collecting until the timeout" wait_for 2 is "SELECT state FROM groups WHERE name = '$(stamp $C 0)'" collecting
check "15 of 16: completed after the collect timeout" wait_for 15 is "SELECT state FROM groups WHERE name = '$(stamp $C 0)'" completed
check "15 of 16: absent subband recorded" is "SELECT count(*) FROM group_events e JOIN groups g ON g.id = e.group_id WHERE g.name = '$(stamp $C 0)' AND e.kind = 'missing' AND e.message LIKE '%sb11%'" 1
check "show: sb11 absent" sh -c "$CTL show '$(stamp $C 0)' --json | '$T/daemon_tools' json - missing_reasons.11 | grep -qx absent"
stop_daemon
check "min 15: daemon exit 0" [ "$DRC" = 0 ]
exit 0
