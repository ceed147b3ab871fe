#!/bin/sh
# ops/contimgd.service passes `systemd-analyze verify` (skipped when systemd-analyze
# is not installed) and carries the settings the operations guide promises.
. "$(dirname "$0")/lib.sh"

U="$ROOT/ops/contimgd.service"
for k in "Type=notify" "WatchdogSec=" "ProtectSystem=strict" "ReadWritePaths=" \
	 "NoNewPrivileges=true" "PrivateTmp=true" "RestrictAddressFamilies=AF_UNIX" \
	 "ExecReload=/bin/kill -HUP"; do
	check "unit has $k" grep -q "^$k" "$U"
done
if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "ok - $NAME: systemd-analyze verify # SKIP systemd-analyze not installed"
	exit 0
fi
# verify wants ExecStart to exist: point @BINDIR@ at the built programs.
mkdir -p "$T/unit"
sed "s|@BINDIR@|$BIN|g" "$U" >"$T/unit/contimgd.service"
systemd-analyze verify "$T/unit/contimgd.service" >"$T/verify.out" 2>&1
rc=$?
# Lines about other units on this host are not ours to judge.
grep "contimgd.service" "$T/verify.out" >"$T/ours" || true
check "systemd-analyze verify exits 0" [ $rc = 0 ]
check "systemd-analyze verify: no complaint about contimgd.service" [ ! -s "$T/ours" ]
[ -s "$T/ours" ] && sed 's/^/    /' "$T/ours" >&2
exit 0
