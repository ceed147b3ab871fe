#!/bin/sh
# contimg-web's page in headless Chromium (python3-selenium + chromedriver):
# it loads without console errors, the groups and candidates tables hold the
# fixture's rows, the light-curve SVG has its points and the ESE model, the
# quick-look picture renders, search works, a queue change arrives by the
# event stream, and the phone width does not scroll sideways.  Skipped when
# chromium, chromedriver or selenium is missing (make deps-test installs
# them).  WEB_SCREENSHOT=FILE keeps the screenshot (docs/web.png is one).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/web_fixture.inc"

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] ||
	! $PY -c 'import selenium' 2>/dev/null; then
	ok "the page in headless Chromium # SKIP chromium, chromium-driver or python3-selenium missing"
	exit 0
fi
if [ ! -x "$WEB" ]; then
	fail "bin/contimg-web is built"
	exit 0
fi
check "the state database and products (3 groups processed)" web_fixture
if web_start "$T/web.log"; then
	WEB="http://127.0.0.1:$PORT" CTL="$CTL" G_OLD="$G_OLD" SHOT="${WEB_SCREENSHOT:-$T/web.png}" \
		SHOT_PHONE="${WEB_SCREENSHOT_PHONE:-}" HOME="$T" \
		$PY "$ROOT/tests/integration/test_web_page.py" 2>"$T/page.err" || {
		fail "the selenium script ran to its end"
		tail -20 "$T/page.err" | sed 's/^/    /' >&2
	}
	grep -v '^    ' "$T/page.err" | grep -q . && tail -20 "$T/page.err" | sed 's/^/    /' >&2
	web_stop
	check "contimg-web exits 0 on SIGTERM" [ "$WRC" = 0 ]
else
	fail "contimg-web starts"
	sed 's/^/    /' "$T/web.log" >&2
fi
