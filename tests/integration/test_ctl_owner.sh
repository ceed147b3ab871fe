#!/bin/sh
# Files contimgctl writes are the daemon's (issue 16 item 8): run as root,
# `contimgctl process` becomes the owner of state_dir before it creates
# anything, so the product directories it makes do not break the daemon's
# next group with EACCES; run as another unprivileged user, a writing command
# is refused and says whose the directory is, while reading still works.
# The daemon's user here is `nobody`, the other user `daemon` (both in every
# Debian base system).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_common.inc"

[ "$(id -u)" = 0 ] || { skip "needs root (changes users)"; exit 0; }
[ -d "$REF1" ] || { skip "reference data absent ($REF1)"; exit 0; }
id nobody >/dev/null 2>&1 && id daemon >/dev/null 2>&1 || { skip "users nobody/daemon absent"; exit 0; }
NG=$(id -gn nobody)
# A tree the unprivileged users can reach ($T's parents are private).
W=$(mktemp -d /tmp/contimg-owner-XXXXXX)
trap 'rm -rf "$W"' EXIT
chmod 755 "$W"
mkdir -p "$W/in" "$W/state" "$W/prod" "$W/stage"
chown nobody:"$NG" "$W/in" "$W/state" "$W/prod"
CONF="$W/contimg.conf"
DB="$W/state/contimg.sqlite"
CTL="$BIN/contimgctl --config $CONF"
cat >"$CONF" <<EOF
[paths]
ingest_dir = $W/in
state_dir = $W/state
products_dir = $W/prod
[ingest]
collect_timeout_s = 3
poll_interval_s = 0.3
retry_delay_s = 1
rescan_interval_s = 0
settle_s = 1
[pipeline]
threads = 1
export_vis = true
stages = load, convert, export
EOF
chmod 644 "$CONF"
A=1772344154
T_SAVE=$T; T=$W
make_group "$REF1" $A 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
mkdir "$W/g1" && mv "$W"/stage/*.hdf5 "$W/g1/" && chmod -R a+rX "$W/g1"
make_group "$REF1" $((A + 300)) 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
T=$T_SAVE

# --- root runs contimgctl process on a state_dir that is nobody's ---
$CTL process "$W"/g1/*.hdf5 >"$T/p.out" 2>"$T/p.err"
rc=$?
sed 's/^/# process: /' "$T/p.err" | grep -v ' info: ' | tail -3
check "process as root: exit 0" [ "$rc" = 0 ]
check "... it says it ran as the owner of state_dir" grep -q "running as nobody, the owner of $W/state" "$T/p.err"
check "... the products exist" sh -c "[ -n \"\$(find '$W/prod' -type f | head -1)\" ]"
check "... nothing it created in prod/ or state/ is root's" \
	sh -c "[ -z \"\$(find '$W/prod' '$W/state' -user root)\" ]"
check "... the product directories are nobody's" \
	sh -c "[ -z \"\$(find '$W/prod' -mindepth 1 -type d ! -user nobody)\" ]"

# --- the daemon, as nobody, processes the next group (no EACCES) ---
setpriv --reuid=nobody --regid="$NG" --init-groups "$BIN/contimgd" --config "$CONF" --foreground \
	--log-format text >"$T/daemon.log" 2>&1 &
DPID=$!
check "daemon (as nobody) became ready" wait_for 10 grep -q "ready:" "$T/daemon.log"
mv "$W"/stage/*.hdf5 "$W/in/"
check "the daemon completes the next group" wait_for 60 is \
	"SELECT count(*) FROM groups WHERE state = 'completed'" 2
check "... without a permission error" sh -c "! grep -qi 'permission denied\|EACCES' '$T/daemon.log'"
kill "$DPID"; wait "$DPID" 2>/dev/null

# --- another unprivileged user: writing refused, reading works ---
setpriv --reuid=daemon --regid=daemon --clear-groups $CTL requeue --reason x \
	2026-03-01T05:49:14 >"$T/rq.out" 2>"$T/rq.err"
rc=$?
sed 's/^/# requeue as daemon: /' "$T/rq.err"
check "requeue as another user: exit 2" [ "$rc" = 2 ]
check "... it names the owner and the way out" \
	grep -q "belongs to nobody (the daemon's user), not to daemon.*sudo -u nobody" "$T/rq.err"
check "... the group was not requeued" is "SELECT state FROM groups WHERE name = '2026-03-01T05:49:14'" completed
check "... and nothing of that user's is left in state/" \
	sh -c "[ -z \"\$(find '$W/state' -user daemon)\" ]"
exit 0
