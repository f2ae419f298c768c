#!/bin/sh
# bench/audit_bench.sh [RECORDS_PER_WRITER] [VERIFY_RECORDS]
#
# Durable audit appends per second, measured side by side in one run
# (the machine is shared and noisy: compare the ratios):
#   1. one writer, SQLite directly: one fsync per record (the baseline)
#   2. 8 processes, SQLite directly (BEGIN IMMEDIATE; they queue on the lock)
#   3. 8 processes through the audit writer (group commit), checkpoints
#      signed every 1000 records as in production
# and `relgate audit verify` over VERIFY_RECORDS records (default 1e6)
# with a signed checkpoint every 1000. Use a build without sanitizers.
set -eu
B=${top_builddir:-$(pwd)}
T=$B/audit/rg-audit-tool
R=$B/relgate
N=${1:-3000}
V=${2:-1000000}
[ -x "$T" ] && [ -x "$R" ] || { echo "build relgate and audit/rg-audit-tool first" >&2; exit 2; }
if grep -q 'fsanitize' "$B/Makefile" 2>/dev/null; then
	echo "warning: this build has sanitizers; figures will be low" >&2
fi
W=$(mktemp -d /tmp/rg-audit-bench.XXXXXX)
SPID=
cleanup() {
	if [ -n "$SPID" ]; then
		kill "$SPID" 2>/dev/null || true
		wait "$SPID" 2>/dev/null || true
	fi
	for g in "$W"/*/gnupg; do
		[ -d "$g" ] && gpgconf --homedir "$g" --kill all 2>/dev/null
	done
	rm -rf "$W"
}
trap cleanup EXIT INT TERM
rate() { sed -n 's/.*s, \([0-9]*\) durable appends\/s/\1/p'; }

echo "== audit appends (fsync per commit; $(nproc) cores; load $(cut -d' ' -f1 /proc/loadavg))"
mkdir -p "$W/one" "$W/direct" "$W/server" "$W/verify"
"$T" bench "$W/one" 1 "$N" >"$W/one.txt"; cat "$W/one.txt"
one=$(rate <"$W/one.txt")
"$T" bench "$W/direct" 8 $((N / 4)) >"$W/direct.txt"; cat "$W/direct.txt"
direct=$(rate <"$W/direct.txt")
"$T" serve "$W/server" --every 1000 &
SPID=$!
i=0
while [ ! -S "$W/server/audit/audit.sock" ]; do
	i=$((i + 1)); [ $i -lt 600 ] || { echo "writer did not start" >&2; exit 1; }
	sleep 0.05
done
"$T" bench "$W/server" 8 "$N" >"$W/group.txt"; cat "$W/group.txt"
group=$(rate <"$W/group.txt")
kill -TERM "$SPID"; wait "$SPID"; SPID=
"$R" audit --state "$W/server" verify >/dev/null || { echo "chain does not verify" >&2; exit 1; }
echo "single direct writer:          $one appends/s"
echo "8 direct writers:              $direct appends/s"
echo "8 writers, group commit:       $group appends/s ($(awk -v g="$group" -v o="$one" 'BEGIN { printf "%.1f", g / o }')x the single writer)"

echo "== verify over $V records (signed checkpoint every 1000)"
"$T" fill "$W/verify" "$V" 30 1000
best=
for k in 1 2 3; do
	/usr/bin/time -f "%e %U %S" -o "$W/time" "$R" audit --state "$W/verify" verify >"$W/v.txt"
	set -- $(cat "$W/time")
	echo "run $k: $1 s elapsed, $2 s user, $3 s sys"
	best=$(awk -v a="$1" -v b="${best:-999}" 'BEGIN { print (a < b) ? a : b }')
done
sed -n '1,2p;5p' "$W/v.txt"
echo "verify, best of 3:             $best s for $V records"
