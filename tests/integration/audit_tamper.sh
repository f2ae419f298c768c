#!/bin/sh
# Tamper tests: edit the audit database directly with the sqlite3 CLI, the
# way an intruder with file access would, and check that
# `relgate audit verify` exits 1 and names the first bad record.
set -eu
: "${top_builddir:?}"
R=$top_builddir/relgate
T=$top_builddir/audit/rg-audit-tool
command -v sqlite3 >/dev/null || { echo "sqlite3 CLI missing"; exit 77; }
W=$(mktemp -d /tmp/rg-tamper.XXXXXX)
cleanup() {
	if [ -n "${SPID:-}" ]; then
		kill "$SPID" 2>/dev/null || true
		wait "$SPID" 2>/dev/null || true
	fi
	for g in "$W"/*/gnupg; do
		[ -d "$g" ] && gpgconf --homedir "$g" --kill all 2>/dev/null
	done
	rm -rf "$W" 2>/dev/null || { sleep 1; rm -rf "$W"; }
}
trap cleanup EXIT INT TERM

# A log of 45 events written through the audit writer, with signed
# checkpoints when it starts (1), every 10 records (11, 21, 31, 41, 51)
# and at shutdown (52).
P=$W/pristine
mkdir -p "$P"
"$T" serve "$P" --every 10 &
SPID=$!
i=0
while [ ! -S "$P/audit/audit.sock" ]; do
	i=$((i + 1)); [ $i -lt 300 ] || { echo "writer did not start"; exit 1; }
	sleep 0.05
done
"$T" append "$P" 45 acme-ana
kill -TERM "$SPID"; wait "$SPID"; SPID=
q() { sqlite3 "$1/audit/audit.db" "$2"; }
last=$(q "$P" "SELECT max(seq) FROM records")
ncp=$(q "$P" "SELECT count(*) FROM checkpoints")
echo "pristine log: $last records, $ncp signed checkpoints"
[ "$last" -eq 52 ] || { echo "expected 45 events + 7 checkpoints"; exit 1; }
[ "$ncp" -eq 7 ] || { echo "expected 7 signed checkpoints"; exit 1; }
"$R" audit --state "$P" verify

fails=0
# tamper NAME EXPECTED_SEQ SQL
tamper() {
	name=$1 want=$2 sql=$3
	D=$W/$name
	cp -a "$P" "$D"
	q "$D" "$sql"
	set +e
	"$R" audit --state "$D" verify >"$W/out" 2>"$W/err"
	rc=$?
	set -e
	got=$(sed -n 's/^first bad record: //p' "$W/out")
	if [ "$rc" -eq 1 ] && [ "$got" = "$want" ] &&
	    grep -q "record $want:" "$W/err"; then
		echo "ok - $name: exit 1, first bad record $got ($(sed -n 's/^reason: //p' "$W/out"))"
	else
		echo "FAIL - $name: exit $rc, first bad record '$got', wanted $want"
		cat "$W/out" "$W/err"
		fails=$((fails + 1))
	fi
	gpgconf --homedir "$D/gnupg" --kill all 2>/dev/null || true
}

tamper edit-user 7 "UPDATE records SET user = 'mallory' WHERE seq = 7"
tamper edit-bytes 17 "UPDATE records SET bytes = 0 WHERE seq = 17"
tamper edit-outcome 5 "UPDATE records SET outcome = CASE outcome WHEN 'ok' THEN 'denied' ELSE 'ok' END WHERE seq = 5"
tamper edit-time 30 "UPDATE records SET time = '2020-01-01T00:00:00.000000Z' WHERE seq = 30"
tamper edit-last 52 "UPDATE records SET detail = 'nothing to see' WHERE seq = 52"
tamper delete 13 "DELETE FROM records WHERE seq = 13"
tamper delete-renumber 13 "DELETE FROM records WHERE seq = 13; UPDATE records SET seq = seq - 1 WHERE seq > 13"
tamper delete-first 1 "DELETE FROM records WHERE seq = 1"
tamper reorder 8 "UPDATE records SET seq = -1 WHERE seq = 8; UPDATE records SET seq = 8 WHERE seq = 9; UPDATE records SET seq = 9 WHERE seq = -1"
tamper reorder-far 5 "UPDATE records SET seq = -1 WHERE seq = 5; UPDATE records SET seq = 5 WHERE seq = 40; UPDATE records SET seq = 40 WHERE seq = -1"
tamper truncate 36 "DELETE FROM records WHERE seq > 35"
tamper truncate-and-checkpoints 36 "DELETE FROM records WHERE seq > 35; DELETE FROM checkpoints WHERE seq > 35"
tamper truncate-all 1 "DELETE FROM records; DELETE FROM checkpoints"
tamper checkpoint-sig-swapped 11 "UPDATE checkpoints SET sig = (SELECT sig FROM checkpoints WHERE seq = 21) WHERE seq = 11"
tamper checkpoint-sig-garbled 21 "UPDATE checkpoints SET sig = replace(sig, 'BEGIN PGP SIGNATURE-----', 'BEGIN PGP SIGNATURE-----
Comment: x
') WHERE seq = 21; UPDATE checkpoints SET sig = substr(sig, 1, 120) || 'AAAA' || substr(sig, 125) WHERE seq = 21"
tamper checkpoint-sig-removed 11 "DELETE FROM checkpoints WHERE seq = 11"
tamper checkpoint-moved 11 "UPDATE checkpoints SET hash = (SELECT hash FROM records WHERE seq = 10) WHERE seq = 11"

# The latest-checkpoint file outside the database is covered too.
D=$W/head-file
cp -a "$P" "$D"
sed -i 's/^seq [0-9]*$/seq 999/' "$D/audit/checkpoint.asc"
set +e
"$R" audit --state "$D" verify >"$W/out" 2>&1
rc=$?
set -e
if [ "$rc" -eq 1 ] && grep -q "checkpoint" "$W/out"; then
	echo "ok - head-file edited: exit 1"
else
	echo "FAIL - head-file edited: exit $rc"; cat "$W/out"; fails=$((fails + 1))
fi
gpgconf --homedir "$D/gnupg" --kill all 2>/dev/null || true

# And the untouched copy still verifies.
"$R" audit --state "$P" verify >/dev/null
[ "$fails" -eq 0 ] || { echo "$fails tamper case(s) not detected"; exit 1; }
echo "all tamper cases detected"
