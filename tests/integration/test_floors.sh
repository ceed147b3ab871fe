#!/bin/sh
# tests/integration/test_floors.sh — the floors of the source tree hold
# (docs/conventions.md, STYLE "The layout tells the architecture"; issue 15):
#   1. no file includes a header of a higher floor
#      (daemon/ = 3 > calib/, imaging/, photometry/, plot/ = 2 > core/, state/ = 1);
#   2. no file outside state/ holds SQL: no SQL statement in a string literal
#      (SELECT, INSERT INTO, [DO] UPDATE [table] SET, DELETE FROM, CREATE/DROP/ALTER
#      TABLE|INDEX, PRAGMA) and no call that runs SQL text (sqlite3_prepare*,
#      sqlite3_exec, sqlite3_step, db_prepare, db_exec, db_query_int);
#   3. inside daemon/, only the runner and its callers include the runner's
#      header daemon/pipeline.h, directly or through another header: pipeline.c
#      (the table and the runner), workers.c/workers.h (contimgd's worker
#      threads run groups through pipe_execute), contimgd.c (starts them and
#      reads pipe_settings), settings.c (builds the configuration from the
#      settings slot of each row of the table) and ctl_*.c (the contimgctl
#      commands: `process` runs the table, the others read pipe_settings).  The stages
#      (stage_*.c), pointing.c and every other module stand on
#      daemon/pipe_ctx.h, the context below the runner (issue 15 item 1).
# The checker first runs on a small made-up tree with one violation of each
# kind (and look-alikes that are not violations), so a checker that sees
# nothing cannot pass.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
if ! $PY -c 'import re' 2>"$T/py.err"; then
	fail "python3 is needed (make deps installs it)"
	cat "$T/py.err" >&2
	exit 0
fi

cat >"$T/floors.py" <<'PY'
import os, re, sys

FLOOR = {"daemon": 3, "calib": 2, "imaging": 2, "photometry": 2, "plot": 2, "core": 1,
         "state": 1}
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
SQL = re.compile(r'\b(SELECT\s|INSERT\s+INTO\b|UPDATE\s+(\w+\s+)?SET\b|DELETE\s+FROM\b|'
                 r'(CREATE|DROP|ALTER)\s+(TABLE|(UNIQUE\s+)?INDEX|VIEW|TRIGGER)\b|PRAGMA\s)')
CALL = re.compile(r'\b(sqlite3_prepare\w*|sqlite3_exec|sqlite3_step|db_prepare|db_exec|'
                  r'db_query_int)\s*\(')

def split_code(text):
    """(code with comments and literals blanked, [(line, literal)])."""
    code, lits, i, n, line = [], [], 0, len(text), 1
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            line += text.count("\n", i, j)
            code.append("\n" * text.count("\n", i, j))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif c in "\"'":
            j, buf = i + 1, []
            while j < n and text[j] != c and text[j] != "\n":
                if text[j] == "\\" and j + 1 < n:
                    buf.append(text[j:j + 2])
                    j += 2
                else:
                    buf.append(text[j])
                    j += 1
            if c == '"':
                lits.append((line, "".join(buf)))
            code.append(c + c)
            i = j + 1
        else:
            if c == "\n":
                line += 1
            code.append(c)
            i += 1
    return "".join(code), lits

RUNNER = "daemon/pipeline.h"
RUNNER_USERS = re.compile(r'^daemon/(pipeline\.[ch]|workers\.[ch]|contimgd\.c|settings\.c|ctl_\w+\.c)$')

def runner_users(incs):
    """Files of daemon/ that reach RUNNER through their #include lines but are
    not among RUNNER_USERS, each with the chain that gets there."""
    bad = []
    for f in sorted(incs):
        if not f.startswith("daemon/") or RUNNER_USERS.match(f):
            continue
        seen, todo = {f: None}, [f]
        while todo:
            g = todo.pop()
            for inc in incs.get(g, ()):
                if inc not in seen:
                    seen[inc] = g
                    todo.append(inc)
        if RUNNER in seen:
            chain, g = [], RUNNER
            while g is not None:
                chain.append(g)
                g = seen[g]
            bad.append("%s: %s" % (f, " <- ".join(chain)))
    return bad

