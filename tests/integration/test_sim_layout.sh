#!/bin/sh
# tests/integration/test_sim_layout.sh — contimg-sim writes the subband files
# as the DSA-110 correlator does (issue 19): its writer (dsa110-meridian-fs
# dsamfs/io.py) creates Data/visdata, flags, nsamples and the per-row Header/
# arrays empty and resizable with h5py's automatic chunks and no filters, and
# appends one integration at a time.  h5py itself is the authority here: the
# same datasets are created the writer's way in a scratch file and their
# chunk shapes, maximum shapes, filters and types must equal ours.  The
# contiguous variant (--layout contiguous) holds the same numbers.
. "$(dirname "$0")/lib.sh"
SIM=$BIN/contimg-sim
CTL=$BIN/contimgctl
PY=/usr/bin/python3
if ! $PY -c 'import numpy, h5py' 2>"$T/py.err"; then
	fail "python3-numpy and python3-h5py are needed (make deps installs them)"
	cat "$T/py.err" >&2
	exit 0
fi

# 48 channels and 2 pols per file, as the correlator's: the chunk shapes
# depend on those (the rows are always 1024 for an empty dataset).
ARGS="--nants 6 --ntimes 3 --subbands 2 --random 1 --no-truth --quiet --seed 4"
check "default layout group is written" $SIM $ARGS --out "$T/ch"
check "contiguous layout group is written" $SIM $ARGS --layout contiguous --out "$T/co"
check "--layout with a bad word exits 2" sh -c "$SIM --layout packed --out $T/bad 2>/dev/null; [ \$? = 2 ]"
check "--help documents --layout" sh -c "$SIM --help | grep -q -- '--layout chunked|contiguous'"

cat >"$T/layout.py" <<'PY'
import sys, glob, h5py, numpy as np

chunked, contiguous, scratch = sys.argv[1:4]
rows = ["Data/visdata", "Data/flags", "Data/nsamples", "Header/ant_1_array",
        "Header/ant_2_array", "Header/uvw_array", "Header/time_array",
        "Header/integration_time"]
f0 = sorted(glob.glob(chunked + "/*_sb00.hdf5"))[0]
g0 = sorted(glob.glob(contiguous + "/*_sb00.hdf5"))[0]
bad = 0
with h5py.File(f0, "r") as f, h5py.File(scratch, "w") as s:
    nf, npol = f["Data/visdata"].shape[2:]
    # The correlator's creation calls (dsamfs/io.py initialize_uvh5_file).
    d, h = s.create_group("Data"), s.create_group("Header")
    h.create_dataset("ant_1_array", (0,), maxshape=(None,), dtype=np.int64, chunks=True)
    h.create_dataset("ant_2_array", (0,), maxshape=(None,), dtype=np.int64, chunks=True)
    h.create_dataset("uvw_array", (0, 3), maxshape=(None, 3), dtype=np.float32, chunks=True)
    h.create_dataset("time_array", (0,), maxshape=(None,), dtype=np.float64, chunks=True)
    h.create_dataset("integration_time", (0,), maxshape=(None,), dtype=np.float64, chunks=True)
    d.create_dataset("visdata", (0, 1, nf, npol), maxshape=(None, 1, nf, npol),
                     dtype=np.complex64, chunks=True)
    d.create_dataset("flags", (0, 1, nf, npol), maxshape=(None, 1, nf, npol),
                     dtype=bool, chunks=True)
    d.create_dataset("nsamples", (0, 1, nf, npol), maxshape=(None, 1, nf, npol),
                     dtype=np.float32)
    for name in rows:
        a, b = f[name], s[name]
        same = (a.chunks == b.chunks and a.maxshape == b.maxshape and
                a.compression is None and b.compression is None and
                a.dtype == b.dtype and a.id.get_type().equal(b.id.get_type()))
        print("#", name, "contimg-sim", a.chunks, a.maxshape, a.dtype,
              "| correlator's h5py", b.chunks, b.maxshape, b.dtype)
        if not same:
            print("layout differs:", name)
            bad += 1
with h5py.File(f0, "r") as f, h5py.File(g0, "r") as g:
    for name in rows:
        if g[name].chunks is not None:
            print("contiguous variant is chunked:", name)
            bad += 1
        if not np.array_equal(f[name][()], g[name][()], equal_nan=True):
            print("values differ between the layouts:", name)
            bad += 1
sys.exit(1 if bad else 0)
PY
$PY "$T/layout.py" "$T/ch" "$T/co" "$T/correlator.h5" >"$T/layout.out" 2>&1
rc=$?
grep '^#' "$T/layout.out"
check "chunks, maxshape, filters and types are the correlator's h5py ones; the contiguous variant holds the same values" \
	sh -c "exit $rc"
[ $rc = 0 ] || grep -v '^#' "$T/layout.out" >&2
if [ -x "$CTL" ]; then
	check "contimgctl inspect reads both layouts" sh -c \
		"$CTL inspect --json $T/ch/*_sb*.hdf5 $T/co/*_sb*.hdf5 > $T/inspect.json && [ \$(grep -c '\"nfreqs\":48' $T/inspect.json) = 4 ]"
fi
