#!/bin/sh
# tests/integration/test_metrics.sh — the Prometheus exposition (issue 18 item
# 3): `contimgctl metrics` and contimgd's [metrics] textfile are valid text
# format 0.0.4 (tests/integration/promparse.py: every line, HELP/TYPE for
# every family, histogram buckets cumulative and +Inf = count), and their
# numbers agree with the state database read directly with Python's sqlite3
# (groups per state, stage histograms recomputed from stage_timings, events,
# candidates, the optional alerts table) and with statvfs.  promtool checks
# the text too when it is installed (Debian: prometheus).
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
CONF=$T/contimg.conf
CTL="$BIN/contimgctl --config $CONF"
DB=$T/state/contimg.sqlite
mkdir -p "$T/in" "$T/state" "$T/prod" "$T/tf"
cat >"$CONF" <<CONF
[paths]
ingest_dir = $T/in
state_dir = $T/state
products_dir = $T/prod
[ingest]
rescan_interval_s = 0
[image]
size = 512
cell_arcsec = 4
[metrics]
textfile = $T/tf/contimg.prom
interval_s = 1
CONF

# One completed group (simulated), one failed (two corrupt files).
"$BIN/contimg-sim" --tiny --out "$T/sim" --quiet --no-truth >/dev/null 2>&1
check "process a simulated group" $CTL process "$T/sim"
mkdir -p "$T/bad"
for sb in 00 01; do head -c 1000 /dev/urandom >"$T/bad/2026-03-01T07:00:00_sb$sb.hdf5"; done
$CTL process "$T/bad" >/dev/null 2>&1
check "a corrupt group fails (exit 4)" test $? = 4

$CTL metrics >"$T/m.prom" 2>"$T/m.err"
check "contimgctl metrics exits 0" test $? = 0
check "the exposition parses (promparse.py)" $PY "$ROOT/tests/integration/promparse.py" "$T/m.prom"

# Compare every number that has a source with that source.
cat >"$T/cmp.py" <<'PYEOF'
import json, math, os, sqlite3, subprocess, sys
sys.path.insert(0, sys.argv[1])
import promparse
text = open(sys.argv[2]).read()
probs, s = promparse.check(text)
db = sqlite3.connect('file:' + sys.argv[3] + '?mode=ro', uri=True)
bad = []
def want(key, v, tol=0):
    got = s.get(key)
    if got is None and v is None:
        return  # a family without a value is left out, as it should be
    if got is None or v is None or abs(got - v) > tol:
        bad.append('%s: metrics %s, database %s' % (key, got, v))
for st in ('collecting', 'pending', 'in_progress', 'completed', 'failed'):
    n = db.execute('SELECT COUNT(*) FROM groups WHERE state = ?', (st,)).fetchone()[0]
    want('contimg_groups{state="%s"}' % st, n)
want('contimg_queue_depth{}', db.execute("SELECT COUNT(*) FROM groups WHERE state='pending'").fetchone()[0])
want('contimg_newest_group_timestamp_seconds{}', db.execute('SELECT MAX(t_first) FROM groups').fetchone()[0])
want('contimg_last_completed_group_timestamp_seconds{}',
     db.execute("SELECT MAX(finished_at) FROM groups WHERE state='completed'").fetchone()[0], 1e-3)
les = sorted({float(k.split('le="')[1].split('"')[0]) for k in s if k.startswith('contimg_stage_duration_seconds_bucket')})
stages = [r[0] for r in db.execute('SELECT DISTINCT stage FROM stage_timings')]
if len(stages) < 4:
    bad.append('only %d stages timed' % len(stages))
for st in stages:
    secs = [r[0] for r in db.execute('SELECT seconds FROM stage_timings WHERE stage = ?', (st,))]
    for le in les:
        key = 'contimg_stage_duration_seconds_bucket{le="%s",stage="%s"}' % (
            '+Inf' if math.isinf(le) else ('%g' % le), st)
        want(key, sum(1 for x in secs if x <= le))
    want('contimg_stage_duration_seconds_count{stage="%s"}' % st, len(secs))
    want('contimg_stage_duration_seconds_sum{stage="%s"}' % st, sum(secs), 1e-9)
    nf = db.execute('SELECT COUNT(*) FROM stage_timings WHERE stage = ? AND ok = 0', (st,)).fetchone()[0]
    want('contimg_stage_failures_total{stage="%s"}' % st, nf)
for kind, n in db.execute('SELECT kind, COUNT(*) FROM group_events GROUP BY kind'):
    want('contimg_group_events_total{kind="%s"}' % kind, n)
for st in ('new', 'investigated', 'dismissed'):
    want('contimg_ese_candidates{status="%s"}' % st,
         db.execute('SELECT COUNT(*) FROM ese_candidates WHERE status = ?', (st,)).fetchone()[0])
have_alerts = db.execute("SELECT COUNT(*) FROM sqlite_master WHERE name='alerts'").fetchone()[0]
want('contimg_alerts_table_present{}', have_alerts)
want('contimg_alerts{}', db.execute('SELECT COUNT(*) FROM alerts').fetchone()[0] if have_alerts else 0)
want('contimg_images{}', db.execute('SELECT COUNT(*) FROM images').fetchone()[0])
for role, path in (('state', sys.argv[4] + '/state'), ('products', sys.argv[4] + '/prod')):
    v = os.statvfs(path)
    want('contimg_filesystem_size_bytes{path="%s",role="%s"}' % (path, role), v.f_blocks * v.f_frsize)
    # Free space moves while the test runs: 64 MB of slack.
    want('contimg_filesystem_avail_bytes{path="%s",role="%s"}' % (path, role),
         v.f_bavail * v.f_frsize, 64 << 20)
