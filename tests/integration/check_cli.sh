#!/bin/sh
# Drive the real `relgate check` binary: a clean extract passes (exit 0),
# rule failures exit 1 with the rule, row and column and never the value,
# inputs that cannot be checked exit 2 with a clear message (empty file,
# header only, a single 100 MB line, a binary file, bad usage, unknown
# contract), and nothing ever crashes. Big inputs are made at run time in a
# temporary folder.
set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
RELGATE=$top_builddir/relgate
[ -x "$RELGATE" ] || { echo "no relgate binary at $RELGATE"; exit 99; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/relgate-check-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
fails=0
n=0

# run EXPECTED-STATUS NAME ARGS... : runs relgate check, keeps out/err
run() {
	want=$1; name=$2; shift 2
	n=$((n + 1))
	"$RELGATE" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	got=$?
	if [ "$got" != "$want" ]; then
		echo "FAIL $name: exit $got, want $want"
		sed 's/^/  out: /' "$tmp/out" | head -30
		sed 's/^/  err: /' "$tmp/err" | head -10
		fails=$((fails + 1))
		return 1
	fi
	if grep -q -E "AddressSanitizer|runtime error|LeakSanitizer" "$tmp/err"; then
		echo "FAIL $name: sanitizer report"
		head -20 "$tmp/err"
		fails=$((fails + 1))
		return 1
	fi
	echo "ok   $name (exit $got)"
	return 0
}

# expect FILE PATTERN NAME : grep -E must match
expect() {
	if ! grep -q -E -e "$2" "$1"; then
		echo "FAIL $3: no /$2/ in $1:"
		head -40 "$1" | sed 's/^/  /'
		fails=$((fails + 1))
	fi
}

# refuse FILE STRING NAME : the string must not appear
refuse() {
	if grep -q -F -e "$2" "$1"; then
		echo "FAIL $3: '$2' leaked into $1"
		fails=$((fails + 1))
	fi
}

cat >"$tmp/c.yaml" <<'EOF'
id: TEST-2026-0042
version: 1
title: Check CLI test
purpose: Exercise relgate check.
status: active
valid_from: 2026-01-01
valid_until: 2027-03-31
contractor:
  organisation: acme-research
  assurance: {scheme: ISO27001, ref: "CERT-123", expires: 2027-06-30}
people: [acme-ana]
approvers: [iam-jo]
approvals_required: 1
recipients:
  - AC3E00000000000000000000000000000000A0A1
retention: {download_days: 14, max_downloads: 3}
datasets:
  claims:
    max_rows: 50000
    max_rows_total: 200000
    max_releases: 12
    one_row_per: person_id
    columns:
      person_id:   {masking: hmac-sha256}
      age_band:    {allowed: ["16-24","25-34","35-44","45-54","55-64","65+"]}
      sex:         {allowed: [F, M]}
      region:      {}
      postcode_district: {granularity: postcode-district}
      award_amount: {type: integer, min: 0, max: 100000, rounding: 5}
      claim_start: {type: year-month}
    quasi_identifiers: [age_band, sex, region]
    k_anonymity: 10
EOF

# a clean extract: 2000 rows, every class well above k
gen_clean() {
	awk -v rows="$1" 'BEGIN {
		split("16-24 25-34 35-44 45-54 55-64 65+", band, " ");
		print "person_id,age_band,sex,region,postcode_district,award_amount,claim_start";
		for (i = 0; i < rows; i++) {
			tok = sprintf("%08x", i);
			for (k = 0; k < 7; k++) tok = tok sprintf("%08x", (i * 2654435761 + k * 40503) % 4294967296);
			printf "%s,%s,%s,\"%s\",LS%d,%d,20%02d-%02d\n", tok,
			    band[i % 6 + 1], (i % 2) ? "F" : "M",
			    (i % 3) ? "North East" : "Wales, South", i % 30 + 1,
			    (i % 100) * 5, 15 + i % 10, i % 12 + 1;
		}
	}'
}
gen_clean 2000 >"$tmp/clean.csv"

