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
stop_daemon
check "min 15: daemon exit 0" [ "$DRC" = 0 ]
