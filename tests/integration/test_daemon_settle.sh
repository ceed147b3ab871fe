#!/bin/sh
# What a hostile ingest directory does to registration (issue 16 items 3, 9,
# 11), with the real daemon and periodic rescans every second:
#  - a subband written in place over ~4 s is not registered by a rescan while
#    it changes (settle_s = 2); it is registered once complete;
#  - a file a completed group used that changes afterwards marks the group
#    stale (contimgctl groups --state stale, show), never silently "ok";
#    requeue runs it again and clears the mark;
#  - a good re-sent subband recorded as a duplicate of a truncated first copy
#    is used after requeue;
#  - symbolic links are refused (logged, not registered), whether a rescan
#    finds them or they are renamed into the directory.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_common.inc"

A=1772344154
B=$((A + 300))
C=$((A + 600))
D=$((A + 900))
tools || { fail "cannot build the helper"; exit 0; }
write_conf "stages = load" "[ingest]" "rescan_interval_s = 1" "settle_s = 2"
# A slow subband must not be overtaken by the collect timeout.
CONTIMG_INGEST_COLLECT_TIMEOUT_S=60 start_daemon
check "daemon ready" wait_for 20 grep -q "ready:" "$T/daemon.log"

# ---- settle: sb15 written in place in four pieces, ~1.3 s apart, one open
# file description (so IN_CLOSE_WRITE comes once, at the end).
make_group "$REF1" $A 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
SLOW=$(ls "$T"/stage/*_sb15.hdf5)
NAME15=$(basename "$SLOW")
mv "$SLOW" "$T/slow.src"
mv "$T"/stage/*.hdf5 "$T/in/"
check "15 subbands registered" wait_for 10 is "SELECT count(*) FROM subband_files" 15
SZ=$(stat -c %s "$T/slow.src")
Q=$((SZ / 4 + 1))
(
	dd if="$T/slow.src" bs=$Q count=1 2>/dev/null; sleep 1.3
	dd if="$T/slow.src" bs=$Q skip=1 count=1 2>/dev/null; sleep 1.3
	dd if="$T/slow.src" bs=$Q skip=2 count=1 2>/dev/null; sleep 1.3
	dd if="$T/slow.src" bs=$Q skip=3 2>/dev/null
) >"$T/in/$NAME15" &
WPID=$!
sleep 3
N_MID=$(q "SELECT count(*) FROM subband_files")
echo "# while $NAME15 was being written ($(stat -c %s "$T/in/$NAME15") of $SZ bytes after 3 s): $N_MID files registered"
check "a file still being written is not registered by rescans" [ "$N_MID" = 15 ]
check "rescans saw it still changing" grep -q "rescan (periodic): .* [1-9][0-9]* still changing" "$T/daemon.log"
wait "$WPID"
check "registered once complete" wait_for 10 is "SELECT size FROM subband_files WHERE path LIKE '%$NAME15'" "$SZ"
check "the group completed with all 16" wait_for 30 is "SELECT state FROM groups WHERE t_first = $A" completed
check "no file bad" is "SELECT count(*) FROM subband_files WHERE status != 'ok'" 0

# ---- stale: a used file rewritten in place after the group completed.
G1=$(stamp $A 0)
cp "$T/slow.src" "$T/in/$NAME15.tmp" && cat "$T/in/$NAME15.tmp" >"$T/in/$NAME15" && rm "$T/in/$NAME15.tmp"
check "rewritten used file: group marked stale" wait_for 10 is "SELECT stale FROM groups WHERE t_first = $A" 1
check "... still completed (its products are from the old file)" is "SELECT state FROM groups WHERE t_first = $A" completed
check "contimgctl groups --state stale lists it" sh -c "$CTL groups --state stale | grep -q '^$G1 '"
check "contimgctl groups --state stale: nothing else" [ "$($CTL groups --state stale | wc -l)" = 2 ]
check "contimgctl show names the changed file" sh -c "$CTL show $G1 | grep 'stale' | grep -q '$NAME15 changed after the group was completed'"
check "the log says so" grep -q "changed after the group was completed: group marked stale" "$T/daemon.log"
check "show --json: stale true with the reason" sh -c "$CTL show $G1 --json | /usr/bin/python3 -c 'import json,sys; o=json.load(sys.stdin); sys.exit(0 if o[\"stale\"] is True and \"changed after the group was completed\" in o[\"stale_reason\"] else 1)'"
check "groups --json: stale true for it" sh -c "$CTL groups --json | /usr/bin/python3 -c 'import json,sys; a=json.load(sys.stdin); sys.exit(0 if [g[\"stale\"] for g in a if g[\"group_id\"]==\"$G1\"]==[True] else 1)'"
check "groups (text): completed* marks it" sh -c "$CTL groups | grep -q '^$G1 *completed\*'"
check "requeue" $CTL requeue "$G1" --reason "file rewritten"
check "requeued group runs again" wait_for 30 is "SELECT state || runs FROM groups WHERE t_first = $A" completed2
check "requeue cleared stale" is "SELECT stale FROM groups WHERE t_first = $A" 0
check "show --json: stale false after the re-run" sh -c "$CTL show $G1 --json | /usr/bin/python3 -c 'import json,sys; o=json.load(sys.stdin); sys.exit(0 if o[\"stale\"] is False and o[\"stale_reason\"] is None else 1)'"

# ---- re-sent subband: sb03 truncated, then a good copy (another name,
# +1 s) arrives before the run: a duplicate.  The run finds sb03 bad; after
# requeue the good copy is used.
make_group "$REF1" $B 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
F3=$(ls "$T"/stage/*_sb03.hdf5)
head -c 20000 "$F3" >"$T/stage/bad.tmp"
mv "$T/stage/bad.tmp" "$T/in/$(basename "$F3")"
GOOD="$(stamp $B 1)_sb03.hdf5"
mv "$F3" "$T/in/$GOOD"
mv "$T"/stage/*.hdf5 "$T/in/"
G2=$(stamp $B 0)
check "re-sent copy recorded as a duplicate" wait_for 10 is "SELECT status FROM subband_files WHERE path LIKE '%$GOOD'" duplicate
check "the group ran without sb03" wait_for 30 is "SELECT state FROM groups WHERE t_first = $B" completed
check "... the truncated copy is bad" is "SELECT count(*) FROM subband_files WHERE group_id = (SELECT id FROM groups WHERE t_first = $B) AND status = 'bad'" 1
check "requeue" $CTL requeue "$G2"
check "requeued group runs again" wait_for 30 is "SELECT state || runs FROM groups WHERE t_first = $B" completed2
check "the good copy was used" is "SELECT status FROM subband_files WHERE path LIKE '%$GOOD'" ok
$CTL show "$G2" --json >"$T/show.json"
check "no subband missing now" [ "$("$T/daemon_tools" json "$T/show.json" missing.#)" = 0 ]

# ---- symbolic links: one made in place (no event; rescans find it), one
# renamed into the directory (IN_MOVED_TO).
make_group "$REF1" $C 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
L0="$(stamp $C 0)_sb00.hdf5"
ln -s "$T/stage/$L0" "$T/in/$L0"
check "a rescan refuses the symbolic link (logged)" wait_for 10 grep -q "refused 1 symbolic link" "$T/daemon.log"
ln -s "$T/stage/$(stamp $C 0)_sb01.hdf5" "$T/link.tmp"
mv "$T/link.tmp" "$T/in/$(stamp $C 0)_sb01.hdf5"
check "a renamed-in symbolic link is refused (logged)" wait_for 10 grep -q "$(stamp $C 0)_sb01.hdf5 is a symbolic link: refused" "$T/daemon.log"
sleep 2.5
check "neither link was registered" is "SELECT count(*) FROM subband_files WHERE ts = $C" 0
check "the refusal is not repeated every rescan" [ "$(grep -c 'refused 1 symbolic link' "$T/daemon.log")" = 1 ]

# A regular file of the same group still goes through.
mv "$T/stage/$(stamp $C 0)_sb02.hdf5" "$T/in/"
check "a regular file next to them is registered" wait_for 10 is "SELECT count(*) FROM subband_files WHERE ts = $C" 1
stop_daemon
check "exit 0" [ "$DRC" = 0 ]
exit 0
