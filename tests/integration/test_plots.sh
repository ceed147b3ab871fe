#!/bin/sh
# The pictures (docs/plots.md) on a processed reference group: the image
# stage's quicklook.png (a PNG of the expected size, registered as the
# product `quicklook`), contimgctl plot image|stamp|caltable, stamps and
# lightcurve --png|--svg, with their exit codes.
. "$(dirname "$0")/lib.sh"
CTL="$BIN/contimgctl --config $T/contimg.conf"
mkdir -p "$T/state" "$T/products" "$T/in"
cat >"$T/contimg.conf" <<CONF
[paths]
state_dir = $T/state
products_dir = $T/products
ingest_dir = $T/in
[pipeline]
threads = 2
[image]
size = 512
cell_arcsec = 3
niter = 200
CONF
DB=$T/state/contimg.sqlite
rc() { "$@" >/dev/null 2>&1; echo $?; }
# "W H" of a PNG from its IHDR chunk (bytes 16..23, big-endian), or nothing
# when the file does not start with the PNG signature.
pngsize() {
	/usr/bin/python3 -c '
import struct, sys
b = open(sys.argv[1], "rb").read(24)
if b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR":
    print(*struct.unpack(">II", b[16:24]))' "$1" 2>/dev/null
}

check "import the VLA calibrators" $CTL catalog import --vla "$DATA/catalogs/vlacalibrators.txt"
check "import the reference catalog" $CTL catalog import --csv "$DATA/reference/catalog.csv"
G=2026-03-01T05:49:14
check "process cal-0834 (image 512 x 3\")" $CTL process "$DATA/reference/cal-0834"
QL=$T/products/2026-03-01/$G/quicklook.png
check "the image stage wrote quicklook.png" test -s "$QL"
# 512 pixels fit in 1024: not binned; the canvas is the image area plus the
# margins of plot/qlook.c (86 left, 36 top, 56 bottom, 22 + 18 + 84 right)
check "quicklook.png is a PNG of 722 x 604" test "$(pngsize "$QL")" = "722 604"
check "quicklook is registered as a product" \
	test "$(sqlite3 "$DB" "SELECT path FROM products WHERE name = 'quicklook'")" = "$QL"
check "show lists the quick-look" sh -c "$CTL show $G | grep -q 'quicklook'"

# --- plot image ---
IMG=$T/products/2026-03-01/$G/$G.image.fits
$CTL plot image "$IMG" "$T/ql.png" --catalog >"$T/pi.out" 2>&1
check "plot image --catalog writes a PNG" test "$(pngsize "$T/ql.png")" = "722 604"
check "plot image circles the catalog's sources in the field" \
	grep -q ' [1-9][0-9]* catalog sources circled' "$T/pi.out"
# the stage draws from the pixels in memory, plot image from the file: the
# same picture, byte for byte
check "plot image --catalog of the FITS is the stage's quicklook.png" cmp -s "$QL" "$T/ql.png"
$CTL plot image "$IMG" "$T/ql256.png" --max-px 256 --asinh >/dev/null 2>&1
check "plot image --max-px 256 bins 2 x 2" test "$(pngsize "$T/ql256.png")" = "466 348"
check "plot image to .svg is well-formed" sh -c "$CTL plot image '$IMG' '$T/ql.svg' >/dev/null &&
	xmllint --noout '$T/ql.svg'"
check "plot image of a missing file is not found (1)" \
	test "$(rc $CTL plot image "$T/none.fits" "$T/x.png")" = 1
check "plot image without OUT is bad usage (2)" test "$(rc $CTL plot image "$IMG")" = 2

# --- plot stamp ---
$CTL plot stamp "$IMG" 08:33:00 +55:00:00 "$T/st.png" --size 3 >"$T/st.out" 2>&1
check "plot stamp writes a PNG" test -n "$(pngsize "$T/st.png")"
check "a 3' stamp at 3\" is 61 pixels" grep -q '(61 x 61 pixels' "$T/st.out"
check "plot stamp in degrees" sh -c "$CTL plot stamp '$IMG' 128.25 55.0 '$T/st2.png' --pixels 31 | grep -q '(31 x 31'"
check "a position outside the image is bad input (2)" \
	test "$(rc $CTL plot stamp "$IMG" 10.0 -30.0 "$T/x.png")" = 2
check "a missing image is not found (1)" \
	test "$(rc $CTL plot stamp "$T/none.fits" 128.25 55.0 "$T/x.png")" = 1

# --- plot caltable on the tables the calibrate stage solved ---
BID=$(sqlite3 "$DB" "SELECT id FROM caltables WHERE type = 'B' LIMIT 1")
GID=$(sqlite3 "$DB" "SELECT id FROM caltables WHERE type = 'G' LIMIT 1")
check "the group left a bandpass and a gain table" test -n "$BID" -a -n "$GID"
$CTL plot caltable "$BID" "$T/bp.png" >"$T/bp.out" 2>&1
check "plot caltable B: a 1000 x 720 PNG against frequency" \
	sh -c "test \"\$(/usr/bin/python3 -c 'import struct; b = open(\"$T/bp.png\", \"rb\").read(24); print(*struct.unpack(\">II\", b[16:24]))')\" = '1000 720' &&
	       grep -q 'against frequency' '$T/bp.out'"
check "plot caltable G" sh -c "$CTL plot caltable $GID '$T/g.svg' | grep -q 'good solutions' &&
	xmllint --noout '$T/g.svg'"
BPATH=$(sqlite3 "$DB" "SELECT path FROM caltables WHERE id = $BID")
check "plot caltable of a table file" sh -c "$CTL plot caltable '$BPATH' '$T/bp2.png' >/dev/null &&
	cmp -s '$T/bp.png' '$T/bp2.png'"
check "an unknown table id is not found (1)" test "$(rc $CTL plot caltable 999 "$T/x.png")" = 1

# --- light curve and stamps of a measured source (one epoch: not normalised
# yet, so the plot shows the raw flux) ---
SRC=$(sqlite3 "$DB" "SELECT source FROM photometry WHERE flux_jy IS NOT NULL LIMIT 1")
check "photometry measured a source" test -n "$SRC"
check "lightcurve --png of raw fluxes" sh -c "$CTL lightcurve '$SRC' --png '$T/lc.png' | grep -q 'raw fluxes'"
check "the light-curve PNG is 900 x 420" test "$(pngsize "$T/lc.png")" = "900 420"
check "lightcurve --svg is well-formed" sh -c "$CTL lightcurve '$SRC' --svg '$T/lc.svg' >/dev/null &&
	xmllint --noout '$T/lc.svg'"
check "stamps SOURCE writes a strip" sh -c "$CTL stamps '$SRC' '$T/strip.png' | grep -q '(1 epochs'"
check "stamps of an unknown source is not found (1)" test "$(rc $CTL stamps NOPE "$T/x.png")" = 1

# --- [image] quicklook_png = false: no picture, no product ---
check "requeue" $CTL requeue $G
rm -f "$QL"
check "process with quicklook_png = false" $CTL process "$DATA/reference/cal-0834" --set image.quicklook_png=false
check "no quicklook.png then" test ! -e "$QL"
check "and no quicklook product" \
	test "$(sqlite3 "$DB" "SELECT count(*) FROM products WHERE name = 'quicklook'")" = 0
