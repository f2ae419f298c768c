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
# Make the gateway key and warm the page cache before timing.
"$top_builddir/gateway/relgate-worker" -c "$C" -s "$S" --once 2>/dev/null
cat "$F" > /dev/null

now() { date +%s.%N; }
"$WORKER" -s "$S" --enqueue submit staff-ann bench
t0=$(now)
"$WORKER" -c "$C" -s "$S" --once 2>>"$T/worker.log"
t1=$(now)
st=$(rl_json "$S/spool/staff/staff-ann/bench/status.json" state)
[ "$st" = awaiting_approval ] || { cat "$S/spool/staff/staff-ann/bench/report.txt"; echo "release_bench: checks did not pass ($st)"; exit 1; }
RID=$(rl_json "$S/spool/staff/staff-ann/bench/status.json" request)
mkdir -p "$S/requests/$RID/decisions"
printf 'decision: approve\nreason: bench\n' > "$S/requests/$RID/decisions/staff-ben.yaml"
"$WORKER" -s "$S" --enqueue decision "$RID" staff-ben
t2=$(now)
"$WORKER" -c "$C" -s "$S" --once 2>>"$T/worker.log"
t3=$(now)
st=$(rl_json "$S/spool/staff/staff-ann/bench/status.json" state)
[ "$st" = published ] || { tail "$T/worker.log"; echo "release_bench: not published ($st)"; exit 1; }
pkg=$(ls "$S"/releases/TEST-2026-0001/*.gpg)

base=$(bash "$SHARED/bench/gpg_pipeline_baseline.sh" "$F")
echo "baseline: $base"
bt=$(echo "$base" | sed -n 's/^tar|zstd -1|gpg -z0: \([0-9.]*\) s.*/\1/p')
python3 - "$t0" "$t1" "$t2" "$t3" "$bt" "$(stat -c %s "$pkg")" <<'PY'
import sys
t0, t1, t2, t3, bt = map(float, sys.argv[1:6]); size = int(sys.argv[6])
checks, pack = t1 - t0, t3 - t2
print(f"relgate: checks {checks:.3f} s + packaging {pack:.3f} s = {checks + pack:.3f} s (package {size} bytes)")
print(f"baseline tar|zstd -1|gpg -z0: {bt:.3f} s")
print(f"ratio: {(checks + pack) / bt:.2f} (goal <= 1.5)")
PY
