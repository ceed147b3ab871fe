#!/bin/sh
# tests/fuzz/run.sh — build and run the libFuzzer harness for UVH5 header
# validation (`make fuzz`).  `make test` runs it for FUZZ_SECONDS=30 (through
# tests/run.sh, which counts the "ok"/"not ok" line each mode prints).
#
#   FUZZ_SECONDS=600 sh tests/fuzz/run.sh      total time, split over the two modes
#
# Needs clang with libFuzzer (Debian: clang-14 libclang-rt-14-dev).  No corpus
# is kept: each run starts from nothing (a scratch corpus dir is deleted at the
# end).  The fuzzer runs in fork mode and keeps going after a crash, so one run
# surveys several; every crash input is kept in build-fuzz/ and classified by
# its first stack frame in our code or in HDF5 (malloc may return NULL, as in
# production, so an absurd size request is an error HDF5 handles, not a crash):
#   - ours (core/uvh5_*.c, core/h5.c, core/lzf.c or a broken invariant in the
#     harness): the run fails;
#   - HDF5-internal (HDF5 1.10's decoder on corrupt metadata, "bytes" mode):
#     reported, not failed — we cannot fix them; see docs/uvh5.md.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
SECS=${FUZZ_SECONDS:-300}
OUT=build-fuzz
CC_FUZZ=${CC_FUZZ:-$(command -v clang-14 || command -v clang || true)}
if [ -z "$CC_FUZZ" ]; then
	echo "fuzz: clang not found (apt-get install clang-14 libclang-rt-14-dev)" >&2
	exit 2
fi
mkdir -p "$OUT"
rm -f "$OUT"/*-crash-* "$OUT"/*-oom-* "$OUT"/*-timeout-*
PK="hdf5 json-c erfa"
echo "fuzz: building $OUT/fuzz_uvh5_header with $CC_FUZZ"
"$CC_FUZZ" -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I. $(pkg-config --cflags $PK) -o "$OUT/fuzz_uvh5_header" \
	tests/fuzz/fuzz_uvh5_header.c core/uvh5_read.c core/uvh5_raw.c core/uvh5_write.c \
	core/h5.c core/lzf.c core/vis.c core/pool.c core/err.c core/version.c \
	$(pkg-config --libs $PK) -lm -lpthread || exit 2

# First stack frame that is in HDF5, in our HDF5 code or in the harness.
classify() { # mode artifact
	UVH5_FUZZ_MODE=$1 ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 "$OUT/fuzz_uvh5_header" -rss_limit_mb=4096 \
		"$2" >"$2.txt" 2>&1
	f=$(grep -E '^ +#[0-9]+ ' "$2.txt" | grep -E 'libhdf5|core/(uvh5_[a-z]+|h5|lzf)\.c|fuzz_uvh5_header\.c' | head -1)
	case "$f" in
	*libhdf5*) echo hdf5 ;;
	"") grep -q 'out-of-memory\|timeout' "$2.txt" && echo ours || echo none ;;
	*) echo ours ;;
	esac
}

rc=0
for mode in struct bytes; do
	t=$((SECS / 2))
	len=4096
	if [ "$mode" = struct ]; then
		# A recipe is ~60-120 bytes; start there rather than growing from 4.
		t=$((SECS - SECS / 2))
		len=256
	fi
	corpus=$(mktemp -d /tmp/contimg-fuzz-XXXXXX)
	echo "fuzz: mode $mode for ${t}s"
	UVH5_FUZZ_MODE=$mode ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 "$OUT/fuzz_uvh5_header" "$corpus" \
		-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 \
		-max_total_time="$t" -rss_limit_mb=4096 -max_len=$len -len_control=0 -timeout=20 \
		-artifact_prefix="$OUT/$mode-" >"$OUT/fuzz-$mode.log" 2>&1
	grep -E '^#[0-9]+: .*exec/s' "$OUT/fuzz-$mode.log" | tail -1
	n_hdf5=0
	n_ours=0
	for a in "$OUT/$mode"-crash-* "$OUT/$mode"-oom-* "$OUT/$mode"-timeout-*; do
		[ -f "$a" ] || continue
		case "$a" in *.txt) continue ;; esac
		case $(classify "$mode" "$a") in
		hdf5) n_hdf5=$((n_hdf5 + 1)); kind="inside HDF5" ;;
		ours) n_ours=$((n_ours + 1)); kind="IN OUR CODE" ;;
		*) kind="not reproducible" ;;
		esac
		echo "fuzz: $mode: $a: $kind: $(grep -m1 -E 'ERROR|SUMMARY' "$a.txt")"
	done
	echo "fuzz: mode $mode: $n_ours failure(s) in our code, $n_hdf5 inside HDF5"
	execs=$(grep -oE '^#[0-9]+' "$OUT/fuzz-$mode.log" | tail -1)
	if [ "$n_ours" = 0 ] && [ -n "$execs" ]; then
		echo "ok - fuzz: mode $mode: ${t}s, ${execs#\#} inputs, no failure in our code ($n_hdf5 inside HDF5)"
	else
		echo "not ok - fuzz: mode $mode: $n_ours failure(s) in our code${execs:+}${execs:- (the fuzzer did not run)}"
		rc=1
	fi
	rm -rf "$corpus"
done
exit $rc
