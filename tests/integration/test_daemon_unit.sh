#!/bin/sh
# ops/contimgd.service passes `systemd-analyze verify` (skipped when
# systemd-analyze is not installed) and carries the hardening the operations
# guide promises (issue 16 item 12); `contimgctl unit` generates the drop-in
# whose ReadWritePaths= follow the configuration's [paths] and whose
# MemoryMax= follows [ingest] workers, and the unit with it verifies.
. "$(dirname "$0")/lib.sh"

U="$ROOT/ops/contimgd.service"
for k in "Type=notify" "WatchdogSec=" "ProtectSystem=strict" "ReadWritePaths=" \
	 "NoNewPrivileges=true" "PrivateTmp=true" "RestrictAddressFamilies=AF_UNIX" \
	 "ExecReload=/bin/kill -HUP" "PrivateNetwork=true" "IPAddressDeny=any" \
	 "SystemCallFilter=~@privileged @resources" "MemoryMax="; do
	check "unit has $k" grep -q "^$k" "$U"
done

# --- the drop-in from a configuration with unusual paths ---
mkdir -p "$T/unit/contimgd.service.d"
cat >"$T/c.conf" <<EOF
[paths]
ingest_dir = /srv/dsa110/raw
state_dir = /var/lib/contimg-b
products_dir = /home/astro/products
scratch_dir = /srv/dsa110/raw/scratch
[ingest]
workers = 3
[calibrate]
caltables_dir = /mnt/caltables
[mosaic]
dir = /home/astro/products/mosaics
EOF
"$BIN/contimgctl" --config "$T/c.conf" unit >"$T/unit/contimgd.service.d/contimg.conf" 2>"$T/u.err"
check "contimgctl unit: exit 0" [ $? = 0 ]
D="$T/unit/contimgd.service.d/contimg.conf"
check "drop-in resets ReadWritePaths" grep -qx "ReadWritePaths=" "$D"
check "drop-in lists exactly the written directories (nested ones once)" \
	grep -qx "ReadWritePaths=/srv/dsa110/raw /var/lib/contimg-b /home/astro/products /mnt/caltables" "$D"
check "MemoryMax = 3 workers x 4 GiB + 1 GiB" grep -qx "MemoryMax=13312M" "$D"
check "ProtectHome relaxed for a path under /home" grep -qx "ProtectHome=false" "$D"
check "PrivateTmp kept (no path under /tmp)" sh -c "! grep -q '^PrivateTmp' '$D'"
"$BIN/contimgctl" --config "$T/c.conf" unit --memory-per-worker 2 >"$T/d2" 2>&1
check "--memory-per-worker 2: MemoryMax=7168M" grep -qx "MemoryMax=7168M" "$T/d2"
printf '[paths]\nstate_dir = /var/lib/with space\n' >"$T/bad.conf"
"$BIN/contimgctl" --config "$T/bad.conf" unit >/dev/null 2>"$T/bad.err"
check "a path with a space: exit 2, named" sh -c "[ $? = 2 ] && grep -q 'state_dir' '$T/bad.err'"

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "ok - $NAME: systemd-analyze verify # SKIP systemd-analyze not installed"
	exit 0
fi
# verify wants ExecStart to exist: point @BINDIR@ at the built programs.
sed "s|@BINDIR@|$BIN|g" "$U" >"$T/unit/contimgd.service"
# By name, with the unit path set, so systemd also reads the unit's drop-ins.
verify() {
	(cd "$T/unit" && SYSTEMD_UNIT_PATH="$T/unit:" systemd-analyze verify contimgd.service) \
		>"$T/verify.out" 2>&1
	rc=$?
	# Lines about other units on this host are not ours to judge.
	grep "contimgd.service\|contimg.conf" "$T/verify.out" >"$T/ours" || true
	[ $rc = 0 ] && [ ! -s "$T/ours" ]
}
check "systemd-analyze verify: the unit with the generated drop-in" verify
[ -s "$T/ours" ] && sed 's/^/    /' "$T/ours" >&2
# The drop-in is really read: a broken one makes verify complain.
echo "MemoryMax=lots" >>"$D"
verify
check "... and the drop-in is read (a bad MemoryMax= is reported)" \
	grep -q "contimg.conf:.*Invalid memory limit 'lots'" "$T/verify.out"
rm -f "$D"
check "systemd-analyze verify: the unit alone" verify
[ -s "$T/ours" ] && sed 's/^/    /' "$T/ours" >&2
exit 0