run 0 "clean extract passes" check --contract-file "$tmp/c.yaml" --today 2026-06-01 "$tmp/clean.csv" &&
	expect "$tmp/out" "^verdict: pass" "clean verdict" &&
	expect "$tmp/out" "2000 data rows" "clean row count"

run 0 "clean extract --json" check --contract-file "$tmp/c.yaml" --today 2026-06-01 --json "$tmp/clean.csv" &&
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["verdict"]=="pass" and d["rows"]==2000 and d["contract"]=="TEST-2026-0042" and d["dataset"]=="claims", d; assert any(r["rule"]=="identifiers.raw" and r["status"]=="pass" for r in d["rules"])' "$tmp/out" ||
	{ echo "FAIL json shape"; fails=$((fails + 1)); }

# CRLF line ends and a BOM read the same
{ printf '\357\273\277'; sed 's/$/\r/' "$tmp/clean.csv"; } >"$tmp/crlf.csv"
run 0 "CRLF with BOM passes" check --contract-file "$tmp/c.yaml" --today 2026-06-01 "$tmp/crlf.csv"

# contract.active judged on the day given
run 1 "expired contract fails" check --contract-file "$tmp/c.yaml" --today 2027-04-01 "$tmp/clean.csv" &&
	expect "$tmp/out" "^FAIL +contract.active" "contract.active line"

# raw identifiers: the report names row, column and kind, never the value
{
	head -n 11 "$tmp/clean.csv"
	sed -n '12p' "$tmp/clean.csv" | sed 's/"North East"/"NI JG103759A"/; s/"Wales, South"/"NI JG103759A"/'
	sed -n '13,2001p' "$tmp/clean.csv"
} >"$tmp/ni.csv"
run 1 "NI number fails identifiers.raw" check --contract-file "$tmp/c.yaml" --today 2026-06-01 "$tmp/ni.csv" &&
	expect "$tmp/out" "^FAIL +identifiers.raw +column region: 1 National Insurance number \(row 11\)" "identifiers.raw line" &&
	refuse "$tmp/out" "JG103759A" "NI value in report"
run 1 "NI number --json" check --contract-file "$tmp/c.yaml" --today 2026-06-01 --json "$tmp/ni.csv" &&
	expect "$tmp/out" '"rule": "identifiers.raw", "status": "fail", "count": 1, "rows": \[11\], "column": "region", "detail": "National Insurance number"' "identifiers.raw json" &&
	refuse "$tmp/out" "JG103759A" "NI value in json"

# value rules with row numbers
awk -F, 'NR == 4 { $3 = "X" } NR == 6 { $6 = "12" } NR == 9 { $5 = "LS1 4AB" } { print }' OFS=, "$tmp/clean.csv" >"$tmp/bad.csv"
run 1 "value rules fail" check --contract-file "$tmp/c.yaml" --today 2026-06-01 "$tmp/bad.csv" &&
	expect "$tmp/out" "^FAIL +values.allowed +column sex: 1 .*\(row 3\)" "values.allowed" &&
	expect "$tmp/out" "^FAIL +values.rounding +column award_amount: 1 .*\(row 5\)" "values.rounding" &&
	expect "$tmp/out" "^FAIL +values.granularity +column postcode_district: 1 .*\(row 8\)" "values.granularity"

# ragged rows are reported with row numbers
{ cat "$tmp/clean.csv"; echo "short,row"; } >"$tmp/ragged.csv"
run 1 "ragged row fails csv.wellformed" check --contract-file "$tmp/c.yaml" --today 2026-06-01 "$tmp/ragged.csv" &&
	expect "$tmp/out" "^FAIL +csv.wellformed +1 ragged row.*\(row 2001\)" "ragged line"

# an unknown column
sed '1s/claim_start/date_of_birth/' "$tmp/clean.csv" >"$tmp/col.csv"
run 1 "unknown column fails columns.allowed" check --contract-file "$tmp/c.yaml" --today 2026-06-01 "$tmp/col.csv" &&
	expect "$tmp/out" "^FAIL +columns.allowed.*date_of_birth" "columns.allowed line"

