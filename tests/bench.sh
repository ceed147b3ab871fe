#!/bin/sh
# tests/bench.sh — `make bench`: simulate a full-size DSA-110 calibrator group
# (96 of 117 antennas, 16 x 48 channels, 24 integrations, 2 pols), run the whole
# pipeline on it with `contimgctl process --json`, and print per-stage seconds,
# throughput (Mvis/s) and peak memory as a table.  Then the same for a field
# group one hour later (calibrated with the solutions of the first).  Then
# both again through contimgd, whose worker keeps its buffers from one group
# to the next: the second group is the daemon's steady state.
#
# The simulated files are chunked as the correlator writes them; a
# contiguous copy of the first group measures the read of both layouts
# (BENCH_CONVERT_REPS loads each, default 3).
#
# BENCH_DIR (default /tmp/contimg-bench) holds the 3 x 2.3 GB of data; it is
# removed at the end unless BENCH_KEEP=1.  BENCH_THREADS sets [pipeline] threads.
# BENCH_WSCLEAN=1 (make bench-wsclean) also images the field group with
# WSClean (tests/wsclean/run.sh).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/bin
DATA=${CONTIMG_SHARED_DATA:-$ROOT/../shared/data}
D=${BENCH_DIR:-/tmp/contimg-bench}
TH=${BENCH_THREADS:-0}
rm -rf "$D"
mkdir -p "$D/sim"
# write_conf DIR [EXTRA]: DIR/contimg.conf with DIR/{ingest,state,products}
# (created) and the extra sections; prints the file's path.
write_conf() {
	mkdir -p "$1/state" "$1/products" "$1/ingest"
	cat >"$1/contimg.conf" <<CONF
[paths]
ingest_dir = $1/ingest
state_dir = $1/state
products_dir = $1/products

[pipeline]
threads = $TH
${2:-}
CONF
	echo "$1/contimg.conf"
}
CONF=$(write_conf "$D")
export CONTIMG_CONFIG=$CONF

echo "bench: simulating two full-size groups into $D/sim ..."
cat >"$D/sky.csv" <<SKY
name,ra_deg,dec_deg,flux_mjy,spectral_index
0834+555,128.72876715,55.57251971,8800,0.0
SKY
"$BIN/contimgctl" catalog import --vla "$ROOT/tests/data/catalogs/vlacalibrators.txt" >/dev/null || exit 1
t0=$(date +%s.%N)
"$BIN/contimg-sim" --full --out "$D/sim" --random 30 --sky "$D/sky.csv" \
	--calibrator 0834+555,128.72876715,55.57251971,8.8 --stream 2 --step 3600 --seed 11 \
	>"$D/sim.log" 2>&1 || { cat "$D/sim.log"; exit 1; }
