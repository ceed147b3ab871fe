#!/bin/sh
# Issue 16 items 5, 6, 10 with the real programs:
#   - the [debug] fault-injection keys are refused in a production run (no
#     --enable-fault-injection): from the environment and from the file, by
#     --check-config and by the daemon's start; the systemd unit never passes
#     the switch;
#   - file < environment < --set: CONTIMG_PIPELINE_STAGES does not beat
#     `contimgctl process --set pipeline.stages=...`;
#   - a daemon killed (SIGKILL from the fault hook) after each step of the
#     export product's write leaves no product or the complete one, never a
#     partial one; the temporary a kill before the rename leaves is removed
#     when the group runs again, and the rerun's product is complete.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_common.inc"

tools
PY=/usr/bin/python3
# complete FILE: HDF5 that opens and whose every dataset reads in full.
complete() {
	$PY -c 'import h5py, sys
f = h5py.File(sys.argv[1], "r")
n = []
f.visititems(lambda k, o: n.append(o[()]) if isinstance(o, h5py.Dataset) else None)
assert f["Data/visdata"].size > 0 and len(n) > 10' "$1" 2>/dev/null
}
# wait_exit SECONDS: wait for the daemon to end (killed by its fault hook), or
# kill it at the limit; its exit status in rc.
wait_exit() {
	wait_for "$1" sh -c "! kill -0 $DPID" || kill -9 "$DPID"
	wait "$DPID" 2>/dev/null
	rc=$?
	DPID=
}
A=1772344154
G=2026-03-01T05:49:14
PD="$T/prod/2026-03-01/$G"
write_conf "stages = load, convert, export" "threads = 1"

# --- fault injection refused without the switch ---
CONTIMG_DEBUG_STAGE_DELAY_S=30 "$BIN/contimgd" --check-config --config "$CONF" \
	>"$T/c1.out" 2>"$T/c1.err"
rc=$?
sed 's/^/# check-config: /' "$T/c1.err"
check "environment stage_delay_s without the switch: check-config exit 2" [ "$rc" = 2 ]
check "... naming the variable and the switch" grep -qF \
	'$CONTIMG_DEBUG_STAGE_DELAY_S: [debug] stage_delay_s: fault injection is refused without contimgd --enable-fault-injection' \
	"$T/c1.err"
check "with --enable-fault-injection: accepted" env CONTIMG_DEBUG_STAGE_DELAY_S=30 \
	"$BIN/contimgd" --check-config --enable-fault-injection --config "$CONF"
CONTIMG_DEBUG_CRASH_AT_STEP=synced timeout 20 "$BIN/contimgd" --config "$CONF" --foreground \
	--log-format text >"$T/d1.log" 2>&1
rc=$?
check "environment crash_at_step: the daemon does not start (exit 2)" [ "$rc" = 2 ]
check "... and says why" grep -qF '$CONTIMG_DEBUG_CRASH_AT_STEP: [debug] crash_at_step: fault injection is refused' "$T/d1.log"
cp "$CONF" "$T/file.conf"
printf '[debug]\nstage_delay_s = 1\n' >>"$T/file.conf"
check "file stage_delay_s without the switch: check-config exit 2" sh -c \
	"'$BIN/contimgd' --check-config --config '$T/file.conf' 2>/dev/null; [ \$? = 2 ]"
check "ops/contimgd.service never enables fault injection" \
	sh -c "! grep -q 'fault' '$ROOT/ops/contimgd.service'"

