#!/bin/sh
# contimg-web: the JSON API equals `contimgctl … --json` on a state database
# with known content (web_fixture.inc), strict validation of paths, the
# event stream, SIGTERM, and that the service never writes: it runs as an
# unprivileged user that cannot write the state directory, the database file
# is unchanged by it (size, mtime, checksum), and strace shows it never opens
# the database for writing.
. "$(dirname "$0")/lib.sh"
# The service runs as nobody below: its files must be reachable by another
# user, and tests/run.sh gives each test a private (0700) scratch directory.
rmdir "$T" && T=$(mktemp -d /tmp/contimg-web-XXXXXX) && chmod 755 "$T"
. "$(dirname "$0")/web_fixture.inc"

if [ ! -x "$WEB" ]; then
	fail "bin/contimg-web is built"
	exit 0
fi
check "contimg-web --version" sh -c "'$WEB' --version | grep -q '^contimg-web '"
check "contimg-web --help names --listen" sh -c "'$WEB' --help | grep -q -- '--listen'"
check "an unknown argument is exit 2" sh -c "'$WEB' --bogus 2>/dev/null; [ \$? = 2 ]"
# The unit file (ExecStart must exist for verify: the built program).
if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir -p "$T/unit"
	sed "s|@BINDIR@|$BIN|" "$ROOT/ops/contimg-web.service" >"$T/unit/contimg-web.service"
	check "ops/contimg-web.service passes systemd-analyze verify" sh -c \
		"systemd-analyze verify '$T/unit/contimg-web.service' >'$T/verify.out' 2>&1 && ! grep -q 'contimg-web.service' '$T/verify.out'"
	for k in "ProtectSystem=strict" "ReadOnlyPaths=" "NoNewPrivileges=true" \
		"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" "Type=notify"; do
		check "unit has $k" grep -q "^$k" "$ROOT/ops/contimg-web.service"
	done
	check "the unit has no ReadWritePaths" sh -c "! grep -q '^ReadWritePaths' '$ROOT/ops/contimg-web.service'"
else
	ok "systemd-analyze verify # SKIP systemd-analyze not installed"
fi
check "the state database and products (3 groups processed)" web_fixture
if [ ! -s "$DB" ]; then
	sed 's/^/    /' "$T/process.log" | tail -20 >&2
	exit 0
fi

# [web] keys are checked by every program's configuration check.
cp "$CONF" "$T/bad.conf"
printf 'listen = localhost:80\n' >>"$T/bad.conf"
check "[web] listen with a host name: contimg-web exits 2" sh -c \
	"'$WEB' --config '$T/bad.conf' 2>'$T/bad.err'; [ \$? = 2 ] && grep -q 'listen' '$T/bad.err'"
check "... and contimgctl config check refuses it" sh -c \
	"$BIN/contimgctl --config '$T/bad.conf' config check 2>/dev/null; [ \$? = 2 ]"
check "--listen with a bad port: exit 2" sh -c \
	"'$WEB' --config '$CONF' --listen 127.0.0.1:99999 2>/dev/null; [ \$? = 2 ]"
mv "$DB" "$T/db.moved"
check "no state database: exit 3" sh -c "'$WEB' --config '$CONF' --listen 127.0.0.1:0 2>/dev/null; [ \$? = 3 ]"
mv "$T/db.moved" "$DB"

# The service runs as nobody: it can read but not write the state directory.
chmod 755 "$T" "$T/state" "$T/prod"
chmod 644 "$DB"
RUN_AS="setpriv --reuid=nobody --regid=nogroup --clear-groups"

# A writer keeps the database open, as the running daemon does (it owns the
# -wal and -shm files a read-only reader needs).
$PY - "$DB" "$T/holder.ready" <<'PYEOF' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1])
c.execute("SELECT count(*) FROM groups").fetchall()
open(sys.argv[2], "w").close()
time.sleep(300)
PYEOF
HOLDER=$!
for i in $(seq 1 50); do [ -e "$T/holder.ready" ] && break; sleep 0.1; done

