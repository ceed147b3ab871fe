#!/bin/sh
# tests/fuzz/run.sh — build and run the libFuzzer harness for UVH5 header
# validation (`make fuzz`).  Not part of `make test`.
#
#   FUZZ_SECONDS=600 sh tests/fuzz/run.sh      total time, split over the two modes
#
# Needs clang with libFuzzer (Debian: clang-14 libclang-rt-14-dev).  No corpus
# is kept: each run starts from nothing (a scratch corpus dir is deleted at the
# end); crash inputs, if any, are kept in build-fuzz/ and the run fails.
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
PK="hdf5 json-c erfa"
set -x
"$CC_FUZZ" -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I. $(pkg-config --cflags $PK) -o "$OUT/fuzz_uvh5_header" \
	tests/fuzz/fuzz_uvh5_header.c core/uvh5.c core/vis.c core/err.c \
	$(pkg-config --libs $PK) -lm -lpthread || exit 2
set +x
rc=0
for mode in struct bytes; do
	t=$((SECS / 2))
	[ "$mode" = struct ] && t=$((SECS - SECS / 2))
	corpus=$(mktemp -d /tmp/contimg-fuzz-XXXXXX)
	echo "fuzz: mode $mode for ${t}s"
	UVH5_FUZZ_MODE=$mode ASAN_OPTIONS=detect_leaks=0 "$OUT/fuzz_uvh5_header" "$corpus" \
		-max_total_time="$t" -rss_limit_mb=4096 -max_len=4096 -timeout=20 \
		-artifact_prefix="$OUT/crash-$mode-" -print_final_stats=1 2>"$OUT/fuzz-$mode.log"
	r=$?
	grep -E '^(stat::number_of_executed_units|stat::new_units_added|#[0-9]+ +DONE)' "$OUT/fuzz-$mode.log"
	if [ $r != 0 ]; then
		echo "fuzz: mode $mode FAILED (exit $r); see $OUT/fuzz-$mode.log and $OUT/crash-$mode-*" >&2
		grep -A30 'ERROR' "$OUT/fuzz-$mode.log" | head -40 >&2
		rc=1
	fi
	rm -rf "$corpus"
done
exit $rc