# inputs that cannot be checked
: >"$tmp/empty.csv"
run 2 "empty file" check --contract-file "$tmp/c.yaml" "$tmp/empty.csv" &&
	expect "$tmp/err" "no header row" "empty message"
head -n 1 "$tmp/clean.csv" >"$tmp/header.csv"
run 2 "header only" check --contract-file "$tmp/c.yaml" "$tmp/header.csv" &&
	expect "$tmp/err" "no data rows" "header-only message"
# a single 100 MB line (no newline at all)
head -c 104857600 /dev/zero | tr '\0' 'x' >"$tmp/line.csv"
run 2 "single 100 MB line" check --contract-file "$tmp/c.yaml" "$tmp/line.csv" &&
	expect "$tmp/err" "record longer than the" "100 MB line message"
# the same line after a header
{ head -n 1 "$tmp/clean.csv"; cat "$tmp/line.csv"; } >"$tmp/line2.csv"
run 2 "100 MB data row" check --contract-file "$tmp/c.yaml" "$tmp/line2.csv" &&
	expect "$tmp/err" "row 1: record longer than the" "100 MB row message"
rm -f "$tmp/line.csv" "$tmp/line2.csv"
# a binary file: exit 1 or 2 with a message, never a crash
head -c 8388608 /dev/urandom >"$tmp/binary.csv"
n=$((n + 1))
"$RELGATE" check --contract-file "$tmp/c.yaml" "$tmp/binary.csv" >"$tmp/out" 2>"$tmp/err"
st=$?
if [ "$st" != 1 ] && [ "$st" != 2 ]; then
	echo "FAIL binary file: exit $st"; fails=$((fails + 1))
elif grep -q -E "AddressSanitizer|runtime error" "$tmp/err"; then
	echo "FAIL binary file: sanitizer report"; fails=$((fails + 1))
elif [ "$st" = 1 ] && ! grep -q -E "^FAIL +csv.wellformed" "$tmp/out"; then
	echo "FAIL binary file: no csv.wellformed failure"; fails=$((fails + 1))
else
	echo "ok   binary file (exit $st)"
fi
run 2 "missing file" check --contract-file "$tmp/c.yaml" "$tmp/nope.csv" &&
	expect "$tmp/err" "No such file" "missing file message"
run 2 "bad usage" check "$tmp/clean.csv"
printf 'id: [broken\n' >"$tmp/bad.yaml"
run 2 "bad contract file" check --contract-file "$tmp/bad.yaml" "$tmp/clean.csv"

# -c DIR --contract ID against a real configuration directory
if sh "$top_srcdir/contracts/examples/make-keys.sh" "$tmp/etc" >/dev/null 2>&1; then
	awk -v rows=400 'BEGIN {
		print "person_id,age_band,sex,region,postcode_district,award_amount,claim_start,weeks_on_benefit";
		for (i = 0; i < rows; i++) {
			tok = "";
			for (k = 0; k < 8; k++) tok = tok sprintf("%08x", (i * 2654435761 + k * 97) % 4294967296);
			printf "%s,65+,%s,Wales,CF%d,%d,2024-%02d,%d\n", tok, (i % 2) ? "F" : "M", i % 9 + 1, i * 5, i % 12 + 1, i % 50;
		}
	}' >"$tmp/dwp.csv"
	run 0 "-c DIR --contract ID" -c "$tmp/etc" check --contract DWP-2026-0042 --dataset benefit_claims --today 2026-06-01 "$tmp/dwp.csv" &&
		expect "$tmp/out" "^verdict: pass" "config dir verdict"
	run 2 "-c DIR unknown contract" -c "$tmp/etc" check --contract NOPE-1 "$tmp/dwp.csv" &&
		expect "$tmp/err" "NOPE-1" "unknown contract message"
	run 2 "-c DIR several datasets need --dataset" -c "$tmp/etc" check --contract DWP-2026-0042 "$tmp/dwp.csv" &&
		expect "$tmp/err" "--dataset" "dataset message"
else
	echo "skip -c DIR cases: make-keys.sh failed"
fi

echo "$n cases, $fails failures"
[ "$fails" = 0 ]
