#!/bin/sh
# The one configuration (daemon/settings.h): a misspelt key or section or a bad
# value is refused with FILE:LINE by `contimgd --check-config`, by the daemon's
# start-up (it does not start) and by `contimgctl config check`; a SIGHUP with
# a bad file keeps the old configuration (a group arriving afterwards is run
# with the old settings) and logs why at warning level; ops/contimg.conf.example
# validates, with every documented key uncommented too.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daemon_common.inc"

# --- the shipped example, as is and with every key at its documented default ---
check "ops/contimg.conf.example validates (check-config exit 0)" \
	"$BIN/contimgd" --check-config --config "$ROOT/ops/contimg.conf.example"
# every documented key uncommented; eop_file names a file this machine has not
sed -E 's/^#([a-z_0-9]+ *=)/\1/; /^eop_file *=/d' "$ROOT/ops/contimg.conf.example" >"$T/all.conf"
n=$(grep -cE '^[a-z_0-9]+ *=' "$T/all.conf")
echo "# $n keys uncommented in the example"
check "every documented key is known and its documented default valid ($n keys)" \
	"$BIN/contimgd" --check-config --config "$T/all.conf"

# --- a misspelt key, a misspelt section, a bad value ---
write_conf "stages = load, convert, export" "threads = 1"
good="$T/good.conf"
cp "$CONF" "$good"
{
	cat "$good"
	echo "[ingest]"
	echo "min_subband = 12"
	echo "[photometri]"
	echo "box_beams = 3"
	echo "[image]"
	echo "size = 17"
} >"$T/bad.conf"
lk=$(grep -n '^min_subband ' "$T/bad.conf" | cut -d: -f1)
ls=$(grep -n '^\[photometri\]' "$T/bad.conf" | cut -d: -f1)
lv=$(grep -n '^size = 17' "$T/bad.conf" | cut -d: -f1)
"$BIN/contimgd" --check-config --config "$T/bad.conf" >"$T/check.out" 2>"$T/check.err"
rc=$?
sed 's/^/# check-config: /' "$T/check.err"
check "check-config: exit 2" [ "$rc" = 2 ]
check "check-config: the misspelt key with file:line and the near key" \
	grep -qF "$T/bad.conf:$lk: [ingest] min_subband: unknown key (did you mean 'min_subbands'?)" "$T/check.err"
check "check-config: the misspelt section with file:line" \
	grep -qF "$T/bad.conf:$ls: [photometri]: unknown section (did you mean [photometry]?)" "$T/check.err"
check "check-config: the bad value with file:line" \
	grep -qF "$T/bad.conf:$lv: [image] size = 17: expected an even 16..32768" "$T/check.err"
check "check-config: nothing on stdout" [ ! -s "$T/check.out" ]

cp "$T/bad.conf" "$CONF"
"$BIN/contimgd" --config "$CONF" --foreground --log-format text >"$T/start.log" 2>&1
rc=$?
check "the daemon refuses to start: exit 2" [ "$rc" = 2 ]
check "... saying where" grep -qF "$T/contimg.conf:$lk: [ingest] min_subband: unknown key" "$T/start.log"
check "... before anything started (no pid file, no database)" \
	sh -c "[ ! -e '$T/state/contimgd.pid' ] && [ ! -e '$DB' ] && ! grep -q 'ready:' '$T/start.log'"

$CTL config check >"$T/ctl.out" 2>"$T/ctl.err"
rc=$?
check "contimgctl config check: exit 2" [ "$rc" = 2 ]
check "contimgctl config check: file:line" \
	grep -qF "$T/contimg.conf:$lv: [image] size = 17" "$T/ctl.err"
$CTL config check --json >"$T/ctl.json"
rc=$?
tools
check "config check --json: exit 2, ok false, 3 errors" sh -c \
	"[ $rc = 2 ] && [ \"\$('$T/daemon_tools' json '$T/ctl.json' ok)\" = false ] && \
	 [ \$(grep -c '^ *\"$T/contimg.conf:' '$T/ctl.json') = 3 ]"
check "contimgctl config check on the good file: exit 0" \
	sh -c "$BIN/contimgctl --config '$good' config check | grep -q 'configuration OK'"
check "contimgctl config check: a named file must exist (exit 2)" \
	sh -c "$BIN/contimgctl --config '$T/absent.conf' config check; [ \$? = 2 ]"

# --- SIGHUP with a bad file keeps the configuration in force ---
cp "$good" "$CONF"
A=1772344154
make_group "$REF1" $A 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
check "contimgctl process refuses an unknown --set key (exit 2)" \
	sh -c "$BIN/contimgctl --config '$good' process '$T/stage' --set image.sise=512 2>'$T/set.err'; \
	       [ \$? = 2 ] && grep -qF \"[image] sise: unknown key (did you mean 'size'?)\" '$T/set.err'"
check "... before registering anything (no database)" [ ! -e "$DB" ]
start_daemon
check "the daemon starts with the good file" wait_for 10 grep -q "ready:" "$T/daemon.log"
# The bad file would stop exporting (stages = load, convert) if it were taken.
{
	sed 's/^stages = .*/stages = load, convert/' "$good"
	echo "[flag]"
	echo "chi_1 = 4"
} >"$CONF"
lb=$(grep -n '^chi_1' "$CONF" | cut -d: -f1)
kill -HUP "$DPID"
check "a bad reload is refused, logged at warning level with file:line" \
	wait_for 10 grep -qF "warning: reload failed, keeping the old configuration: $T/contimg.conf:$lb: [flag] chi_1: unknown key (did you mean 'chi1'?)" "$T/daemon.log"
grep "reload failed" "$T/daemon.log" | sed 's/^/# /'
check "the daemon is still running" kill -0 "$DPID"
mv "$T"/stage/*.hdf5 "$T/in/"
check "a group after the bad reload runs with the old configuration (export ran)" \
	wait_for 60 is "SELECT group_concat(name) FROM products" vis
cp "$good" "$CONF"
kill -HUP "$DPID"
check "a good reload is taken" wait_for 10 grep -q "configuration reloaded" "$T/daemon.log"
stop_daemon
check "exit 0" [ "$DRC" = 0 ]
exit 0
