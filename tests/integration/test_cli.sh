#!/bin/sh
# The command-line contract of the three programs: `contimgctl COMMAND --help`
# (and -h, and `help COMMAND`) for every command and subcommand prints that
# command's help on stdout and exits 0 without touching the configuration or
# the database; an unknown option exits 2 with the usage on stderr, before
# anything is opened; `--version` on contimgctl, contimgd and contimg-sim
# prints "PROGRAM VERSION" and exits 0.
. "$(dirname "$0")/lib.sh"

CTL=$BIN/contimgctl
# The commands of docs/cli.md: the contract this test holds the table to.
COMMANDS="status groups show requeue retry-failed ingest process inspect config:check
catalog:import catalog:list transits caltables variability lightcurve candidates
candidate pointing:add pointing:list pointing:remove mosaic:plan mosaic:build
unit alerts quality plot:image plot:stamp plot:caltable stamps housekeeping metrics"

# A configuration whose state directory does not exist: nothing may create it.
mkdir -p "$T/etc"
printf '[paths]\nstate_dir = %s/state\nproducts_dir = %s/prod\ningest_dir = %s/in\n' \
	"$T" "$T" "$T" >"$T/etc/contimg.conf"
export CONTIMG_CONFIG="$T/etc/contimg.conf"

nhelp=0; nbad=0; nusage=0
for c in $COMMANDS; do
	cmd=$(echo "$c" | tr ':' ' ')
	# --help even with a configuration that does not exist: help opens nothing.
	# shellcheck disable=SC2086
	$CTL --config "$T/nonexistent.conf" $cmd --help >"$T/h.out" 2>"$T/h.err"
	rc=$?
	if [ $rc = 0 ] && grep -q "^usage: contimgctl $cmd " "$T/h.out" && [ ! -s "$T/h.err" ] &&
	   [ "$(wc -l <"$T/h.out")" -ge 3 ]; then
		nhelp=$((nhelp + 1))
	else
		fail "$cmd --help: exit $rc, stdout '$(head -1 "$T/h.out")', stderr '$(head -1 "$T/h.err")'"
	fi
	# shellcheck disable=SC2086
	$CTL $cmd -h >"$T/h2.out" 2>/dev/null
	check "$cmd -h exits 0 with the same text as --help" cmp "$T/h.out" "$T/h2.out"
	# shellcheck disable=SC2086
	$CTL help $cmd >"$T/h3.out" 2>/dev/null
	check "help $cmd exits 0 with the same text as --help" cmp "$T/h.out" "$T/h3.out"
	# An unknown option: exit 2, the command's usage line on stderr, nothing on stdout.
	# shellcheck disable=SC2086
	$CTL $cmd --no-such-option >"$T/u.out" 2>"$T/u.err"
	rc=$?
	if [ $rc = 2 ] && [ ! -s "$T/u.out" ] && [ -s "$T/u.err" ]; then
		nbad=$((nbad + 1))
		grep -q "^usage: contimgctl $cmd " "$T/u.err" && nusage=$((nusage + 1))
	else
		fail "$cmd --no-such-option: exit $rc (want 2), stderr '$(head -1 "$T/u.err")'"
	fi
done
n=$(echo $COMMANDS | wc -w)
echo "# $nhelp of $n commands answer --help; $nbad of $n refuse an unknown option with exit 2" \
     "($nusage print their usage line)"
check "every command answers --help (exit 0, usage line, text, nothing on stderr)" [ $nhelp = "$n" ]
check "every command refuses an unknown option with exit 2" [ $nbad = "$n" ]
# pointing remove takes one positional id: '--no-such-option' is refused as a bad id.
check "every command but 'pointing remove' prints its usage line then" [ $nusage -ge $((n - 1)) ]
check "usage errors opened nothing (no state directory made)" test ! -e "$T/state"

# The family help covers every subcommand.
$CTL pointing --help >"$T/f.out" 2>&1
check "pointing --help: exit 0" [ $? = 0 ]
check "pointing --help names add, list and remove" \
	sh -c "grep -q 'pointing add ' '$T/f.out' && grep -q 'pointing list ' '$T/f.out' && grep -q 'pointing remove ' '$T/f.out'"
$CTL help catalog >"$T/f.out" 2>&1
check "help catalog names import and list" \
	sh -c "grep -q 'catalog import ' '$T/f.out' && grep -q 'catalog list ' '$T/f.out'"
$CTL mosaic >/dev/null 2>"$T/f.err"
check "mosaic without a subcommand: exit 2" [ $? = 2 ]
check "... with the family's usage on stderr" grep -q 'usage: contimgctl mosaic plan' "$T/f.err"
$CTL mosaic list >/dev/null 2>&1
check "an unknown subcommand: exit 2" [ $? = 2 ]

# The command list of `contimgctl --help` is the table: every command of the contract.
$CTL --help >"$T/top.out" 2>&1
check "contimgctl --help: exit 0" [ $? = 0 ]
nlisted=0
for c in $COMMANDS; do
	cmd=$(echo "$c" | tr ':' ' ')
	grep -q "^  $cmd  " "$T/top.out" && nlisted=$((nlisted + 1))
done
echo "# contimgctl --help lists $nlisted of $n commands"
check "contimgctl --help lists every command" [ $nlisted = "$n" ]
$CTL --no-such-option >/dev/null 2>&1
check "contimgctl --no-such-option: exit 2" [ $? = 2 ]
$CTL no-such-command >/dev/null 2>&1
check "contimgctl no-such-command: exit 2" [ $? = 2 ]
$CTL help no-such-command >/dev/null 2>&1
check "contimgctl help no-such-command: exit 2" [ $? = 2 ]

# --version on every program: "PROGRAM VERSION", exit 0, one version for all.
for p in contimgctl contimgd contimg-sim; do
	"$BIN/$p" --version >"$T/$p.v" 2>"$T/$p.verr"
	rc=$?
	echo "# $p --version: $(cat "$T/$p.v") (exit $rc)"
	check "$p --version: exit 0" [ $rc = 0 ]
	check "$p --version: one line 'PROGRAM VERSION'" \
		sh -c "[ \$(wc -l <'$T/$p.v') = 1 ] && grep -Eq '^$p [^ ]+\$' '$T/$p.v' && [ ! -s '$T/$p.verr' ]"
	cut -d' ' -f2 "$T/$p.v" >>"$T/versions"
done
check "the three programs print the same version" [ "$(sort -u "$T/versions" | wc -l)" = 1 ]
# Built in a git checkout, the version is git describe's: its commit is one of the repository's.
v=$(head -1 "$T/versions")
if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
	h=$(echo "$v" | sed 's/-dirty$//; s/.*-g//')
	check "the version names a commit of the repository ($h)" git -C "$ROOT" cat-file -e "$h^{commit}"
fi
"$BIN/contimgd" --help >"$T/d.out" 2>&1
rc=$?
check "contimgd --help: exit 0" [ $rc = 0 ]
check "contimgd --help mentions --version" grep -q -- --version "$T/d.out"
"$BIN/contimgd" --no-such-option >/dev/null 2>&1
check "contimgd --no-such-option: exit 2" [ $? = 2 ]
"$BIN/contimg-sim" --help >"$T/s.out" 2>&1
check "contimg-sim --help mentions --version" grep -q -- --version "$T/s.out"
"$BIN/contimg-sim" --no-such-option >/dev/null 2>&1
check "contimg-sim --no-such-option: exit 2" [ $? = 2 ]
