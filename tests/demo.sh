#!/bin/sh
# tests/demo.sh — what `make run` shows: simulate a calibrator group and a field
# group one hour later, run contimgd on a scratch directory, wait until both are
# processed, print the operator's view and where the products are, then stop the
# daemon.  DEMO_DIR (default /tmp/contimg-demo) holds everything.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/bin
DATA=${CONTIMG_SHARED_DATA:-$ROOT/../shared/data}
D=${DEMO_DIR:-/tmp/contimg-demo}
rm -rf "$D"
mkdir -p "$D/ingest" "$D/state" "$D/products" "$D/sim"
CONF=$D/contimg.conf
cat >"$CONF" <<CONF
[paths]
ingest_dir = $D/ingest
state_dir = $D/state
products_dir = $D/products

[ingest]
collect_timeout_s = 30
rescan_interval_s = 5
poll_interval_s = 1
workers = 1

[pipeline]
threads = 0

[image]
size = 1024
cell_arcsec = 6
niter = 2000
CONF
export CONTIMG_CONFIG=$CONF
export OMP_WAIT_POLICY=passive
say() { printf '\n==> %s\n' "$*"; }

say "catalogs: VLA calibrator list and the simulated sky"
cat >"$D/sky.csv" <<SKY
name,ra_deg,dec_deg,flux_mjy,spectral_index
0834+555,128.72876715,55.57251971,8800,0.0
DEMO1,129.50,55.30,450,-0.7
DEMO2,128.10,54.60,300,-0.7
DEMO3,130.20,54.20,220,-0.8
DEMO4,127.60,55.80,180,-0.6
DEMO5,129.90,53.90,120,-0.7
SKY
if [ -f "$ROOT/tests/data/catalogs/vlacalibrators.txt" ]; then
	"$BIN/contimgctl" catalog import --vla "$ROOT/tests/data/catalogs/vlacalibrators.txt" || exit 1
fi
"$BIN/contimgctl" catalog import --csv "$D/sky.csv" || exit 1

say "simulating two groups (calibrator transit, then the same field one hour later)"
"$BIN/contimg-sim" --out "$D/sim" --nants 32 --nchan-per-subband 6 --ntimes 24 \
	--dec 54.9 --sky "$D/sky.csv" --calibrator 0834+555,128.72876715,55.57251971,8.8 \
	--stream 2 --step 3600 --seed 7 --quiet || exit 1
echo "$(ls "$D"/sim/*_sb*.hdf5 | wc -l) subband files, truth and true gains in $D/sim"

say "starting contimgd (logs in $D/contimgd.log)"
"$BIN/contimgd" --config "$CONF" --foreground >"$D/contimgd.log" 2>&1 &
PID=$!
sleep 1
say "delivering the subband files into $D/ingest, as the correlator would"
for f in "$D"/sim/*_sb*.hdf5; do
	cp "$f" "$D/ingest/.$(basename "$f").tmp" && mv "$D/ingest/.$(basename "$f").tmp" "$D/ingest/$(basename "$f")"
done

say "waiting for both groups to finish"
i=0
while [ $i -lt 600 ]; do
	n=$("$BIN/contimgctl" groups --json 2>/dev/null | grep -o '"state": *"\(completed\|failed\)"' | wc -l)
	[ "$n" -ge 2 ] && break
	sleep 1; i=$((i + 1))
done

say "contimgctl status"
"$BIN/contimgctl" status
say "contimgctl groups"
"$BIN/contimgctl" groups
for g in $("$BIN/contimgctl" groups --json | grep -o '"group_id": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/'); do
	say "contimgctl show $g"
	"$BIN/contimgctl" show "$g"
done
say "contimgctl caltables"
"$BIN/contimgctl" caltables
say "products"
find "$D/products" -type f | sort
say "forced photometry of DEMO1 (truth 450 mJy at 1.4 GHz): contimgctl lightcurve DEMO1"
"$BIN/contimgctl" lightcurve DEMO1
kill -TERM $PID 2>/dev/null
wait $PID
echo "contimgd exited with status $?"
say "done: products under $D/products, state in $D/state, daemon log in $D/contimgd.log"
