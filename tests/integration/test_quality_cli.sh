#!/bin/sh
# contimgctl quality: the epoch quality records of real runs.  contimg-sim
# writes four small daily groups of the 0834+555 field (six 1 Jy references
# around the calibrator); `contimgctl process` runs the first three, the
# second with [photometry] quality_min_dynamic_range = 1e6 (--set), which no
# image of this field reaches, so it fails the dynamic-range check and only
# it; the fourth is only ingested (a group without a quality record).  The
# listing, --failed, --since, --limit and GROUP are checked against what
# sqlite3 reads from epoch_quality, number for number.
. "$(dirname "$0")/lib.sh"
CTL="$BIN/contimgctl --config $T/contimg.conf"
PY=/usr/bin/python3
DB=$T/state/contimg.sqlite
CAL_RA=128.72876715
CAL_DEC=55.57251971
mkdir -p "$T/state" "$T/prod" "$T/in" "$T/sim"
# baseline_epochs = 1: the references' baselines are ready after one epoch,
# so the second and third epochs are normalised (correction, clipped
# fraction, references) and final (no provisional bit).
cat >"$T/contimg.conf" <<CONF
[paths]
state_dir = $T/state
products_dir = $T/prod
ingest_dir = $T/in
[pipeline]
threads = 1
[image]
size = 512
cell_arcsec = 6
[photometry]
baseline_epochs = 1
baseline_min_epochs = 1
CONF
awk -v ra="$CAL_RA" -v dec="$CAL_DEC" 'BEGIN {
	print "name,ra_deg,dec_deg,flux_mjy,spectral_index"; pi = atan2(0, -1)
	for (j = 0; j < 6; j++) {
		a = (60 * j + 10) * pi / 180; d = dec + 0.15 * cos(a)
		printf "R%d,%.6f,%.6f,1000,0\n", j, ra + 0.15 * sin(a) / cos(d * pi / 180), d
	}
}' >"$T/sky.csv"
if ! "$BIN/contimg-sim" --out "$T/sim" --stations "$DATA/dsa110/DSA110_Station_Coordinates.csv" \
	--nants 24 --nchan-per-subband 2 --ntimes 6 --sky "$T/sky.csv" \
	--calibrator "0834+555,$CAL_RA,$CAL_DEC,8.8" --random 0 --seed 17 \
	--stream 4 --step 86164.0905 --interval 0 --jitter 0 --quiet 2>"$T/sim.err"; then
	fail "contimg-sim --stream 4"
	cat "$T/sim.err" >&2
	exit 0
fi
check "import the calibrator list" $CTL catalog import --vla "$LOCAL/catalogs/vlacalibrators.txt"
check "import the field's catalog" $CTL catalog import --csv "$T/sky.csv"
G1=$(ls "$T/sim" | sed -n 's/_sb00\.hdf5$//p' | sort | sed -n 1p)
G2=$(ls "$T/sim" | sed -n 's/_sb00\.hdf5$//p' | sort | sed -n 2p)
G3=$(ls "$T/sim" | sed -n 's/_sb00\.hdf5$//p' | sort | sed -n 3p)
G4=$(ls "$T/sim" | sed -n 's/_sb00\.hdf5$//p' | sort | sed -n 4p)
check "process $G1" $CTL process "$T"/sim/"$G1"_sb*.hdf5
check "process $G2 with quality_min_dynamic_range = 1e6" \
	$CTL process "$T"/sim/"$G2"_sb*.hdf5 --set photometry.quality_min_dynamic_range=1e6
check "process $G3" $CTL process "$T"/sim/"$G3"_sb*.hdf5
check "ingest $G4 without processing it" $CTL ingest "$T"/sim/"$G4"_sb*.hdf5
q() { sqlite3 "$DB" "$1"; }
flags() { q "SELECT e.flags FROM epoch_quality e JOIN groups g ON g.id = e.group_id WHERE g.name = '$1'"; }
echo "# epoch_quality: $(q "SELECT group_id || ':' || flags || ':' || printf('%.0f', dynamic_range) FROM epoch_quality" | tr '\n' ' ')" >&2
# The premises, from the database: G2 failed exactly the dynamic-range check
# (bit 1), G1 and G3 passed every check (no bit of PHOT_QUAL_BAD, 0x3f).
check "sqlite3: three quality records" test "$(q 'SELECT count(*) FROM epoch_quality')" = 3
check "sqlite3: $G2 failed the dynamic-range check only (flags & 63 = 2)" \
	test "$(( $(flags "$G2") & 63 ))" = 2
check "sqlite3: $G1 and $G3 passed ($(flags "$G1"), $(flags "$G3"))" \
	test "$(( ($(flags "$G1") | $(flags "$G3")) & 63 ))" = 0

