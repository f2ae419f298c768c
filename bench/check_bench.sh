#!/bin/sh
# relgate check against DuckDB, in the same run, on the same extract.
#
# The extract is made by the shared gen_extract.py (9M rows, about 1 GiB;
# CHECK_BENCH_ROWS to change) and cached in $RELGATE_BENCH_CACHE (default
# ~/.cache/relgate-bench). The contract carries the rules of the shared
# duckdb_check.mjs: person_id an hmac-sha256 token, age_band and sex from
# allowed lists, postcode_district at district granularity, award_amount an
# integer rounded to 5, claim_start a year-month, every raw-identifier
# scanner (relgate always runs all of them), k-anonymity 10 over
# age_band, sex, region. DuckDB runs duckdb_check.mjs with 2 threads
# (@duckdb/node-api installed with npm in a scratch folder of the cache).
#
# Prints seconds, MB/s and peak RSS of both, the ratio, and the peak RSS of
# relgate for a 4 GiB stream (the extract four times through a pipe).
# Targets: relgate >= 5x DuckDB, peak RSS <= 32 MiB at 1 and 4 GiB.
set -eu

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
shared=${RELGATE_SHARED:-$top_srcdir/../shared}
rows=${CHECK_BENCH_ROWS:-9000000}
cache=${RELGATE_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/relgate-bench}
RELGATE=$top_builddir/relgate
gen=$shared/bench/gen_extract.py
duckjs=$shared/bench/duckdb_check.mjs

for f in "$gen" "$duckjs"; do
	if [ ! -f "$f" ]; then
		echo "check_bench: $f not found (set RELGATE_SHARED): skipped"
		exit 0
	fi
done
[ -x "$RELGATE" ] || { echo "check_bench: no $RELGATE"; exit 1; }
[ -x /usr/bin/time ] || { echo "check_bench: needs /usr/bin/time"; exit 1; }

mkdir -p "$cache"
extract=$cache/extract-$rows.csv
if [ ! -s "$extract" ]; then
	echo "generating $rows rows into $extract ..."
	python3 "$gen" "$rows" >"$extract.tmp.$$"
	mv "$extract.tmp.$$" "$extract"
fi
bytes=$(stat -c %s "$extract")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/relgate-check-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

cat >"$tmp/bench.yaml" <<'EOF'
id: BENCH-2026-0001
version: 1
title: Check benchmark (the rules of duckdb_check.mjs)
purpose: Measure relgate check against DuckDB.
status: active
valid_from: 2020-01-01
valid_until: 2099-12-31
contractor:
  organisation: acme-research
  assurance: {scheme: ISO27001, ref: "CERT-1", expires: 2099-12-31}
people: [acme-ana]
approvers: [iam-jo]
approvals_required: 1
recipients:
  - AC3E00000000000000000000000000000000A0A1
retention: {download_days: 14, max_downloads: 3}
datasets:
  benefit_claims:
    max_rows: 100000000
    max_rows_total: 1000000000
    max_releases: 100
    columns:
      person_id: {masking: hmac-sha256}
      age_band: {allowed: ["16-24","25-34","35-44","45-54","55-64","65+"]}
      sex: {allowed: [F, M]}
      region: {}
      postcode_district: {granularity: postcode-district}
      benefit_type: {}
      award_amount: {type: integer, rounding: 5}
      claim_start: {type: year-month}
      weeks_on_benefit: {type: integer}
    quasi_identifiers: [age_band, sex, region]
    k_anonymity: 10
EOF

# DuckDB in a scratch folder of the cache (installed once)
duckdir=$cache/duckdb
if [ ! -d "$duckdir/node_modules/@duckdb/node-api" ]; then
	mkdir -p "$duckdir"
	echo "installing @duckdb/node-api into $duckdir ..."
	(cd "$duckdir" && npm install --no-audit --no-fund @duckdb/node-api \
	    >/dev/null)
fi
cp "$duckjs" "$duckdir/duckdb_check.mjs"

# warm the page cache so both read from memory
cat "$extract" >/dev/null

echo "extract: $extract ($bytes bytes, $rows rows)"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

set +e
/usr/bin/time -f "%e %M" -o "$tmp/rg.time" "$RELGATE" check --no-progress \
    --contract-file "$tmp/bench.yaml" "$extract" >"$tmp/rg.out" 2>"$tmp/rg.err"
rg_status=$?
(cd "$duckdir" && /usr/bin/time -f "%e %M" -o "$tmp/dk.time" \
    node duckdb_check.mjs "$extract" >"$tmp/dk.out" 2>"$tmp/dk.err")
dk_status=$?
set -e
if [ "$rg_status" != 0 ]; then
	echo "relgate check exited $rg_status:"; tail -25 "$tmp/rg.out" "$tmp/rg.err"
	exit 1
fi
if [ "$dk_status" != 0 ]; then
	echo "duckdb exited $dk_status:"; cat "$tmp/dk.err"
	exit 1
fi
echo "relgate: $(grep -E '^contract' "$tmp/rg.out"); $(tail -1 "$tmp/rg.out")"
echo "duckdb:  $(cat "$tmp/dk.out")"

# 4 GiB through a pipe: the data rows four times after one header
set +e
{ cat "$extract"; for i in 1 2 3; do tail -n +2 "$extract"; done; } |
    /usr/bin/time -f "%e %M" -o "$tmp/rg4.time" "$RELGATE" check \
    --no-progress --contract-file "$tmp/bench.yaml" /dev/stdin \
    >"$tmp/rg4.out" 2>"$tmp/rg4.err"
rg4_status=$?
set -e
[ "$rg4_status" = 0 ] || { echo "4 GiB run exited $rg4_status"; tail -5 "$tmp/rg4.err"; }

read -r rg_s rg_kb <"$tmp/rg.time"
read -r dk_s dk_kb <"$tmp/dk.time"
read -r rg4_s rg4_kb <"$tmp/rg4.time"
awk -v b="$bytes" -v rs="$rg_s" -v rk="$rg_kb" -v ds="$dk_s" -v dk="$dk_kb" \
    -v r4s="$rg4_s" -v r4k="$rg4_kb" 'BEGIN {
	if (rs <= 0) rs = 0.01; if (r4s <= 0) r4s = 0.01;
	printf "relgate check: %6.2f s  %7.1f MB/s  peak RSS %6.1f MiB\n", rs, b / rs / 1e6, rk / 1024;
	printf "duckdb:        %6.2f s  %7.1f MB/s  peak RSS %6.1f MiB\n", ds, b / ds / 1e6, dk / 1024;
	printf "ratio (duckdb time / relgate time): %.1fx (target >= 5x: %s)\n", ds / rs, (ds / rs >= 5) ? "met" : "MISSED";
	printf "relgate 4x stream (%.2f GB): %6.2f s  %7.1f MB/s  peak RSS %6.1f MiB\n", 4 * b / 1e9, r4s, 4 * b / r4s / 1e6, r4k / 1024;
	printf "peak RSS <= 32 MiB at 1x and 4x: %s\n", (rk <= 32768 && r4k <= 32768) ? "met" : "MISSED";
}'
