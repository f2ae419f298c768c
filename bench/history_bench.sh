#!/usr/bin/env bash
# Cumulative disclosure benchmark: releases of 1M rows each (gen_extract.py),
# different people in each, judged by disclosure.cumulative against
# everything the contract released before. Nine releases of one contract
# are published; then, interleaved for ROUNDS rounds (default 3), the same
# new extract is checked as the 10th release of that contract and as the
# 1st of a contract with no history (each withdrawn after its checks). The
# time is the worker's, from queueing the submission to the report being
# shown: one streaming pass with k-anonymity and the trace, then the merge
# with the history. Goal: the 10th at most 1.5x the 1st (medians). Also the
# history's size on disk per released record (goal <= 64 bytes).
#
#   bench/history_bench.sh [ROWS] [RELEASES]     (defaults 1000000 10)
#
# Build without sanitizers for this (make bench in an optimised build).
set -euo pipefail
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
SHARED=${RG_SHARED:-}
for c in "$SHARED" "$top_srcdir/../shared" /work/shared; do
	[ -n "$c" ] && [ -f "$c/bench/gen_extract.py" ] && { SHARED=$c; break; }
done
[ -f "$SHARED/bench/gen_extract.py" ] || { echo "history_bench: shared/bench not found (set RG_SHARED)"; exit 0; }
ROWS=${1:-1000000}
RELEASES=${2:-10}
. "$top_srcdir/tests/integration/release_lib.sh"
T=$(mktemp -d "${TMPDIR:-/var/tmp}/rg-hbench.XXXXXX")
trap 'rl_cleanup_gpg; rm -rf "$T"' EXIT
rl_setup 2222
S=$T/state C=$T/etc
# The bench contract: gen_extract.py's shape, people keyed by person_id,
# k = 10 over age band, sex and region.
sed -i 's/quasi_identifiers: \[age_band, sex\]/one_row_per: person_id\n    quasi_identifiers: [age_band, sex, region]/; s/k_anonymity: 2/k_anonymity: 10/' \
    "$C/contracts/TEST-2026-0001.yaml"
sed 's/^id: TEST-2026-0001/id: TEST-2026-0009/' "$C/contracts/TEST-2026-0001.yaml" > "$C/contracts/TEST-2026-0009.yaml"

echo "generating $ROWS rows..."
python3 "$SHARED/bench/gen_extract.py" "$ROWS" > "$T/base.csv"
# release i: the same shape, other people (the token's first digit is i)
make_release() {
	sed "2,\$ s/^./$(printf %x "$1")/" "$T/base.csv"
}

"$WORKER" -c "$C" -s "$S" 2>>"$T/worker.log" &
WPID=$!
trap 'kill "$WPID" 2>/dev/null; wait "$WPID" 2>/dev/null; rl_cleanup_gpg; rm -rf "$T"' EXIT
for _ in $(seq 200); do [ -s "$S/releases/gateway.asc" ] && break; sleep 0.05; done

now() { date +%s.%N; }
cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14+$15)/hz}' "/proc/$WPID/stat"; }
wait_state() { # FOLDER STATE
	local f=$S/spool/staff/staff-ann/$1/status.json
	while :; do
		if [ -f "$f" ] && grep -q "\"state\": \"$2\"" "$f"; then return 0; fi
		if [ -f "$f" ] && grep -q '"state": "failed"' "$f"; then
			cat "$S/spool/staff/staff-ann/$1/report.txt"; echo "history_bench: release failed"; exit 1
		fi
		kill -0 "$WPID" 2>/dev/null || { tail "$T/worker.log"; echo "history_bench: worker died"; exit 1; }
		sleep 0.01
	done
}
: > "$T/times"
# submit FOLDER CONTRACT DIGIT: an extract of other people (first token
# digit) under CONTRACT; waits for its checks; prints wall and CPU seconds
submit() {
	local d=$S/spool/staff/staff-ann/$1 c0 c1 t0 t1
	mkdir -p "$d"
	make_release "$3" > "$d/extract.csv"
	printf 'contract: %s\ndataset: claims\nfiles: [extract.csv]\n' "$2" > "$d/request.yaml"
	cat "$d/extract.csv" > /dev/null	# in the page cache, every time
	c0=$(cpu); t0=$(now)
	"$WORKER" -s "$S" --enqueue submit staff-ann "$1"
	wait_state "$1" awaiting_approval
	t1=$(now); c1=$(cpu)
	grep 'disclosure.cumulative' "$d/report.txt" | sed 's/^/  /' >&2
	echo "$t0 $t1 $c0 $c1"
}
# The history: releases 1 .. RELEASES-1 of TEST-2026-0001, published.
for i in $(seq 1 $((RELEASES - 1))); do
	submit "h$i" TEST-2026-0001 "$i" > /dev/null
	d=$S/spool/staff/staff-ann/h$i
	RID=$(rl_json "$d/status.json" request)
	mkdir -p "$S/requests/$RID/decisions"
	printf 'decision: approve\nreason: bench\n' > "$S/requests/$RID/decisions/staff-ben.yaml"
	"$WORKER" -s "$S" --enqueue decision "$RID" staff-ben
	wait_state "h$i" published
	rm -f "$d/extract.csv"
done
# Then, interleaved, ROUNDS times: a first release (TEST-2026-0009, no
# history) and a RELEASES-th one (TEST-2026-0001), the same new people;
# each withdrawn after its checks, so the history stays as it is.
for r in $(seq 1 "${ROUNDS:-3}"); do
	for c in first:TEST-2026-0009 last:TEST-2026-0001; do
		f=${c%%:*}$r
		echo "${c%%:*} $(submit "$f" "${c#*:}" 15)" >> "$T/times"
		rm "$S/spool/staff/staff-ann/$f/request.yaml"
		"$WORKER" -s "$S" --enqueue withdraw staff-ann "$f"
		wait_state "$f" withdrawn
		rm -f "$S/spool/staff/staff-ann/$f/extract.csv"
	done
done
hist=$(ls "$S"/history/TEST-2026-0001/*.hist)
echo "worker peak RSS over the run: $(awk '/VmHWM/ {print $2 / 1024 " MiB"}' "/proc/$WPID/status")"
python3 - "$T/times" "$(stat -c %s "$hist")" "$ROWS" "$RELEASES" <<'PY'
import statistics, sys
size, n, releases = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
t = {"first": [], "last": []}
for l in open(sys.argv[1]):
    k, t0, t1, c0, c1 = l.split()
    t[k].append((float(t1) - float(t0), float(c1) - float(c0)))
for k, name in (("first", "release 1"), ("last", f"release {releases}")):
    print(f"{name:>10}: checks " + ", ".join(f"{w:.3f} s (CPU {c:.2f})" for w, c in t[k]))
ratios = [l[0] / f[0] for f, l in zip(t["first"], t["last"])]
wall = statistics.median(w for w, _ in t["last"]) / statistics.median(w for w, _ in t["first"])
cpu = statistics.median(c for _, c in t["last"]) / max(statistics.median(c for _, c in t["first"]), 0.01)
print(f"release {releases} / release 1: median {wall:.2f}x wall (worst round {max(ratios):.2f}x), "
      f"{cpu:.2f}x worker CPU (goal <= 1.5)")
records = n * (releases - 1)
print(f"history: {size} bytes for {records} released records = "
      f"{size / records:.1f} bytes per record (goal <= 64)")
PY