rc() { "$@" >/dev/null 2>&1; echo $?; }
# --- the listing: newest first, the failed checks by name ---
$CTL quality >"$T/list.txt" 2>"$T/list.err"
check "quality exits 0" test $? = 0
check "quality lists the three records, newest first" \
	test "$(awk 'NR > 1 { printf "%s ", $1 }' "$T/list.txt")" = "$G3 $G2 $G1 "
check "quality: $G2's checks column is dr" \
	sh -c "awk '\$1 == \"$G2\" { print \$NF }' '$T/list.txt' | grep -qx dr"
check "quality: $G1's and $G3's checks are ok" \
	sh -c "test \"\$(awk '\$1 == \"$G1\" || \$1 == \"$G3\" { print \$NF }' '$T/list.txt' | sort -u)\" = ok"
check "quality: $G2's noise in mJy/beam is sqlite3's noise_jy x 1000" \
	sh -c "test \"\$(awk '\$1 == \"$G2\" { print \$3 }' '$T/list.txt')\" = \
		\"\$(sqlite3 '$DB' \"SELECT printf('%.3f', 1000 * noise_jy) FROM epoch_quality e JOIN groups g ON g.id = e.group_id WHERE g.name = '$G2'\")\""
# --- --failed: G2 and only G2 ---
$CTL quality --failed >"$T/failed.txt" 2>&1
check "quality --failed lists $G2 alone" \
	test "$(awk 'NR > 1 { printf "%s ", $1 }' "$T/failed.txt")" = "$G2 "
check "quality --failed names the dr check" \
	sh -c "awk 'NR == 2 { print \$NF }' '$T/failed.txt' | grep -qx dr"
check "quality --failed --json: one record, checks [dr], ok false" \
	sh -c "$CTL quality --failed --json | $PY -c \"import json, sys
o = json.load(sys.stdin)
r = o['records']
sys.exit(not (len(r) == 1 and r[0]['group'] == '$G2' and r[0]['checks'] == ['dr'] and r[0]['ok'] is False))\""

# --- --json: every number is sqlite3's (NULL: null) ---
cat >"$T/cmp.py" <<'PY'
import json, sqlite3, sys
db, path = sys.argv[1], sys.argv[2]
o = json.load(open(path))
con = sqlite3.connect(db)
cols = ["mjd", "noise_jy", "expected_noise_jy", "radiometer_ratio", "noise_ratio",
        "dynamic_range", "correction", "correction_z", "clipped_frac", "flagged_frac",
        "nref", "flags"]
rows = con.execute("SELECT e.group_id, g.name, " + ", ".join("e." + c for c in cols) +
                   " FROM epoch_quality e JOIN groups g ON g.id = e.group_id"
                   " ORDER BY e.mjd DESC").fetchall()
names = ["noise", "dr", "flagged", "correction", "clipped", "radiometer", None, "provisional"]
bad, nnull, nnum = [], 0, 0
if len(o["records"]) != len(rows):
    bad.append("%d records, sqlite3 has %d" % (len(o["records"]), len(rows)))
for rec, row in zip(o["records"], rows):
    if rec["group_id"] != row[0] or rec["group"] != row[1]:
        bad.append("order: %s/%s vs %s/%s" % (rec["group_id"], rec["group"], row[0], row[1]))
    for c, v in zip(cols, row[2:]):
        if rec[c] != v:  # exact: json-c prints the doubles to 17 digits
            bad.append("%s %s: json %r, sqlite3 %r" % (row[1], c, rec[c], v))
        nnull += v is None
        nnum += v is not None
    want = [names[b] for b in range(8) if row[-1] >> b & 1]
    if rec["checks"] != want or rec["ok"] != (row[-1] & 63 == 0):
        bad.append("%s: checks %r ok %r, flags %d" % (row[1], rec["checks"], rec["ok"], row[-1]))
print("# compared %d numbers and %d nulls" % (nnum, nnull))
if bad or nnull == 0 or nnum == 0:
    print("\n".join(bad))
    sys.exit(1)
PY
$CTL quality --json >"$T/q.json" 2>&1
check "quality --json parses and equals sqlite3's epoch_quality, number for number" \
	$PY "$T/cmp.py" "$DB" "$T/q.json"
grep '^# compared' "$T/.last" >&2
check "quality --json: the keys of the contract" sh -c "$PY -c \"import json, sys
r = json.load(open('$T/q.json'))['records'][0]
keys = 'group_id group mjd noise_jy expected_noise_jy radiometer_ratio noise_ratio dynamic_range correction correction_z clipped_frac flagged_frac nref flags checks ok'.split()
sys.exit(sorted(r) != sorted(keys))\""
check "quality --json: the references normalised the later epochs (nref > 0, correction)" \
	sh -c "$PY -c \"import json, sys
r = json.load(open('$T/q.json'))['records']
sys.exit(not (r[0]['nref'] > 0 and r[0]['correction'] is not None))\""

