#!/bin/sh
# Retention by `contimgctl housekeeping` (issue 16 item 7; daemon/housekeeping.h):
# a small state with completed groups finished long ago, a young one, a
# calibrator group, a pending and a failed group (all old):
#  - --dry-run --json lists exactly the expected files and deletes nothing;
#  - the real run deletes them; pending, failed and young groups' files,
#    the calibrator group's raw files and the kept products survive;
#  - requeue of a group whose raw files are gone refuses and says why;
#  - raw_action = move moves to raw_move_to/YYYY-MM-DD/ and records it;
#  - retention off (the default) lists nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_common.inc"

PY=/usr/bin/python3
write_conf "[housekeeping]" "raw_keep_days = 30" "calibrator_raw_keep_days = 90" \
	"products_keep_days = 30" "products_keep = image, pbcor" \
	"min_free_incoming_gb = 0" "min_free_products_gb = 0" "min_free_state_gb = 0"
mkdir -p "$T/in" "$T/prod"
# Six groups of 16 subbands (empty files: registration reads only names and
# sizes), ten minutes apart: A, B (young), E (calibrator), C (pending), D
# (failed), F (completed, its files also... plain old).
BASE=1767225600  # 2026-01-01T00:00:00
i=0
for g in A B E C D F; do
	ts=$(stamp $BASE $((i * 600)))
	eval "G_$g=$ts"
	for sb in $(seq 0 15); do
		printf 'raw %s %s\n' "$g" "$sb" >"$T/in/${ts}_sb$(printf %02d "$sb").hdf5"
	done
	i=$((i + 1))
done
$CTL ingest "$T/in" >"$T/ingest.out" 2>&1
check "six groups registered and pending" is "SELECT count(*) FROM groups WHERE state = 'pending'" 6
NOW=$(date +%s)
OLD=$((NOW - 40 * 86400))
YOUNG=$((NOW - 5 * 86400))
q "UPDATE groups SET state = 'completed', finished_at = $OLD WHERE name IN ('$G_A', '$G_E', '$G_F')"
q "UPDATE groups SET state = 'completed', finished_at = $YOUNG WHERE name = '$G_B'"
q "UPDATE groups SET state = 'failed', finished_at = $OLD, error = 'x' WHERE name = '$G_D'"
q "UPDATE groups SET finished_at = $OLD WHERE name = '$G_C'"
# Products of A, B, E, D: image, residual, psf (files in products_dir).
for g in A B E D; do
	eval "name=\$G_$g"
	d="$T/prod/$(echo "$name" | cut -c1-10)/$name"
	mkdir -p "$d"
	for p in image residual psf; do
		head -c 4096 /dev/zero >"$d/$p.fits"
		q "INSERT INTO products (group_id, name, path, created_at) SELECT id, '$p', '$d/$p.fits', $OLD FROM groups WHERE name = '$name'"
	done
done
# E solved a bandpass: a calibrator transit.
q "INSERT INTO caltables (type, path, calibrator, source_group, obs_mjd, valid_start_mjd, valid_end_mjd, created) VALUES ('B', '$T/prod/caltables/${G_E}_0834+555_B.h5', '0834+555', '$G_E', 61041, 61040, 61042, $OLD)"

# The expected set: A's and F's 16 raw files, A's and E's residual and psf.
{
	for g in A F; do
		eval "name=\$G_$g"
		for sb in $(seq 0 15); do echo "$T/in/${name}_sb$(printf %02d "$sb").hdf5"; done
	done
	for g in A E; do
		eval "name=\$G_$g"
		d="$T/prod/$(echo "$name" | cut -c1-10)/$name"
		echo "$d/residual.fits"
		echo "$d/psf.fits"
	done
} | sort >"$T/expected"
ls -R "$T/in" "$T/prod" | md5sum >"$T/tree0"

$CTL housekeeping --dry-run --json >"$T/dry.json" 2>"$T/dry.err"
rc=$?
check "housekeeping --dry-run: exit 0" [ "$rc" = 0 ]
"$PY" - "$T/dry.json" >"$T/listed" <<'EOF'
import json, sys
o = json.load(open(sys.argv[1]))
assert o["dry_run"] is True and o["retention"] is True
for a in o["actions"]:
    print(a["path"])
EOF
sort -o "$T/listed" "$T/listed"
check "the dry run lists exactly the expected $(wc -l <"$T/expected") files" cmp "$T/expected" "$T/listed"
diff "$T/expected" "$T/listed" | head -5 | sed 's/^/# /'
check "... each with its rule and size" "$PY" -c "
import json, sys
o = json.load(open('$T/dry.json'))
ok = all(a['why'].startswith(('raw_keep_days = 30: completed 40.0 days', 'products_keep_days = 30: completed 40.0 days')) and a['bytes'] > 0 for a in o['actions'])
ok = ok and o['total_bytes'] == sum(a['bytes'] for a in o['actions'])
ok = ok and [p['name'] for p in o['paths']] == ['incoming_dir', 'products_dir', 'state_dir', 'scratch_dir']
sys.exit(0 if ok else 1)"
check "... and deletes nothing" sh -c "ls -R '$T/in' '$T/prod' | md5sum | cmp -s - '$T/tree0'"
check "... records nothing" is "SELECT count(*) FROM retention_removed" 0
$CTL housekeeping --dry-run >"$T/dry.txt" 2>&1
check "the text dry run says 'would delete' and the totals" sh -c \
	"grep -q '^would delete ' '$T/dry.txt' && grep -q 'dry run: 36 action(s)' '$T/dry.txt'"
