#!/usr/bin/env bash
# Release pipeline benchmark: for one extract (default: 1 GiB from
# gen_extract.py 9000000), the gateway's own time -- the checks after
# submission (one streaming pass: CSV, rules, scanners, k-anonymity, SHA-256,
# tar+zstd staging) plus the packaging after approval (manifest, sign,
# encrypt, publish) -- against `tar | zstd -1 | gpg -z0 --encrypt` on the
# same file (shared/bench/gpg_pipeline_baseline.sh), measured in the same
# run. Prints both times and the ratio; the goal is <= 1.5.
#
#   bench/release_bench.sh [ROWS]      (RELEASE_BENCH_FILE=path to reuse one)
#
# Also prints the worker's CPU seconds per phase (gpg included). While
# working on it: RELEASE_BENCH_NOBASE=1 skips the baseline (our side only),
# RELEASE_BENCH_PERF=FILE records the worker with perf record -g.
#
# Build without sanitizers for this (make bench in an optimised build).
set -euo pipefail
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
SHARED=${RG_SHARED:-}
for c in "$SHARED" "$top_srcdir/../shared" /work/shared; do
	[ -n "$c" ] && [ -f "$c/bench/gpg_pipeline_baseline.sh" ] && { SHARED=$c; break; }
done
[ -f "$SHARED/bench/gpg_pipeline_baseline.sh" ] || { echo "release_bench: shared/bench not found (set RG_SHARED)"; exit 0; }
ROWS=${1:-9000000}
. "$top_srcdir/tests/integration/release_lib.sh"
T=$(mktemp -d "${TMPDIR:-/var/tmp}/rg-bench.XXXXXX")
trap 'rl_cleanup_gpg; rm -rf "$T"' EXIT
rl_setup 2222
S=$T/state C=$T/etc
# The bench contract: the demo dataset's shape (gen_extract.py), k = 10
# over age band, sex and region, every cell scanned for raw identifiers.
sed -i 's/quasi_identifiers: \[age_band, sex\]/quasi_identifiers: [age_band, sex, region]/; s/k_anonymity: 2/k_anonymity: 10/' \
    "$C/contracts/TEST-2026-0001.yaml"

if [ -n "${RELEASE_BENCH_FILE:-}" ]; then
	F=$RELEASE_BENCH_FILE
else
	F=$T/extract.csv
	echo "generating $ROWS rows..."
	python3 "$SHARED/bench/gen_extract.py" "$ROWS" > "$F"
fi
echo "extract: $(stat -c %s "$F") bytes"
mkdir -p "$S/spool/staff/staff-ann/bench"
ln "$F" "$S/spool/staff/staff-ann/bench/extract.csv" 2>/dev/null || cp "$F" "$S/spool/staff/staff-ann/bench/extract.csv"
printf 'contract: TEST-2026-0001\ndataset: claims\nfiles: [extract.csv]\n' > "$S/spool/staff/staff-ann/bench/request.yaml"
# The worker runs as in relgated (started once, waiting on its queue):
# the timed spans are from queueing an event to its result being shown.
"$WORKER" -c "$C" -s "$S" 2>>"$T/worker.log" &
WPID=$!
trap 'kill "$WPID" 2>/dev/null; wait "$WPID" 2>/dev/null; rl_cleanup_gpg; rm -rf "$T"' EXIT
for _ in $(seq 200); do [ -s "$S/releases/gateway.asc" ] && break; sleep 0.05; done
cat "$F" > /dev/null	# page cache warm for both sides
# (with perf recording, the times are not comparable)
PPID_=
if [ -n "${RELEASE_BENCH_PERF:-}" ]; then
	perf record -q -g -o "$RELEASE_BENCH_PERF" -p "$WPID" 2>/dev/null &
	PPID_=$!
	sleep 1
fi

now() { date +%s.%N; }
# CPU seconds of the worker and the children it waited for (gpg), from
# /proc: less disturbed than wall time on a busy machine.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14+$15+$16+$17)/hz}' "/proc/$WPID/stat"; }
# The machine may be shared and noisy: the baseline runs before and after
# ours, and the ratio is taken against the mean of the two.
baseline() {
	local out
	out=$(bash "$SHARED/bench/gpg_pipeline_baseline.sh" "$F")
	echo "baseline: $out" >&2
	echo "$out" | sed -n 's/^tar|zstd -1|gpg -z0: \([0-9.]*\) s.*/\1/p'
}
if [ -n "${RELEASE_BENCH_NOBASE:-}" ]; then bt1=0; else bt1=$(baseline); fi
# wait_state STATE: poll the request's status.json (10 ms steps)
wait_state() {
	local f=$S/spool/staff/staff-ann/bench/status.json
	while :; do
		if [ -f "$f" ] && grep -q "\"state\": \"$1\"" "$f"; then return 0; fi
		if [ -f "$f" ] && grep -q '"state": "failed"' "$f"; then
			cat "$S/spool/staff/staff-ann/bench/report.txt"; echo "release_bench: checks failed"; exit 1
		fi
		kill -0 "$WPID" 2>/dev/null || { tail "$T/worker.log"; echo "release_bench: worker died"; exit 1; }
		sleep 0.01
	done
}
c0=$(cpu)
t0=$(now)
"$WORKER" -s "$S" --enqueue submit staff-ann bench
wait_state awaiting_approval
t1=$(now)
c1=$(cpu)
RID=$(rl_json "$S/spool/staff/staff-ann/bench/status.json" request)
mkdir -p "$S/requests/$RID/decisions"
printf 'decision: approve\nreason: bench\n' > "$S/requests/$RID/decisions/staff-ben.yaml"
c2=$(cpu)
t2=$(now)
"$WORKER" -s "$S" --enqueue decision "$RID" staff-ben
wait_state published
t3=$(now)
c3=$(cpu)
echo "worker CPU: checks $(python3 -c "print(f'{$c1-$c0:.2f}')") s, packaging $(python3 -c "print(f'{$c3-$c2:.2f}')") s"
pkg=$(ls "$S"/releases/TEST-2026-0001/*.gpg)

if [ -n "$PPID_" ]; then kill -INT "$PPID_"; wait "$PPID_" || :; fi
if [ -n "${RELEASE_BENCH_NOBASE:-}" ]; then bt2=0; else bt2=$(baseline); fi
bt=$(python3 -c "print(($bt1 + $bt2) / 2)")
python3 - "$t0" "$t1" "$t2" "$t3" "$bt" "$(stat -c %s "$pkg")" <<'PY'
import sys
t0, t1, t2, t3, bt = map(float, sys.argv[1:6]); size = int(sys.argv[6])
checks, pack = t1 - t0, t3 - t2
print(f"relgate: checks {checks:.3f} s + packaging {pack:.3f} s = {checks + pack:.3f} s (package {size} bytes)")
if bt > 0:
    print(f"baseline tar|zstd -1|gpg -z0: {bt:.3f} s (mean of the runs before and after)")
    print(f"ratio: {(checks + pack) / bt:.2f} (goal <= 1.5)")
PY