if web_start "$T/web1.log" $RUN_AS; then
	ok "contimg-web starts as nobody on a free port ($PORT)"
	check "it says the database is read-only" grep -q "read-only" "$T/web1.log"
	check "no immutable fallback while a writer holds the database" sh -c "! grep -q immutable '$T/web1.log'"
	WEB="http://127.0.0.1:$PORT" CTL="$CTL" DB="$DB" PROD="$T/prod" G_LATEST="$G_LATEST" \
		G_OLD="$G_OLD" SEFD=6500 $PY "$ROOT/tests/integration/test_web_api.py"
	# SIGTERM with an event stream open: the stream ends and the process exits 0.
	curl -sN "http://127.0.0.1:$PORT/api/events" >"$T/sse.txt" 2>/dev/null &
	CURL=$!
	sleep 1
	t0=$(date +%s%N)
	web_stop
	t1=$(date +%s%N)
	kill "$CURL" 2>/dev/null
	wait "$CURL" 2>/dev/null
	check "SIGTERM with an open event stream: exit 0" [ "$WRC" = 0 ]
	check "... within 3 s ($(( (t1 - t0) / 1000000 )) ms)" [ $(( (t1 - t0) / 1000000 )) -lt 3000 ]
	check "... logged" grep -q "stopping" "$T/web1.log"
	check "the stream had sent its first queue event" grep -q "^event: queue" "$T/sse.txt"
else
	fail "contimg-web starts as nobody"
	sed 's/^/    /' "$T/web1.log" >&2
fi
kill "$HOLDER" 2>/dev/null
wait "$HOLDER" 2>/dev/null

# From here on nothing else writes: the database file must not change.
stat -c '%s %Y %y' "$DB" >"$T/db.before"
sha256sum <"$DB" >>"$T/db.before"

# No writer, a directory nobody may write and no -shm: the read-only open
# cannot read a WAL database, and the service falls back to an immutable one.
rm -f "$DB-shm" "$DB-wal"
if web_start "$T/web2.log" $RUN_AS; then
	check "without a writer: the immutable fallback is logged" grep -q "opened immutable" "$T/web2.log"
	check "... and the API answers" sh -c \
		"curl -sf 'http://127.0.0.1:$PORT/api/groups?limit=0' | $PY -c 'import json,sys; assert len(json.load(sys.stdin)) == 31'"
	web_stop
	check "... and it exits 0 on SIGTERM" [ "$WRC" = 0 ]
else
	fail "contimg-web starts without a writer"
	sed 's/^/    /' "$T/web2.log" >&2
fi
check "nobody created no file in the state directory" sh -c "[ ! -e '$DB-shm' ] && [ ! -e '$DB-wal' ]"

# As root (who may write anything): every open of the database file is
# read-only (O_RDONLY, never O_RDWR/O_WRONLY/O_CREAT).
if command -v strace >/dev/null 2>&1; then
	if web_start "$T/web3.log" strace -f -qq -e trace=open,openat -o "$T/strace.txt"; then
		for u in /api/status /api/groups "/api/groups/$G_LATEST" /api/caltables /api/candidates \
			/api/sources/J0834+5512/lightcurve /api/images/latest "/api/sources?q=J0"; do
			curl -sf "http://127.0.0.1:$PORT$u" >/dev/null || fail "GET $u as root"
		done
		web_stop
		check "under strace it exits 0 on SIGTERM" [ "$WRC" = 0 ]
		check "strace saw the database opened" grep -q "contimg.sqlite\"" "$T/strace.txt"
		check "the database file is never opened for writing" sh -c \
			"! grep 'contimg.sqlite\"' '$T/strace.txt' | grep -qE 'O_RDWR|O_WRONLY|O_CREAT'"
	else
		fail "contimg-web starts under strace"
		sed 's/^/    /' "$T/web3.log" >&2
	fi
else
	ok "the database file is never opened for writing # SKIP strace is not installed"
fi
stat -c '%s %Y %y' "$DB" >"$T/db.after"
sha256sum <"$DB" >>"$T/db.after"
check "the database file is unchanged by the service (size, mtime, sha256)" cmp -s "$T/db.before" "$T/db.after"