sed -n '1,5p' "$T/dry.txt" | sed 's/^/# /'

# --- the real run ---
$CTL housekeeping --json >"$T/run.json" 2>"$T/run.err"
rc=$?
check "housekeeping: exit 0" [ "$rc" = 0 ]
check "... 36 done, none failed" "$PY" -c "
import json, sys
o = json.load(open('$T/run.json'))
sys.exit(0 if (o['done'], o['failed'], o['skipped']) == (36, 0, 0) else 1)"
gone=0
while read -r p; do [ -e "$p" ] || gone=$((gone + 1)); done <"$T/expected"
check "every listed file is gone ($gone of 36)" [ "$gone" = 36 ]
survive() {
	for g in "$@"; do
		eval "name=\$G_$g"
		for sb in $(seq 0 15); do
			[ -e "$T/in/${name}_sb$(printf %02d "$sb").hdf5" ] || return 1
		done
	done
}
check "raw files of the pending (C), failed (D) and young (B) groups survive" survive C D B
check "raw files of the calibrator group (E, 40 of 90 days) survive" survive E
check "kept products (image) and the failed group's products survive" sh -c \
	"ls '$T'/prod/*/*/image.fits | wc -l | grep -qx 4 && [ -e '$T/prod/$(echo "$G_D" | cut -c1-10)/$G_D/residual.fits' ]"
check "removals recorded (32 raw, 4 products)" is \
	"SELECT sum(kind = 'raw') || '/' || sum(kind = 'product') FROM retention_removed" "32/4"
check "a retention event on A and F" is \
	"SELECT count(*) FROM group_events WHERE kind = 'retention' AND message LIKE 'retention: 16 raw file(s)%deleted%'" 2
$CTL show "$G_A" >"$T/show.txt" 2>&1
check "show A lists the retention event" grep -q "retention: 16 raw file(s)" "$T/show.txt"

$CTL requeue "$G_A" >"$T/rq.out" 2>"$T/rq.err"
rc=$?
sed 's/^/# requeue: /' "$T/rq.err"
check "requeue of A: exit 2, raw files removed by retention" sh -c \
	"[ $rc = 2 ] && grep -q 'raw subband files were removed by retention' '$T/rq.err'"
check "... A stays completed" is "SELECT state FROM groups WHERE name = '$G_A'" completed
$CTL housekeeping --dry-run --json >"$T/dry2.json"
check "a second dry run finds nothing left" "$PY" -c "
import json, sys; sys.exit(0 if json.load(open('$T/dry2.json'))['actions'] == [] else 1)"

# --- move: the calibrator group after 100 days, to raw_move_to/YYYY-MM-DD/ ---
write_conf "[housekeeping]" "raw_keep_days = 30" "calibrator_raw_keep_days = 90" \
	"raw_action = move" "raw_move_to = $T/archive"
q "UPDATE groups SET finished_at = $((NOW - 100 * 86400)) WHERE name = '$G_E'"
$CTL housekeeping >"$T/move.txt" 2>&1
rc=$?
check "move run: exit 0" [ "$rc" = 0 ]
DAY=$(echo "$G_E" | cut -c1-10)
check "the calibrator group's 16 raw files are in raw_move_to/$DAY/" sh -c \
	"[ \$(ls '$T/archive/$DAY' | grep -c '^${G_E}_sb') = 16 ] && ! ls '$T/in' | grep -q '^${G_E}_'"
check "... with their content" grep -q "raw E 7" "$T/archive/$DAY/${G_E}_sb07.hdf5"
check "... recorded as moves with the destination" is \
	"SELECT count(*) FROM retention_removed WHERE action = 'move' AND dest LIKE '$T/archive/$DAY/%'" 16
$CTL requeue "$G_E" >/dev/null 2>"$T/rq2.err"
check "requeue of E says the files were moved" grep -q "moved.*moved back" "$T/rq2.err"

# --- the daemon's own pass (at start-up, then every interval_s) ---
# F2: one more completed group finished 40 days ago; C (pending) and D
# (failed) are still there and must keep their files.
F2=$(stamp $BASE 3600)
for sb in $(seq 0 15); do printf 'raw F2 %s\n' "$sb" >"$T/in/${F2}_sb$(printf %02d "$sb").hdf5"; done
$CTL ingest "$T/in" >/dev/null 2>&1
q "UPDATE groups SET state = 'completed', finished_at = $OLD WHERE name = '$F2'"
write_conf "stages = load" "[housekeeping]" "raw_keep_days = 30" "calibrator_raw_keep_days = 90" \
	"min_free_incoming_gb = 0" "min_free_products_gb = 0" "min_free_state_gb = 0"
start_daemon
check "the daemon's retention pass removes F2's raw files" wait_for 30 sh -c \
	"! ls '$T/in' | grep -q '^${F2}_'"
check "... and logs it" wait_for 10 grep -q "retention: 16 file(s) or scratch directories removed" "$T/daemon.log"
grep "retention:" "$T/daemon.log" | head -2 | sed 's/^/# /'
check "... the pending and failed groups' raw files survive the daemon's pass" survive C D
stop_daemon

# --- the default: retention off, nothing listed ---
write_conf
q "DELETE FROM retention_removed"
$CTL housekeeping --dry-run --json >"$T/off.json"
check "retention off by default: nothing listed" "$PY" -c "
import json, sys; o = json.load(open('$T/off.json')); sys.exit(0 if o['actions'] == [] and o['retention'] is False else 1)"
exit 0
