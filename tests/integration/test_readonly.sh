#!/bin/sh
# tests/integration/test_readonly.sh — contimgctl's read commands (the rows
# with CTL_NEEDS_DB_RO) for a user who can read but not write the state
# directory (issue 18 item 4): with the daemon stopped (no -shm/-wal left:
# SQLite cannot create them, state/db.c falls back to immutable=1), with the
# daemon running (SQLite reads through the daemon's -shm), and on a read-only
# bind mount; write commands fail with a message that says why.  The reader is
# `nobody` (runuser); needs root, else skipped.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ] || ! command -v runuser >/dev/null 2>&1; then
	echo "ok - $NAME: read-only use # SKIP needs root and runuser (to act as nobody)"
	exit 0
fi
# nobody must reach the programs, the config and the state: a directory of its
# own outside the runner's private scratch directory.
R=$(mktemp -d /tmp/contimg-ro-XXXXXX)
chmod 755 "$R"
MNT=
cleanup() {
	[ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	[ -n "$MNT" ] && umount "$MNT" 2>/dev/null
	rm -rf "$R" "$T"
}
DPID=
trap cleanup EXIT
if ! runuser -u nobody -- test -x "$BIN/contimgctl"; then
	echo "ok - $NAME: read-only use # SKIP nobody cannot execute $BIN/contimgctl"
	exit 0
fi
mkdir -p "$R/in" "$R/state" "$R/prod"
cat >"$R/c.conf" <<CONF
[paths]
ingest_dir = $R/in
state_dir = $R/state
products_dir = $R/prod
[ingest]
rescan_interval_s = 0
[image]
size = 256
cell_arcsec = 6
CONF
chmod 644 "$R/c.conf"
CTL="$BIN/contimgctl --config $R/c.conf"
"$BIN/contimg-sim" --tiny --out "$R/sim" --quiet --no-truth >/dev/null 2>&1
$CTL process "$R/sim" --set pipeline.stages=load,convert,flag >/dev/null 2>&1
check "a group completed (as root)" sh -c "$CTL groups | grep -q completed"
G=$($CTL groups --json | sed -n 's/.*"group_id": "\([^"]*\)".*/\1/p' | head -1)
# The modes docs/operations.md recommends, with `other` in the group's place:
# state_dir 0755 (r-x for the reader), database 0644.
chmod 755 "$R/state"
chmod 644 "$R/state/contimg.sqlite"
AS="runuser -u nobody --"
# The last writer's close normally removes -wal and -shm; make sure they are
# gone (a checkpoint by the sqlite3 shell, the last connection), so the
# reader meets the case SQLite cannot open without creating them.
if command -v sqlite3 >/dev/null 2>&1; then
	sqlite3 "$R/state/contimg.sqlite" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
fi

# read_all LABEL: every read command as nobody, each must exit 0.
read_all() {
	for cmd in "status" "status --json" "groups" "groups --json" "show $G" "show $G --json" \
		"candidates" "pointing list" "metrics" "caltables"; do
		# shellcheck disable=SC2086
		if $AS $BIN/contimgctl --config "$R/c.conf" $cmd >"$R/out" 2>"$R/err"; then
			ok "$1: $cmd"
		else
			fail "$1: $cmd (exit $?)"
			sed 's/^/    /' "$R/err" >&2
		fi
	done
}
check "daemon stopped: no -shm left to read through" test ! -e "$R/state/contimg.sqlite-shm"
read_all "stopped"
$AS $BIN/contimgctl --config "$R/c.conf" groups >"$R/g.txt" 2>&1
check "stopped: groups lists $G" grep -q "$G" "$R/g.txt"
check "stopped: nothing created in state_dir" test ! -e "$R/state/contimg.sqlite-shm"

# Write commands: refused with the reason.
$AS $BIN/contimgctl --config "$R/c.conf" requeue "$G" >/dev/null 2>"$R/w.err"
# A reader is not the owner of state_dir (the daemon's user): a command that
# writes is refused before it opens anything (daemon/ctl.h ctl_become_owner).
check "requeue as reader: exit 2" test $? = 2
check "and the message names the owner (the daemon's user)" grep -q "belongs to .*(the daemon's user), not to" "$R/w.err"
sed 's/^/# /' "$R/w.err"
$AS $BIN/contimgctl --config "$R/c.conf" candidate X --dismissed >/dev/null 2>"$R/w2.err"
check "candidate --dismissed as reader: exit 2, same message" \
	sh -c "[ $? = 2 ] && grep -q \"the daemon's user\" '$R/w2.err'"

# The daemon running (as root): the reader reads through its -shm.
"$BIN/contimgd" --config "$R/c.conf" --foreground --log-format text >"$R/d.log" 2>&1 &
DPID=$!
i=0
while [ ! -e "$R/state/contimg.sqlite-shm" ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
check "daemon running: -shm exists" test -e "$R/state/contimg.sqlite-shm"
chmod 644 "$R/state/contimg.sqlite-shm" "$R/state/contimg.sqlite-wal" 2>/dev/null
read_all "running"
$AS $BIN/contimgctl --config "$R/c.conf" status >"$R/s.txt" 2>&1
check "running: status says the daemon runs" grep -qi 'running' "$R/s.txt"
kill "$DPID"
wait "$DPID" 2>/dev/null
DPID=

# A read-only bind mount of the state directory (root, CAP_SYS_ADMIN).
mkdir -p "$R/ro"
if mount --bind "$R/state" "$R/ro" 2>/dev/null && mount -o remount,bind,ro "$R/ro" 2>/dev/null; then
	MNT=$R/ro
	sed "s|state_dir = .*|state_dir = $R/ro|" "$R/c.conf" >"$R/ro.conf"
	chmod 644 "$R/ro.conf"
	check "the mount is read-only" sh -c "! touch '$R/ro/x' 2>/dev/null"
	for cmd in "status" "groups" "show $G" "metrics"; do
		# shellcheck disable=SC2086
		check "ro mount, root: $cmd" $BIN/contimgctl --config "$R/ro.conf" $cmd
		# shellcheck disable=SC2086
		check "ro mount, nobody: $cmd" $AS $BIN/contimgctl --config "$R/ro.conf" $cmd
	done
	$BIN/contimgctl --config "$R/ro.conf" requeue "$G" >/dev/null 2>"$R/w3.err"
	check "ro mount: requeue refused (exit 3)" test $? = 3
	check "and the message names the read-only file system" grep -q 'Read-only file system' "$R/w3.err"
else
	echo "ok - $NAME: read-only bind mount # SKIP mount --bind -o ro not permitted here"
fi
