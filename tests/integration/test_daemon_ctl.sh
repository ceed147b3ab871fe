#!/bin/sh
# contimgctl without a daemon: process (foreground pipeline on one group, same
# DB), ingest (backfill), groups filters, exit codes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_common.inc"

tools
A=1772344154
B=$((A + 300))
write_conf "stages = load, convert, export" "export_vis = false"
make_group "$REF1" $A 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
mkdir -p "$T/g1" "$T/g2"
mv "$T"/stage/*.hdf5 "$T/g1/"

$CTL process "$T/g1" --json --export-vis >"$T/p.json" 2>"$T/p.err"
rc=$?
check "process: exit 0" [ $rc = 0 ]
check "process --json parses" "$T/daemon_tools" json "$T/p.json"
check "process: completed" [ "$("$T/daemon_tools" json "$T/p.json" state)" = completed ]
check "process: group id" [ "$("$T/daemon_tools" json "$T/p.json" group_id)" = 2026-03-01T05:49:14 ]
check "process: calibrated is a boolean" [ "$("$T/daemon_tools" json "$T/p.json" calibrated)" = false ]
check "process: stages has load and convert" sh -c "'$T/daemon_tools' json '$T/p.json' stages.load && '$T/daemon_tools' json '$T/p.json' stages.convert"
check "process --export-vis: vis product exists" test -s "$("$T/daemon_tools" json "$T/p.json" products.vis)"
check "process: same DB records the run" is "SELECT state || ' ' || runs FROM groups" "completed 1"
check "process: stage timings recorded" is "SELECT count(*) FROM stage_timings WHERE ok = 1" 3

# Processing the same group again replaces, never duplicates.
$CTL process "$T"/g1/*.hdf5 --json >"$T/p2.json" 2>/dev/null
check "process again: still one group, two runs" is "SELECT count(*) || ' ' || runs FROM groups" "1 2"
check "process again without --export-vis: no stale vis product" is "SELECT count(*) FROM products" 0
check "process again: timings of the latest run only" is "SELECT group_concat(stage) FROM (SELECT stage FROM stage_timings ORDER BY stage)" "convert,load"

# ingest: backfill from another directory; a full group becomes pending.
make_group "$REF2" $B 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
mv "$T"/stage/*.hdf5 "$T/g2/"
$CTL ingest "$T/g2" --json >"$T/i.json"
check "ingest: exit 0" [ $? = 0 ]
check "ingest --json: 16 new" [ "$("$T/daemon_tools" json "$T/i.json" new)" = 16 ]
check "ingest: group pending" is "SELECT state FROM groups WHERE name = '$(stamp $B 0)'" pending
$CTL ingest "$T/g2" >/dev/null
check "ingest again: no new rows" is "SELECT count(*) FROM subband_files" 32
check "ingest a bad name: exit 2" sh -c "echo x > '$T/junk.hdf5'; $CTL ingest '$T/junk.hdf5'; [ \$? = 2 ]"
check "ingest a missing path: exit 2" sh -c "$CTL ingest '$T/nonexistent'; [ \$? = 2 ]"

$CTL groups --state pending --json >"$T/g.json"
check "groups --state pending: one" [ "$("$T/daemon_tools" json "$T/g.json" "#")" = 1 ]
check "groups entries have the contract keys" sh -c "for k in group_id state n_subbands missing retries error; do '$T/daemon_tools' json '$T/g.json' 0.\$k >/dev/null || exit 1; done"
$CTL groups --since 2026-03-01T05:50:00 --json >"$T/g.json"
check "groups --since" [ "$("$T/daemon_tools" json "$T/g.json" 0.group_id)" = "$(stamp $B 0)" ]
$CTL groups --limit 1 --json >"$T/g.json"
check "groups --limit 1" [ "$("$T/daemon_tools" json "$T/g.json" "#")" = 1 ]
check "groups --state bogus: exit 2" sh -c "$CTL groups --state bogus; [ \$? = 2 ]"
check "unknown option: exit 2" sh -c "$CTL groups --frobnicate; [ \$? = 2 ]"

# process: files of two groups at once is bad usage; a corrupt-only input fails (4).
check "process two groups: exit 2" sh -c "$CTL process '$T/g1' '$T/g2' 2>/dev/null; [ \$? = 2 ]"
mkdir -p "$T/g3"
for sb in 00 01; do head -c 1000 /dev/urandom >"$T/g3/$(stamp $((A + 900)) 0)_sb$sb.hdf5"; done
check "process corrupt group: exit 4" sh -c "$CTL process '$T/g3' 2>/dev/null; [ \$? = 4 ]"
check "corrupt group failed in DB" is "SELECT state FROM groups WHERE name = '$(stamp $((A + 900)) 0)'" failed
check "status without a daemon: exit 0" sh -c "$CTL status --json | '$T/daemon_tools' json - daemon.running | grep -qx false"
check "missing explicit config: exit 2" sh -c "$BIN/contimgctl --config '$T/none.conf' status; [ \$? = 2 ]"
rm -rf "$T/state"
check "no state DB: status exit 3" sh -c "$CTL status; [ \$? = 3 ]"
exit 0