def check(root):
    up, sql, stage, nfiles, nincl = [], [], [], 0, 0
    incs = {}
    for top in sorted(FLOOR):
        d = os.path.join(root, top)
        if not os.path.isdir(d):
            continue
        for dirpath, _, names in sorted(os.walk(d)):
            for name in sorted(names):
                if not name.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read()
                nfiles += 1
                incs[rel] = []
                for k, l in enumerate(text.split("\n"), 1):
                    m = INCLUDE.match(l)
                    if not m:
                        continue
                    nincl += 1
                    inc = m.group(1)
                    incs[rel].append(inc)
                    to = inc.split("/")[0] if "/" in inc else top
                    if FLOOR.get(to, 0) > FLOOR[top]:
                        up.append("%s:%d includes %s" % (rel, k, inc))
                if top == "state":
                    continue
                code, lits = split_code(text)
                for line, s in lits:
                    if SQL.search(s):
                        sql.append('%s:%d: "%s"' % (rel, line, s[:60]))
                for k, l in enumerate(code.split("\n"), 1):
                    m = CALL.search(l)
                    if m:
                        sql.append("%s:%d: calls %s()" % (rel, k, m.group(1)))
    stage = runner_users(incs)
    return up, sql, stage, nfiles, nincl

up, sql, stage, nfiles, nincl = check(sys.argv[1])
print("files %d" % nfiles)
print("includes %d" % nincl)
for x in up:
    print("up " + x)
for x in sql:
    print("sql " + x)
for x in stage:
    print("stage " + x)
PY

# The checker on a made-up tree: exactly the planted violations.
F="$T/fake"
mkdir -p "$F/core" "$F/state" "$F/daemon" "$F/calib"
cat >"$F/core/a.c" <<'C'
#include "core/a.h"
#include "state/db.h"
#include "daemon/pipeline.h"
/* SELECT id FROM groups in a comment is prose */
// INSERT INTO t VALUES (1) in a line comment too
static const char *ok = "select a calibrator; DELETE the file; UPDATE available";
static const char q = '"';
static const char *bad = "SELECT id FROM groups WHERE x = ?";
int f(void) { return db_exec(0, 0, 0, ok, 0); }
C
cat >"$F/calib/b.c" <<'C'
#include "imaging/grid.h"
#include "b.h"
int g(sqlite3 *db) { sqlite3_stmt *st; return sqlite3_prepare_v2 (db, s, -1, &st, 0); }
C
cat >"$F/state/q.c" <<'C'
#include "core/err.h"
static const char *sql = "SELECT id FROM groups; CREATE TABLE x (a INTEGER)";
int h(void) { return sqlite3_step(0); }
C
cat >"$F/daemon/stage_x.c" <<'C'
#include "daemon/pipeline.h"
#include "calib/flag.h"
C
cat >"$F/daemon/y.c" <<'C'
#include "daemon/ctl.h"
static const char *s = "  ON CONFLICT (id) DO UPDATE SET x = 1";
C
cat >"$F/daemon/ctl.h" <<'C'
#include "daemon/pipeline.h"
C
cat >"$F/daemon/ctl_x.c" <<'C'
#include "daemon/pipeline.h"
#include "daemon/pipe_ctx.h"
C
cat >"$F/daemon/stage_ok.c" <<'C'
#include "daemon/pipe_ctx.h"
#include "daemon/stage_ok.h"
C
$PY "$T/floors.py" "$F" >"$T/fake.out" 2>&1
cat >"$T/fake.want" <<'W'
files 8
includes 14
up core/a.c:3 includes daemon/pipeline.h
sql calib/b.c:3: calls sqlite3_prepare_v2()
sql core/a.c:8: "SELECT id FROM groups WHERE x = ?"
sql core/a.c:9: calls db_exec()
sql daemon/y.c:2: "  ON CONFLICT (id) DO UPDATE SET x = 1"
stage daemon/ctl.h: daemon/pipeline.h <- daemon/ctl.h
stage daemon/stage_x.c: daemon/pipeline.h <- daemon/stage_x.c
stage daemon/y.c: daemon/pipeline.h <- daemon/ctl.h <- daemon/y.c
W
check "the checker finds exactly the violations planted in a made-up tree" \
	diff "$T/fake.want" "$T/fake.out"

# The real tree.
$PY "$T/floors.py" "$ROOT" >"$T/real.out" 2>&1
check "the checker ran on the source tree" grep -q '^files [1-9]' "$T/real.out"
echo "# $(grep '^files' "$T/real.out") scanned, $(grep '^includes' "$T/real.out" | cut -d' ' -f2) #include lines"
nup=$(grep -c '^up ' "$T/real.out")
nsql=$(grep -c '^sql ' "$T/real.out")
echo "# $nup upward includes, $nsql SQL statements or calls outside state/"
grep -E '^(up|sql) ' "$T/real.out" | sed 's/^/#   /'
check "no file includes a header of a higher floor" [ "$nup" = 0 ]
check "no SQL outside state/" [ "$nsql" = 0 ]
nstage=$(grep -c '^stage ' "$T/real.out")
echo "# $nstage file(s) of daemon/ outside the runner and its callers reach daemon/pipeline.h"
grep '^stage ' "$T/real.out" | sed 's/^/#   /'
check "only the runner and its callers include daemon/pipeline.h (stages use daemon/pipe_ctx.h)" \
	[ "$nstage" = 0 ]
exit 0