# --- --since and --limit ---
since=$(echo "$G2" | cut -c1-10)
check "quality --since $since: $G3 and $G2" \
	test "$($CTL quality --since "$since" | awk 'NR > 1 { printf "%s ", $1 }')" = "$G3 $G2 "
check "quality --since 36500 (days): all three" \
	test "$($CTL quality --since 36500 | awk 'NR > 1' | wc -l)" = 3
check "quality --limit 1: $G3" test "$($CTL quality --limit 1 | awk 'NR > 1 { print $1 }')" = "$G3"
check "quality --since ${since}T00:00Z --failed --limit 0 --json: $G2" \
	sh -c "$CTL quality --since ${since}T00:00Z --failed --limit 0 --json | $PY -c \"import json, sys
sys.exit([r['group'] for r in json.load(sys.stdin)['records']] != ['$G2'])\""

# --- GROUP: the record beside the thresholds in force ---
$CTL quality "$G2" >"$T/g2.txt" 2>&1
check "quality $G2 exits 0" test $? = 0
check "quality $G2: FAILED: dr" grep -q '^quality *FAILED: dr$' "$T/g2.txt"
check "quality $G2: the dr row is off now (default 0) and FAIL as stored" \
	grep -Eq '^  dr +[0-9.e+]+ >= +off  FAIL \(passes the limit now\)$' "$T/g2.txt"
check "quality $G2: the radiometer row has the default limit 6 and passes" \
	grep -Eq '^  radiometer +[0-9.e+]+ <= +6  pass$' "$T/g2.txt"
sed 's/^\[photometry\]$/[photometry]\nquality_min_dynamic_range = 1e6\nquality_max_noise_ratio = 3/' \
	"$T/contimg.conf" >"$T/strict.conf"
"$BIN/contimgctl" --config "$T/strict.conf" quality "$G2" --json >"$T/g2.json" 2>&1
check "quality $G2 --json: the thresholds of the configuration, value vs limit" sh -c "$PY -c \"import json, sqlite3, sys
o = json.load(open('$T/g2.json'))
t = {x['check']: x for x in o['thresholds']}
dr = sqlite3.connect('$DB').execute(\\\"SELECT dynamic_range FROM epoch_quality e JOIN groups g ON g.id = e.group_id WHERE g.name = '$G2'\\\").fetchone()[0]
ok = (len(o['records']) == 1 and o['records'][0]['group'] == '$G2' and
      list(t) == ['noise', 'dr', 'flagged', 'correction', 'clipped', 'radiometer'] and
      t['dr'] == {'check': 'dr', 'value': dr, 'limit': 1e6, 'compare': '>=', 'enabled': True,
                  'failed': True, 'fails_now': True} and
      t['noise']['limit'] == 3 and t['radiometer']['limit'] == 6 and
      not t['radiometer']['failed'] and o['quality_window'] == 30)
sys.exit(not ok)\""
check "quality $G1: ok, no failed row" sh -c "$CTL quality '$G1' >'$T/g1.txt' &&
	grep -q '^quality *ok$' '$T/g1.txt' && ! grep -q FAIL '$T/g1.txt'"
$CTL quality "$G4" >/dev/null 2>"$T/g4.err"
check "quality $G4 (no record): exit 1" test $? = 1
check "... saying it has no quality record" grep -q "group $G4 has no quality record" "$T/g4.err"
check "quality of an unknown group: exit 1" test "$(rc $CTL quality 2027-01-01T00:00:00)" = 1
check "quality of a malformed group id: exit 2" test "$(rc $CTL quality 2027-01-01)" = 2
check "quality GROUP --failed: exit 2" test "$(rc $CTL quality "$G2" --failed)" = 2
check "quality --since garbage: exit 2" test "$(rc $CTL quality --since yesterday)" = 2
check "quality --limit -1: exit 2" test "$(rc $CTL quality --limit -1)" = 2

# --- the names of every check: the same record with other bits set (a
# changed copy of the database, so nothing above depends on it) ---
cp "$DB" "$T/copy.sqlite"
sqlite3 "$T/copy.sqlite" "UPDATE epoch_quality SET flags = 1 | 4 | 8 | 16 | 32 | 128
	WHERE group_id = (SELECT id FROM groups WHERE name = '$G2')"
sed "s|^state_dir = .*|state_dir = $T/copystate|" "$T/contimg.conf" >"$T/copy.conf"
mkdir -p "$T/copystate" && mv "$T/copy.sqlite" "$T/copystate/contimg.sqlite"
check "flags 189 read noise,flagged,correction,clipped,radiometer,provisional" \
	sh -c "$BIN/contimgctl --config '$T/copy.conf' quality --failed | awk 'NR == 2 { print \$NF }' |
		grep -qx noise,flagged,correction,clipped,radiometer,provisional"
