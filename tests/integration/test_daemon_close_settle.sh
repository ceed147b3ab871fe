#!/bin/sh
# A subband whose writer closes it before it is finished (close, re-open,
# append) must not be registered half-written (issue 16 item 3, review): a
# file announced by IN_CLOSE_WRITE is registered only after it has been left
# unchanged for [ingest] settle_s; one renamed into place (IN_MOVED_TO) is
# complete and registered at once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_common.inc"

[ -d "$REF1" ] || { skip "reference data absent ($REF1)"; exit 0; }
A=1772344154
write_conf "stages = load, convert, export" "threads = 1"
# settle_s 2 s; the group waits for its last subband (collect_timeout_s
# 30 s), so a late registration cannot make it run without sb15.
sed -i 's/^settle_s = .*/settle_s = 2/; s/^collect_timeout_s = .*/collect_timeout_s = 30/' "$CONF"
make_group "$REF1" $A 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
start_daemon
check "daemon became ready" wait_for 10 grep -q "ready:" "$T/daemon.log"
LAST=$(ls "$T"/stage/*_sb15.hdf5)
NAME15=$(basename "$LAST")
mv "$LAST" "$T/sb15.src"
# 15 subbands renamed into place: registered at once.
mv "$T"/stage/*.hdf5 "$T/in/"
check "renamed files registered at once (well within settle_s = 2 s)" wait_for 2 is \
	"SELECT count(*) FROM subband_files" 15
# sb15: the first half, close; 1 s later re-open and append the rest.
SIZE=$(stat -c %s "$T/sb15.src")
HALF=$((SIZE / 2))
head -c $HALF "$T/sb15.src" >"$T/in/$NAME15"
sleep 1
check "a file closed half-written is not registered within settle_s" is \
	"SELECT count(*) FROM subband_files" 15
tail -c +$((HALF + 1)) "$T/sb15.src" >>"$T/in/$NAME15"
check "the finished file is registered once it settled" wait_for 10 is \
	"SELECT count(*) FROM subband_files" 16
check "... with its full size" is "SELECT size FROM subband_files WHERE path LIKE '%$NAME15'" "$SIZE"
check "the group completes with all 16 subbands" wait_for 60 is \
	"SELECT state FROM groups" completed
check "no subband missing or bad" is "SELECT count(*) FROM subband_files WHERE status != 'ok'" 0
check "not stale" is "SELECT stale FROM groups" 0
stop_daemon
exit 0