for b in bad:
    print(b)
print('# compared; %d samples' % len(s))
sys.exit(1 if bad else 0)
PYEOF
check "numbers agree with the database and statvfs" \
	$PY "$T/cmp.py" "$ROOT/tests/integration" "$T/m.prom" "$DB" "$T"
check "failed group counted (contimg_groups{state=\"failed\"} 1)" \
	grep -qx 'contimg_groups{state="failed"} 1' "$T/m.prom"
check "the alerts table exists (present 1, no alert yet)" \
	sh -c "grep -qx 'contimg_alerts_table_present 1' '$T/m.prom' && grep -qx 'contimg_alerts 0' '$T/m.prom'"

# Two alert rows (state/alertdb.c's table): counted.
$PY - "$DB" <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for i in (1, 2):
    db.execute("INSERT INTO alerts (ivorn, source, kind, event_start_mjd, event_end_mjd, mjd,"
               " score, created_at) VALUES (?, 'J0834+5512', 'candidate', ?, ?, ?, 0.9, 0)",
               ('ivo://test/contimg#a%d' % i, 61000 + 100 * i, 61020 + 100 * i, 61010 + 100 * i))
db.commit()
PYEOF
$CTL metrics >"$T/m2.prom"
check "alerts counted (2 rows)" sh -c "grep -qx 'contimg_alerts 2' '$T/m2.prom' && grep -qx 'contimg_alerts_table_present 1' '$T/m2.prom'"
check "and the numbers still agree" $PY "$T/cmp.py" "$ROOT/tests/integration" "$T/m2.prom" "$DB" "$T"

# Label values are escaped: a stage name with a quote, a backslash, a newline.
$PY - "$DB" <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
gid = db.execute('SELECT id FROM groups LIMIT 1').fetchone()[0]
db.execute("INSERT INTO stage_timings (group_id, stage, seconds, ok, at) VALUES (?, ?, 7.5, 0, 0)",
           (gid, 'we"ird\\st\nage'))
db.commit()
PYEOF
$CTL metrics >"$T/m3.prom"
check "escaped label values parse" $PY "$ROOT/tests/integration/promparse.py" "$T/m3.prom"
check "the escapes are the format's" grep -q 'stage="we\\"ird\\\\st\\nage"' "$T/m3.prom"

# The daemon's textfile: written within a few seconds, valid, the same groups.
"$BIN/contimgd" --config "$CONF" --foreground --log-format text >"$T/d.log" 2>&1 &
DPID=$!
i=0
while [ ! -s "$T/tf/contimg.prom" ] && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
check "contimgd writes [metrics] textfile" test -s "$T/tf/contimg.prom"
sleep 1.5
cp "$T/tf/contimg.prom" "$T/tf.copy"
check "the textfile parses" $PY "$ROOT/tests/integration/promparse.py" "$T/tf.copy"
check "the textfile's numbers agree with the database" \
	$PY "$T/cmp.py" "$ROOT/tests/integration" "$T/tf.copy" "$DB" "$T"
check "the textfile has the daemon's heartbeat" grep -q '^contimg_daemon_heartbeat_timestamp_seconds ' "$T/tf.copy"
m1=$(stat -c %Y.%N "$T/tf/contimg.prom" 2>/dev/null || stat -c %Y "$T/tf/contimg.prom")
sleep 2.5
m2=$(stat -c %Y.%N "$T/tf/contimg.prom" 2>/dev/null || stat -c %Y "$T/tf/contimg.prom")
check "rewritten every interval_s (1 s)" test "$m1" != "$m2"
check "no temporary left beside it (only *.prom)" test "$(ls "$T/tf" | grep -vc '\.prom$')" = 0
kill "$DPID" 2>/dev/null
wait "$DPID" 2>/dev/null
check "no metrics error in the daemon's log" sh -c "! grep -i 'metrics textfile' '$T/d.log'"

# Configuration: a textfile node_exporter would not read is refused.
sed 's/contimg.prom/contimg.txt/' "$CONF" >"$T/bad.conf"
"$BIN/contimgctl" --config "$T/bad.conf" config check >/dev/null 2>"$T/cc.err"
check "[metrics] textfile must end in .prom (exit 2)" test $? = 2
check "and the message names the key" grep -q 'textfile' "$T/cc.err"
sed 's/interval_s = 1/interval_s = 0/' "$CONF" >"$T/bad2.conf"
check "[metrics] interval_s < 1 is refused" sh -c "! '$BIN/contimgctl' --config '$T/bad2.conf' config check >/dev/null 2>&1"

# promtool (Debian prometheus), when installed, as the format's authority.
if command -v promtool >/dev/null 2>&1; then
	# promtool check metrics also lints naming; only its errors fail this.
	promtool check metrics <"$T/m.prom" >"$T/promtool.out" 2>&1
	rc=$?
	sed 's/^/# promtool: /' "$T/promtool.out"
	check "promtool check metrics accepts the exposition" test $rc = 0
else
	echo "ok - $NAME: promtool check metrics # SKIP promtool not installed (Debian prometheus)"
fi
