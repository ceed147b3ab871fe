#!/bin/sh
# tests/bench_subband.sh — `make bench-subband`: the cost of the sub-band
# images (issue 17's budget: the image stage within 1.5× its time without
# them).  Simulates the bench's full-size calibrator group (tests/bench.sh:
# 96 antennas, 16 × 48 channels, the 8.8 Jy calibrator and 30 random
# sources, seed 11), then runs `contimgctl process --json` on it with
# [image] subbands = 0 and = 4 alternately BENCH_PAIRS times (default 3),
# dropping the page cache before each run when it can (root), and prints the
# image stage's wall seconds of each run, the medians and their ratio, and
# the major cycles of the last run with sub-bands (joined, MFS after them).
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
echo "bench-subband: simulating the full-size calibrator group into $D/sim ..."
"$BIN/contimg-sim" --full --out "$D/sim" --random 30 --sky "$D/sky.csv" \
	--calibrator 0834+555,128.72876715,55.57251971,8.8 --stream 1 --seed 11 \
	>"$D/sim.log" 2>&1 || { cat "$D/sim.log"; exit 1; }
for f in "$D"/sim/*.hdf5; do
	ln -s "$f" "$D/in/"
done
# run N TAG: one `contimgctl process` with [image] subbands = N; prints the
# image stage's seconds.
run() {
	sync
	[ -w /proc/sys/vm/drop_caches ] && echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
	"$BIN/contimgctl" process "$D/in" --json --set "image.subbands=$1" \
		--set log.level=debug >"$D/$2.json" 2>"$D/$2.err" ||
		{ echo "bench-subband: process failed ($2):" >&2; tail -5 "$D/$2.err" >&2; exit 1; }
	python3 -c "import json,sys; print('%.2f' % json.load(open(sys.argv[1]))['stages']['image'])" \
		"$D/$2.json"
}
a=""
b=""
printf '\n%-6s %18s %18s %8s\n' "pair" "subbands=0 (s)" "subbands=4 (s)" "ratio"
i=1
while [ "$i" -le "$PAIRS" ]; do
	s0=$(run 0 "mfs$i") || exit 1
	s4=$(run 4 "sb$i") || exit 1
	printf '%-6s %18s %18s %8.2f\n' "$i" "$s0" "$s4" "$(awk "BEGIN { print $s4 / $s0 }")"
	a="$a $s0"
	b="$b $s4"
	i=$((i + 1))
done
med() { echo "$@" | tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END {
	print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
m0=$(med $a)
m4=$(med $b)
printf '%-6s %18s %18s %8.2f\n' "median" "$m0" "$m4" "$(awk "BEGIN { print $m4 / $m0 }")"
echo
echo "cycles of the last run with sub-bands:"
grep -E "major cycle [0-9]+:" "$D/sb$PAIRS.err" | sed 's/.*major cycle/  major cycle/' | cut -c1-150
[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$D"