t1=$(date +%s.%N)
sim_s=$(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")

# A group's files carry jittered timestamps: take each group's file list from
# its truth JSON.
truths=$(ls "$D"/sim/truth_*.json | sort)
nvis=$((24 * 4656 * 768 * 2))
printf '\n%-24s %10s %10s\n' "stage" "seconds" "Mvis/s"
printf '%-24s %10s %10s\n' "simulate (2 groups)" "$sim_s" "-"
for tj in $truths; do
	name=$(basename "$tj" .json | sed 's/^truth_//')
	mkdir -p "$D/in/$name"
	for f in $(grep -o '"[0-9T:-]*_sb[0-9][0-9]\.hdf5"' "$tj" | tr -d '"'); do
		ln -s "$D/sim/$f" "$D/in/$name/$f"
	done
	"$BIN/contimgctl" process "$D/in/$name" --json >"$D/$name.json" 2>"$D/$name.err"
	rc=$?
	echo "-- group $name (exit $rc)"
	awk -v nvis="$nvis" '
		/"stages": *{/ { inst = 1; next }
		inst && /}/ { inst = 0 }
		inst && /:/ {
			gsub(/[",]/, ""); split($0, a, ":");
			n++; nm[n] = a[1]; gsub(/^ +| +$/, "", nm[n]); sec[n] = a[2] + 0
		}
		/"calibrate_timing"/ { cint = 1; next }
		cint && /}/ { cint = 0 }
		cint && /:/ {
			gsub(/[",]/, ""); split($0, a, ":");
			cm++; cnm[cm] = a[1]; gsub(/^ +| +$/, "", cnm[cm]); cval[cm] = a[2] + 0
		}
		/"image_timing"/ { init = 1; next }
		init && /}/ { init = 0 }
		init && /:/ {
			gsub(/[",]/, ""); split($0, a, ":");
			m++; inm[m] = a[1]; gsub(/^ +| +$/, "", inm[m]); ival[m] = a[2] + 0
		}
		/"nvis"/ { gsub(/[",]/, ""); split($0, a, ":"); nvis = a[2] + 0 }
		/"peak_rss_mb"/ { gsub(/[",]/, ""); split($0, a, ":"); rss = a[2] + 0 }
		/"calibrated"/ { cal = $0 }
		END {
			for (i = 1; i <= n; i++) {
				if (nm[i] ~ /\./) { printf "  %-22s %10.2f %10s\n", nm[i], sec[i], "-"; continue }
				tot += sec[i]
				printf "%-24s %10.2f %10.1f\n", nm[i], sec[i], (sec[i] > 0 ? nvis / sec[i] / 1e6 : 0)
				if (nm[i] == "calibrate")
					for (j = 1; j <= cm; j++)
						printf "  %-22s %10.2f\n", "calibrate " cnm[j], cval[j]
				if (nm[i] == "image")
					for (j = 1; j <= m; j++)
						if (inm[j] ~ /cycles|iterations|nvis/)
							printf "  %-22s %10d\n", "image " inm[j], ival[j]
						else
							printf "  %-22s %10.2f\n", "image " inm[j], ival[j]
			}
			printf "%-24s %10.2f %10.1f\n", "total (load -> last)", tot, (tot > 0 ? nvis / tot / 1e6 : 0)
			if (rss) printf "%-24s %10.0f MB\n", "peak RSS", rss
			gsub(/^ +/, "", cal); print "  " cal
		}' "$D/$name.json"
	[ $rc = 0 ] || tail -5 "$D/$name.err"
done

# The read of load + convert by storage layout (docs/performance.md, *Chunked
# files*): the calibrator group as simulated (chunked as the correlator writes
# it), a contiguous copy of the same files made with h5repack, and the chunked
# files through HDF5's generic path (what they got before issue 19), each
# loaded BENCH_CONVERT_REPS times after a first load that touches the buffer
# (tests/bench_convert.c); then both layouts are checked to read identically.
first=$(basename "$(echo "$truths" | head -1)" .json | sed 's/^truth_//')
CH=$D/in/$first
CO=$D/contig/$first
R=${BENCH_CONVERT_REPS:-3}
BC=$ROOT/${B:-build}/tests/bench_convert
mkdir -p "$CO"
ls "$CH" | grep '_sb[0-9][0-9]\.hdf5$' |
	xargs -P 2 -I {} h5repack -l CONTI -i "$CH/{}" -o "$CO/{}" || exit 1
{
	OMP_WAIT_POLICY=passive "$BC" --reps "$R" --compare "$CH" "$CO"
	OMP_WAIT_POLICY=passive "$BC" --reps "$R" --hdf5 "$CH"
} >"$D/layout.txt" 2>&1
printf '\n%s\n' "load + convert read by layout ($R loads each after the first; wall seconds median [min-max])"
printf '%-34s %20s %10s %10s\n' "layout, path" "wall (s)" "CPU-s" "MB/s"
awk -v ch="$CH" '
	/^summary/ {
		what = ($2 == ch ? "chunked" : "contiguous") ", " ($3 == "hdf5" ? "HDF5 generic" : "direct")
		printf "%-34s %6.2f [%5.2f-%5.2f] %10.2f %10.0f\n", what, $6, $5, $7, $10, $12
	}
	/^compare/ { sub(/^compare [^ ]* vs [^ ]*: /, ""); cmp = $0 }
	/^bench_convert:/ { print }
	END { if (cmp != "") print "chunked vs contiguous: " cmp }' "$D/layout.txt"

# The same two groups through the daemon, as in operation: one worker that
# keeps its visibility buffer and its cache of work buffers (core/pool.h)
# from one group to the next, so the second group shows the steady state.
# Its stage seconds come from the state database (contimgctl show --json).
DD=$D/daemon
DCONF=$(write_conf "$DD" "[ingest]
workers = 1
poll_interval_s = 1")
export CONTIMG_CONFIG=$DCONF
"$BIN/contimgctl" catalog import --vla "$ROOT/tests/data/catalogs/vlacalibrators.txt" >/dev/null || exit 1
for tj in $truths; do
	for f in $(grep -o '"[0-9T:-]*_sb[0-9][0-9]\.hdf5"' "$tj" | tr -d '"'); do
		ln -s "$D/sim/$f" "$DD/ingest/$f"
	done
done
OMP_WAIT_POLICY=passive "$BIN/contimgd" --config "$DCONF" --foreground >"$DD/contimgd.log" 2>&1 &
DPID=$!
i=0
while [ $i -lt 1200 ]; do
	n=$("$BIN/contimgctl" groups --json 2>/dev/null | grep -o '"state": *"\(completed\|failed\)"' | wc -l)
	[ "$n" -ge 2 ] && break
	kill -0 $DPID 2>/dev/null || break
	sleep 1
	i=$((i + 1))
done
hwm=$(awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' /proc/$DPID/status 2>/dev/null)
kill -TERM $DPID 2>/dev/null
wait $DPID 2>/dev/null
printf '\n%s\n' "daemon (contimgd, 1 worker; buffers kept from the first group to the second)"
printf '%-24s %12s %12s\n' "stage" "first (s)" "second (s)"
for tj in $truths; do
	name=$(basename "$tj" .json | sed 's/^truth_//')
	"$BIN/contimgctl" show "$name" --json >"$DD/$name.json" 2>/dev/null
done
set -- $(for tj in $truths; do basename "$tj" .json | sed 's/^truth_//'; done)
awk '
	FNR == 1 { f++ }
	/"stages": *{/ { inst = 1; next }
	inst && /}/ { inst = 0 }
	inst && /:/ {
		gsub(/[",]/, ""); split($0, a, ":"); k = a[1]; gsub(/^ +| +$/, "", k)
		if (!(k in seen)) { seen[k] = 1; order[++n] = k }
		sec[f, k] = a[2] + 0; tot[f] += a[2]
	}
	/"state"/ { gsub(/[",]/, ""); split($0, a, ":"); st[f] = a[2] }
	END {
		for (i = 1; i <= n; i++)
			printf "%-24s %12.2f %12.2f\n", order[i], sec[1, order[i]], sec[2, order[i]]
		printf "%-24s %12.2f %12.2f\n", "total", tot[1], tot[2]
		printf "%-24s %12s %12s\n", "state", st[1], st[2]
	}' "$DD/$1.json" "$DD/$2.json"
[ -n "$hwm" ] && printf '%-24s %12s MB\n' "daemon peak RSS" "$hwm"
export CONTIMG_CONFIG=$CONF

# make bench-wsclean: the field group imaged by WSClean too (tests/wsclean/).
if [ "${BENCH_WSCLEAN:-0}" = 1 ]; then
	sh "$ROOT/tests/wsclean/run.sh" "$D" "$(basename "$2")"
fi

echo
awk -v n="$nvis" 'BEGIN { printf "visibilities per group: %d (%.2f GB complex64)\n", n, n * 8 / 1e9 }'

# The photometry row (issue 17): photometry + normalisation + variability +
# ESE of one 2048² image of 500 sources on top of 1000 daily epochs of
# history (BENCH_PHOT_EPOCHS, BENCH_PHOT_VARFRAC: the fraction of faint
# sources that vary and get ESE fits; docs/performance.md).
echo
"${B:-$ROOT/build}/tests/photometry/test_stage_photometry" --bench-history \
	"${BENCH_PHOT_EPOCHS:-1000}" 2048 "${BENCH_PHOT_VARFRAC:-0.05}" | sed 's/^/photometry: /'
[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$D/sim" "$D/in" "$D/contig" "$DD" "$D/wsclean"
