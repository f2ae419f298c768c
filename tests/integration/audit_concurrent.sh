#!/bin/sh
# Concurrency and crash tests of the audit log:
#  1. 8 processes append at once through the audit writer: one gap-free
#     chain that verifies, every process's records all there;
#  2. the same with no writer (each process opens SQLite directly);
#  3. kill -9 of the writer during appends from 8 processes: the chain
#     verifies, and every seq a client was answered with is in the log;
#     a restarted writer signs the checkpoint left unsigned;
#  4. kill -9 of 8 direct writers during appends: the chain verifies.
set -eu
: "${top_builddir:?}"
R=$top_builddir/relgate
T=$top_builddir/audit/rg-audit-tool
W=$(mktemp -d /tmp/rg-conc.XXXXXX)
SPID=
cleanup() {
	if [ -n "$SPID" ]; then
		kill -9 "$SPID" 2>/dev/null || true
		wait "$SPID" 2>/dev/null || true
	fi
	for g in "$W"/*/gnupg; do
		[ -d "$g" ] && gpgconf --homedir "$g" --kill all 2>/dev/null
	done
	rm -rf "$W" 2>/dev/null || { sleep 1; rm -rf "$W"; }
}
trap cleanup EXIT INT TERM
q() { sqlite3 "$1/audit/audit.db" "$2"; }
# slow SECONDS: a wait tuned for native speed, times RG_SLOW (make
# check-valgrind sets it; 1 otherwise).
slow() { awk -v t="$1" -v s="${RG_SLOW:-1}" 'BEGIN { print t * s }'; }

start_writer() {
	"$T" serve "$1" --every 100 &
	SPID=$!
	i=0
	while ! "$T" append "$1" 0 probe 2>/dev/null ||
	    [ ! -S "$1/audit/audit.sock" ]; do
		i=$((i + 1)); [ $i -lt 300 ] || { echo "writer did not start"; exit 1; }
		sleep 0.05
	done
}

gapfree() {
	n=$(q "$1" "SELECT count(*) FROM records")
	mx=$(q "$1" "SELECT max(seq) FROM records")
	mn=$(q "$1" "SELECT min(seq) FROM records")
	[ "$n" = "$mx" ] && [ "$mn" = 1 ] || {
		echo "FAIL: $n records but seq $mn..$mx"; exit 1; }
	echo "  $n records, seq 1..$mx without a gap"
}

echo "1. 8 concurrent writers through the audit writer"
S=$W/server
mkdir -p "$S"
start_writer "$S"
"$T" bench "$S" 8 300
kill -TERM "$SPID"; wait "$SPID"; SPID=
gapfree "$S"
for k in 0 1 2 3 4 5 6 7; do
	c=$(q "$S" "SELECT count(*) FROM records WHERE user = 'bench-$k'")
	[ "$c" = 300 ] || { echo "FAIL: bench-$k has $c records"; exit 1; }
done
# Group commit happened: records of several writers share a time stamp
# (one transaction).
groups=$(q "$S" "SELECT count(*) FROM (SELECT time FROM records GROUP BY time HAVING count(*) > 1)")
echo "  $groups transactions carried more than one record"
[ "$groups" -gt 0 ] || { echo "FAIL: no group commit"; exit 1; }
"$R" audit --state "$S" verify

echo "2. 8 concurrent direct writers (no audit writer)"
D=$W/direct
mkdir -p "$D"
"$T" bench "$D" 8 100
gapfree "$D"
"$R" audit --state "$D" verify

echo "3. kill -9 of the audit writer during appends"
K=$W/kill-writer
mkdir -p "$K"
start_writer "$K"
pids=
for k in 1 2 3 4 5 6 7 8; do
	VERBOSE=1 "$T" append "$K" 100000 w$k >"$W/acked.$k" 2>/dev/null &
	pids="$pids $!"
done
sleep "$(slow 1.5)"
kill -9 "$SPID"; wait "$SPID" 2>/dev/null || true; SPID=
# A client waiting for its answer fails; one that was between two appends
# finds no writer and goes on in direct mode (audit.c): stop those.
sleep "$(slow 0.5)"
for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
for p in $pids; do wait "$p" 2>/dev/null || true; done
acked=$(cat "$W"/acked.* | wc -l)
[ "$acked" -gt 100 ] || { echo "FAIL: only $acked appends before the kill"; exit 1; }
gapfree "$K"
# Every answered seq is in the log (acknowledged means durable).
mx=$(q "$K" "SELECT max(seq) FROM records")
over=$(cat "$W"/acked.* | awk -v m="$mx" '$1 > m' | wc -l)
[ "$over" = 0 ] || { echo "FAIL: $over acknowledged records missing"; exit 1; }
echo "  $acked acknowledged appends, all in the log"
"$R" audit --state "$K" verify
start_writer "$K"
"$T" append "$K" 50 after-restart
kill -TERM "$SPID"; wait "$SPID"; SPID=
gapfree "$K"
"$R" audit --state "$K" verify >"$W/v.txt"
cat "$W/v.txt"
grep -q "checkpoints awaiting signature: 0" "$W/v.txt" || {
	echo "FAIL: unsigned checkpoints after restart"; exit 1; }

echo "4. kill -9 of 8 direct writers during appends"
X=$W/kill-direct
mkdir -p "$X"
pids=
for k in 1 2 3 4 5 6 7 8; do
	"$T" append "$X" 100000 d$k 2>/dev/null &
	pids="$pids $!"
done
sleep "$(slow 1.5)"
for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
for p in $pids; do wait "$p" 2>/dev/null || true; done
gapfree "$X"
"$R" audit --state "$X" verify
echo "all concurrency and crash checks passed"