# --- file < environment < --set ---
make_group "$REF1" $A 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
mkdir -p "$T/g1"
mv "$T"/stage/*.hdf5 "$T/g1/"
check "contimgctl process refuses fault injection too (exit 2, nothing run)" sh -c \
	"CONTIMG_DEBUG_STAGE_DELAY_S=5 $CTL process '$T/g1' 2>'$T/p0.err'; [ \$? = 2 ] && \
	 grep -qF 'fault injection is refused' '$T/p0.err'"
CONTIMG_PIPELINE_STAGES=load $CTL process "$T/g1" --json --set pipeline.stages=load,convert \
	>"$T/p1.json" 2>"$T/p1.err"
rc=$?
st=$(q "SELECT group_concat(stage) FROM (SELECT stage FROM stage_timings ORDER BY stage)")
echo "# file 'load, convert, export', CONTIMG_PIPELINE_STAGES=load, --set load,convert: ran '$st'"
check "process with environment and --set: exit 0" [ "$rc" = 0 ]
check "--set beats the environment (load and convert ran, export did not)" [ "$st" = "convert,load" ]
CONTIMG_PIPELINE_STAGES=load $CTL process "$T/g1" --json >"$T/p2.json" 2>/dev/null
st=$(q "SELECT group_concat(stage) FROM stage_timings")
check "the environment beats the file (only load ran)" [ "$st" = "load" ]

# --- kill after each step of the export's durable write ---
# The group is requeued and processed by a daemon that kills itself right
# after the step; the product's name must hold nothing or the whole file.
for step in written synced renamed dir_synced; do
	rm -rf "$T/prod"
	q "UPDATE groups SET state = 'pending', not_before = 0, retries = 0" >/dev/null
	write_conf "stages = load, convert, export" "threads = 1" "[debug]" "crash_at_step = $step"
	: >"$T/daemon.log"
	start_daemon --enable-fault-injection
	wait_exit 60
	tmp=$(ls "$PD"/*.tmp 2>/dev/null | head -1)
	prod="$PD/$G.uvh5"
	if [ -e "$prod" ]; then
		have=$(complete "$prod" && echo complete || echo PARTIAL)
	else
		have=absent
	fi
	left=none
	[ -n "$tmp" ] && left="left ($(stat -c %s "$tmp") bytes)"
	echo "# killed after '$step' (exit $rc): product $have, temporary $left"
	check "$step: the daemon was killed (SIGKILL, exit 137)" [ "$rc" = 137 ]
	check "$step: the log names the step" grep -q "fault injection: SIGKILL after step '$step'" "$T/daemon.log"
	case $step in
	written | synced)
		check "$step: no product under its name, the temporary is left" \
			sh -c "[ '$have' = absent ] && [ -s '$tmp' ]" ;;
	*)
		check "$step: the complete product, no temporary" \
			sh -c "[ '$have' = complete ] && [ -z '$tmp' ]" ;;
	esac
	check "$step: nothing recorded as a product" is "SELECT count(*) FROM products" 0
done

# The last kill before the rename leaves its temporary; the rerun removes it.
rm -rf "$T/prod"
q "UPDATE groups SET state = 'pending', not_before = 0, retries = 0" >/dev/null
write_conf "stages = load, convert, export" "threads = 1" "[debug]" "crash_at_step = synced"
: >"$T/daemon.log"
start_daemon --enable-fault-injection
wait_exit 60
size=$(stat -c %s "$PD/$G.uvh5.tmp" 2>/dev/null || echo 0)
echo "# temporary left by the kill: $size bytes"
check "a temporary of the export is left by the kill" [ "$size" -gt 0 ]
# The rerun does not export (export_vis = false), so only the cleaning at the
# start of its run can remove the temporary (an export would overwrite the
# same "NAME.tmp" and rename it away).
write_conf "stages = load, convert, export" "threads = 1" "export_vis = false"
start_daemon
check "restarted daemon completes the group" wait_for 60 is "SELECT state FROM groups" completed
check "the rerun removed the temporary" sh -c "! ls '$PD'/*.tmp* 2>/dev/null | grep -q ."
check "... and said so" grep -q "removed 1 temporary or scratch file(s) of an interrupted run" "$T/daemon.log"
stop_daemon
q "UPDATE groups SET state = 'pending', not_before = 0, retries = 0" >/dev/null
write_conf "stages = load, convert, export" "threads = 1"
start_daemon
check "a run with export completes and records its product" wait_for 60 is "SELECT state || (SELECT count(*) FROM products) FROM groups" completed1
check "its product is complete" complete "$PD/$G.uvh5"
check "one product file in the group's directory" [ "$(ls "$PD" | wc -l)" = 1 ]
stop_daemon
check "exit status 0" [ "$DRC" = 0 ]
exit 0
