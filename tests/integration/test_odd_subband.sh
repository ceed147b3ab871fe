#!/bin/sh
# tests/integration/test_odd_subband.sh — one odd subband does not fail the
# group (issue 19 item 5).  Copies of the reference group cal-0834 are
# altered with h5py the way real nodes go wrong, then run through
# `contimgctl process` (load and convert):
#   sb03: every antenna position moved by the same (120, -60, 35) m (a node
#         with another software install): the baselines are the same, used;
#   sb05: every time stamp 0.3 s late (a writer restarted mid-window stamps
#         its own times; below load's 1 s header check): missing, with why;
#   sb09: one antenna 0.5 m away in that file only: missing, with why.
# The group completes with 14 subbands and says so in process --json,
# show --json, groups --json and show's text.  Then: the same 0.3 s in eight
# of the sixteen subbands (no majority) fails with that reason, and with
# min_subbands = 15 the first case fails naming both odd files.
. "$(dirname "$0")/lib.sh"
need_reference "odd subband files on copies of cal-0834"
. "$(dirname "$0")/daemon_common.inc"
PY=/usr/bin/python3
if ! $PY -c 'import numpy, h5py' 2>"$T/py.err"; then
	fail "python3-numpy and python3-h5py are needed (make deps installs them)"
	cat "$T/py.err" >&2
	exit 0
fi
tools || { fail "daemon_tools did not build"; exit 0; }
J() { "$T/daemon_tools" json "$@"; }

A=1772344154
# group NAME BASE: a copy of cal-0834 named for BASE in $T/NAME.
group() {
	mkdir -p "$T/$1"
	for f in "$REF1"/*_sb*.hdf5; do
		sb=${f##*_sb}
		cp "$f" "$T/$1/$(stamp "$2" 0)_sb$sb"
		chmod u+w "$T/$1/$(stamp "$2" 0)_sb$sb"
	done
}
# alter DIR SB WHAT: rewrite one subband file's header in place.
alter() {
	$PY - "$(ls "$1"/*_sb$2.hdf5)" "$3" <<'EOF'
import sys
import h5py
import numpy as np
path, what = sys.argv[1], sys.argv[2]
with h5py.File(path, "r+") as f:
    h = f["Header"]
    if what == "shift":
        h["antenna_positions"][...] = h["antenna_positions"][...] + np.array([120.0, -60.0, 35.0])
    elif what == "late":
        h["time_array"][...] = h["time_array"][...] + 0.3 / 86400
    elif what == "move":
        a = int(h["ant_2_array"][1])
        p = h["antenna_positions"][...]
        p[list(h["antenna_numbers"][...]).index(a), 1] += 0.5
        h["antenna_positions"][...] = p
EOF
}
write_conf "stages = load, convert"

group odd $A
alter "$T/odd" 03 shift
alter "$T/odd" 05 late
alter "$T/odd" 09 move
G=$(stamp $A 0)
$CTL process "$T/odd" --json >"$T/odd.json" 2>"$T/odd.err"
check "one odd group: process exits 0" [ $? = 0 ]
check "process --json: completed" [ "$(J "$T/odd.json" state)" = completed ]
check "process --json: 14 subbands" [ "$(J "$T/odd.json" n_subbands)" = 14 ]
check "process --json: missing [5,9]" [ "$(J "$T/odd.json" missing | tr -d ' \n')" = "[5,9]" ]
$CTL show "$G" --json >"$T/show.json"
check "show --json: sb05 missing for its times, file named" \
	sh -c "'$T/daemon_tools' json '$T/show.json' missing_reasons.5 | grep -q '${G}_sb05.hdf5: disagrees with the majority (14 of 16 subbands agree with ${G}_sb00.hdf5) on the integration times.*0.300 s apart'"
check "show --json: sb09 missing for its baseline vectors" \
	sh -c "'$T/daemon_tools' json '$T/show.json' missing_reasons.9 | grep -q '${G}_sb09.hdf5: disagrees with the majority (14 of 16 subbands agree with ${G}_sb00.hdf5) on the baseline vectors'"
check "show --json: sb03 (all positions shifted) is used" \
	sh -c "! '$T/daemon_tools' json '$T/show.json' missing_reasons.3"
check "show --json: two missing events from convert" \
	[ "$(grep -c '"kind": "missing"' "$T/show.json")" = 2 ]
$CTL groups --json >"$T/groups.json"
check "groups --json: missing_reasons too" \
	sh -c "'$T/daemon_tools' json '$T/groups.json' 0.missing_reasons.9 | grep -q 'baseline vectors'"
check "show (text) names the odd files" \
	sh -c "$CTL show '$G' | grep -q 'missing sb05: ${G}_sb05.hdf5: disagrees with the majority'"
check "the log says why" grep -q "${G}_sb09.hdf5 counts as missing: disagrees with the majority" "$T/odd.err"
for sb in 05 09; do
	sed -n "s/.*\(${G}_sb$sb.hdf5 counts as missing: .*\)/# \1/p" "$T/odd.err" | head -1
done

# Eight of sixteen 0.3 s late: no majority, the group fails and says why.
B=$((A + 600))
group split $B
for sb in 08 09 10 11 12 13 14 15; do alter "$T/split" $sb late; done
$CTL process "$T/split" --json >"$T/split.json" 2>"$T/split.err"
check "8 against 8: process exits 4" [ $? = 4 ]
check "8 against 8: failed" [ "$(J "$T/split.json" state)" = failed ]
check "8 against 8: the error says there is no majority" \
	sh -c "'$T/daemon_tools' json '$T/split.json' error | grep -q 'no majority of the 16 agrees: the largest agreeing set is 8'"
check "8 against 8: not retried (bad input)" is "SELECT state || ' ' || retries FROM groups WHERE name = '$(stamp $B 0)'" "failed 1"
echo "# $(J "$T/split.json" error)"

# min_subbands = 15 with the two odd subbands: fails naming both.
C=$((A + 1200))
group odd15 $C
alter "$T/odd15" 05 late
alter "$T/odd15" 09 move
$CTL process "$T/odd15" --json --set ingest.min_subbands=15 >"$T/odd15.json" 2>"$T/odd15.err"
check "min_subbands 15: process exits 4" [ $? = 4 ]
check "min_subbands 15: the error names both odd subbands" \
	sh -c "'$T/daemon_tools' json '$T/odd15.json' error | grep -q '14 good subbands of 16 (min_subbands 15).*sb05 disagrees.*sb09 disagrees'"
exit 0
