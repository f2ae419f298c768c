#!/bin/sh
# `relgate audit` as an officer uses it, against a log written through the
# audit writer: list with each filter and --json/--csv, show, export --day,
# follow, verify; the officer view (audit-export/) kept current by the
# writer; records forwarded to syslog as RFC 5424 structured data; -c DIR
# finding state_dir in relgate.yaml.
set -eu
: "${top_builddir:?}"
R=$top_builddir/relgate
T=$top_builddir/audit/rg-audit-tool
W=$(mktemp -d /tmp/rg-auditcli.XXXXXX)
PIDS=
cleanup() {
	# Wait for each: a writer still stopping would write into $W again.
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	[ -d "$W/state/gnupg" ] && gpgconf --homedir "$W/state/gnupg" --kill all 2>/dev/null
	rm -rf "$W" 2>/dev/null || { sleep 1; rm -rf "$W"; }
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*"; exit 1; }
S=$W/state
C=$W/etc
mkdir -p "$S" "$C"
printf 'state_dir: %s\n' "$S" >"$C/relgate.yaml"
today=$(date -u +%F)

# A syslog receiver on a unix datagram socket.
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
f = open(sys.argv[2], "a")
while True:
    f.write(s.recv(100000).decode() + "\n"); f.flush()
' "$W/log.sock" "$W/syslog.txt" &
PIDS="$PIDS $!"
i=0
while [ ! -S "$W/log.sock" ]; do
	i=$((i + 1)); [ $i -lt 300 ] || fail "syslog receiver did not start"
	sleep 0.05
done
"$T" serve "$S" --every 20 --syslog "$W/log.sock" --export-interval 1 \
    --verify-interval 1 &
SPID=$!
PIDS="$PIDS $SPID"
i=0
while [ ! -S "$S/audit/audit.sock" ] || [ ! -S "$W/log.sock" ]; do
	i=$((i + 1)); [ $i -lt 300 ] || fail "writer did not start"
	sleep 0.05
done
"$T" append "$S" 14 acme-ana
"$T" append "$S" 7 'beta "bo", x'
q() { sqlite3 "$S/audit/audit.db" "$1"; }
total=$(q "SELECT count(*) FROM records")
echo "log has $total records"

# list: a header and one line per record; -c before or after.
n=$("$R" -c "$C" audit list | wc -l)
[ "$n" -eq $((total + 1)) ] || fail "list printed $n lines for $total records"
n=$("$R" audit list -c "$C" | wc -l)
[ "$n" -eq $((total + 1)) ] || fail "-c after the subcommand"
"$R" -c "$C" audit list | head -1 | grep -q '^ *SEQ  TIME' || fail "no table header"

# --json: one object a line, the product's field names, filter applied.
"$R" -c "$C" audit list --user acme-ana --json >"$W/ana.jsonl"
python3 - "$W/ana.jsonl" <<'PY' || fail "--json output"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 14, len(lines)
names = ["seq", "time", "type", "outcome", "user", "role", "source",
         "contract", "request", "release", "path", "bytes", "sha256",
         "rows", "detail", "prev", "hash"]
prev = None
for l in lines:
    o = json.loads(l)
    assert list(o) == names, list(o)
    assert o["user"] == "acme-ana"
    assert len(o["time"]) == 27 and o["time"].endswith("Z") and o["time"][19] == "."
    assert o["outcome"] in ("ok", "denied", "failed")
print("json ok")
PY
# --csv: parses, header, commas and quotes in a user name survive.
"$R" -c "$C" audit list --csv --user 'beta "bo", x' >"$W/bo.csv"
python3 - "$W/bo.csv" <<'PY' || fail "--csv output"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
assert rows[0][:4] == ["seq", "time", "type", "outcome"], rows[0]
assert len(rows) == 8, len(rows)
assert all(r[4] == 'beta "bo", x' for r in rows[1:])
print("csv ok")
PY
# Each filter against the database itself.
for f in "--type access.denied" "--outcome denied" "--outcome ok" \
    "--contract DEMO-2026-0001" "--type log.checkpoint"; do
	set -- $f
	col=${1#--}
	want=$(q "SELECT count(*) FROM records WHERE $col = '$2'")
	got=$("$R" -c "$C" audit list $f --json | wc -l)
	[ "$got" -eq "$want" ] || fail "list $f: $got, wanted $want"
done
got=$("$R" -c "$C" audit list --type access.denied --user acme-ana --json | wc -l)
want=$(q "SELECT count(*) FROM records WHERE type = 'access.denied' AND user = 'acme-ana'")
[ "$got" -eq "$want" ] && [ "$want" -gt 0 ] || fail "combined filters"
[ "$("$R" -c "$C" audit list --since "$today" --until "$today" --json | wc -l)" -eq "$total" ] || fail "--since/--until today"
[ "$("$R" -c "$C" audit list --since 2999-01-01 --json | wc -l)" -eq 0 ] || fail "--since future"
[ "$("$R" -c "$C" audit list --until 2000-01-01T00:00:00Z --json | wc -l)" -eq 0 ] || fail "--until past"
[ "$("$R" -c "$C" audit list --limit 3 --json | wc -l)" -eq 3 ] || fail "--limit"
set +e
"$R" -c "$C" audit list --since yesterday >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad time accepted"
"$R" -c "$C" audit list --outcome maybe >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad outcome accepted"
"$R" -c "$C" audit show 99999 >/dev/null 2>&1; [ $? -eq 2 ] || fail "show of a missing record"
"$R" -c "$C" audit frobnicate >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown command"
"$R" audit --state "$W/nothing" list >/dev/null 2>&1; [ $? -eq 2 ] || fail "missing log"
"$R" -c "$C" audit export --day 2026-13-01 >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad day"
set -e

# show
"$R" -c "$C" audit show 3 | grep -q '^seq: *3$' || fail "show 3"
"$R" -c "$C" audit show 3 | grep -q '^hash: *[0-9a-f]\{64\}$' || fail "show hash"
"$R" -c "$C" audit show --json 3 | python3 -c 'import json,sys; assert json.load(sys.stdin)["seq"] == 3' || fail "show --json"

# follow prints what arrives after the given record (by default, after the
# last one when it starts).
mx=$(q "SELECT max(seq) FROM records")
"$R" -c "$C" audit follow --json --after "$mx" >"$W/follow.jsonl" 2>"$W/follow.err" &
FPID=$!
PIDS="$PIDS $FPID"
sleep 0.5
# (sqlite3 has opened and closed the database many times above while the
# writer runs: every acknowledged record must still be there.)
VERBOSE=1 "$T" append "$S" 5 late-user >"$W/acked"
for seq in $(cat "$W/acked"); do
	[ "$(q "SELECT user FROM records WHERE seq = $seq")" = late-user ] ||
		fail "acknowledged record $seq is not in the log"
done
# (slow under valgrind: wait for the output rather than a fixed time)
for i in $(seq 100); do
	[ "$(grep -c '"user":"late-user"' "$W/follow.jsonl")" -ge 5 ] && break
	sleep 0.2
done
sleep 0.3
kill "$FPID"; wait "$FPID" || fail "follow exited with $?"
cat "$W/follow.err"
n=$(grep -c '"user":"late-user"' "$W/follow.jsonl" || true)
[ "$n" -eq 5 ] || fail "follow printed $n of 5 new records"
! grep -q '"user":"acme-ana"' "$W/follow.jsonl" || fail "follow printed old records"

# export --day equals the officer view the writer keeps current.
total=$(q "SELECT count(*) FROM records")
for i in $(seq 150); do
	[ "$(wc -l <"$S/audit-export/$today.jsonl")" -eq "$total" ] && break
	sleep 0.2
done
"$R" -c "$C" audit export --day "$today" >"$W/export.jsonl"
[ "$(wc -l <"$W/export.jsonl")" -eq "$total" ] || fail "export --day"
cmp "$W/export.jsonl" "$S/audit-export/$today.jsonl" || fail "officer view differs from export"
[ "$("$R" -c "$C" audit export --day 2000-01-01 | wc -l)" -eq 0 ] || fail "export of an empty day"
# verify.txt is kept current while the writer runs.
for i in $(seq 150); do
	grep -q "^records: $total$" "$S/audit-export/verify.txt" && break
	sleep 0.2
done
grep -q '^relgate audit verify: OK$' "$S/audit-export/verify.txt" || fail "verify.txt"
grep -q "^records: $total$" "$S/audit-export/verify.txt" || {
	cat "$S/audit-export/verify.txt"; fail "verify.txt not current"; }

# Syslog got every record, RFC 5424 with the structured data element.
n=$(grep -c '^<8[45]>1 [0-9T:.-]*Z [^ ]* relgate [0-9]* [a-z._]* \[relgate-audit@32473 seq="[0-9]*"' "$W/syslog.txt" || true)
[ "$n" -eq "$total" ] || fail "syslog got $n of $total records"
grep -q 'user="beta \\"bo\\", x"' "$W/syslog.txt" || fail "syslog escaping"

# Stop the writer: shutdown checkpoint, verify.txt current.
kill -TERM "$SPID"; wait "$SPID"
"$R" -c "$C" audit verify >"$W/verify.out"
grep -q '^relgate audit verify: OK' "$W/verify.out" || fail "verify"
grep -q '^checkpoints awaiting signature: 0' "$W/verify.out" || fail "unsigned checkpoints"
last=$(q "SELECT max(seq) FROM records")
[ "$(q "SELECT type FROM records WHERE seq = $last")" = log.checkpoint ] || fail "no shutdown checkpoint"
grep -q "^last record: $last$" "$S/audit-export/verify.txt" || fail "verify.txt not current"
"$R" -c "$C" audit verify --json | python3 -c 'import json,sys; o = json.load(sys.stdin); assert o["ok"] is True and o["bad_seq"] is None' || fail "verify --json"
# The log is owner-only; the officer view is read-only for its group
# under run_as (the sessions' group) and, without run_as as here,
# owner-only too.
[ -z "$(find "$S/audit" -perm /077 | head -1)" ] || fail "group/other permissions in audit/"
[ -z "$(find "$S/audit-export" -perm /027 | head -1)" ] || fail "group-write or other permissions in audit-export/"
[ "$(stat -c %a "$S/audit-export/verify.txt")" = 600 ] || fail "verify.txt mode"
echo "audit CLI checks passed"
