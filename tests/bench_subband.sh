#!/bin/sh
# tests/bench_subband.sh — `make bench-subband`: the cost of the sub-band
# images (issue 17's budget: the image stage within 1.5× its time without
# them).  Simulates the bench's two full-size groups (tests/bench.sh: 96
# antennas, 16 × 48 channels, 30 random sources, seed 11; the calibrator
# group with the 8.8 Jy 0834+555, and the field group an hour later,
# calibrated with its tables), then runs `contimgctl process --json` on each
# with [image] subbands = 0 and = 4 alternately BENCH_PAIRS times (default 3),
# dropping the page cache before each run when it can (root), and prints the
# image stage's wall and CPU seconds of each run (`stages`, `stages_cpu`:
# docs/cli.md), the medians and their ratios, and the major cycles of the
# last run with sub-bands (joined, MFS after them).
# BENCH_DIR (default /tmp/contimg-bench-subband) is removed at the end unless
# BENCH_KEEP=1.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/bin
D=${BENCH_DIR:-/tmp/contimg-bench-subband}
PAIRS=${BENCH_PAIRS:-3}
rm -rf "$D"
mkdir -p "$D/sim" "$D/state" "$D/products" "$D/ingest" "$D/in"
cat >"$D/contimg.conf" <<CONF
[paths]
ingest_dir = $D/ingest
state_dir = $D/state
products_dir = $D/products
CONF
export CONTIMG_CONFIG=$D/contimg.conf OMP_WAIT_POLICY=passive
cat >"$D/sky.csv" <<SKY
name,ra_deg,dec_deg,flux_mjy,spectral_index
0834+555,128.72876715,55.57251971,8800,0.0
SKY
"$BIN/contimgctl" catalog import --vla "$ROOT/tests/data/catalogs/vlacalibrators.txt" >/dev/null ||
	exit 1
echo "bench-subband: simulating two full-size groups into $D/sim ..."
"$BIN/contimg-sim" --full --out "$D/sim" --random 30 --sky "$D/sky.csv" \
	--calibrator 0834+555,128.72876715,55.57251971,8.8 --stream 2 --step 3600 --seed 11 \
	>"$D/sim.log" 2>&1 || { cat "$D/sim.log"; exit 1; }
# A group's files carry jittered timestamps: each group's list from its truth.
groups=""
for tj in $(ls "$D"/sim/truth_*.json | sort); do
	name=$(basename "$tj" .json | sed 's/^truth_//')
	mkdir -p "$D/in/$name"
	for f in $(grep -o '"[0-9T:-]*_sb[0-9][0-9]\.hdf5"' "$tj" | tr -d '"'); do
		ln -s "$D/sim/$f" "$D/in/$name/$f"
	done
	groups="$groups $name"
done
# run GROUP N TAG: one `contimgctl process` of GROUP with [image] subbands =
# N; prints the image stage's wall and CPU seconds.
run() {
	sync
	[ -w /proc/sys/vm/drop_caches ] && echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
	"$BIN/contimgctl" process "$D/in/$1" --json --set "image.subbands=$2" \
		--set log.level=debug >"$D/$3.json" 2>"$D/$3.err" ||
		{ echo "bench-subband: process failed ($3):" >&2; tail -5 "$D/$3.err" >&2; exit 1; }
	python3 -c "import json,sys; d = json.load(open(sys.argv[1]))
print('%.2f %.2f' % (d['stages']['image'], d['stages_cpu']['image']))" "$D/$3.json"
}
med() { echo "$@" | tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END {
	print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
g=0
for name in $groups; do
	g=$((g + 1))
	[ "$g" = 1 ] && what="calibrator group" || what="field group (the first one's tables)"
	printf '\n%s, %s: image stage seconds\n' "$name" "$what"
	printf '%-6s %12s %12s %7s %12s %12s %7s\n' "pair" "wall sb=0" "wall sb=4" "ratio" \
		"cpu sb=0" "cpu sb=4" "ratio"
	a=""
	b=""
	ca=""
	cb=""
	i=1
	while [ "$i" -le "$PAIRS" ]; do
		out=$(run "$name" 0 "g$g.mfs$i") || exit 1
		set -- $out
		s0=$1
		c0=$2
		out=$(run "$name" 4 "g$g.sb$i") || exit 1
		set -- $out
		s4=$1
		c4=$2
		printf '%-6s %12s %12s %7.2f %12s %12s %7.2f\n' "$i" "$s0" "$s4" \
			"$(awk "BEGIN { print $s4 / $s0 }")" "$c0" "$c4" "$(awk "BEGIN { print $c4 / $c0 }")"
		a="$a $s0"
		b="$b $s4"
		ca="$ca $c0"
		cb="$cb $c4"
		i=$((i + 1))
	done
	m0=$(med $a)
	m4=$(med $b)
	n0=$(med $ca)
	n4=$(med $cb)
	printf '%-6s %12s %12s %7.2f %12s %12s %7.2f\n' "median" "$m0" "$m4" \
		"$(awk "BEGIN { print $m4 / $m0 }")" "$n0" "$n4" "$(awk "BEGIN { print $n4 / $n0 }")"
	echo "major cycles of its last run with sub-bands:"
	grep -E "major cycle [0-9]+:" "$D/g$g.sb$PAIRS.err" | sed 's/.*major cycle/  major cycle/' |
		cut -c1-150
done
[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$D"
