#!/bin/sh
# relgate mask: tokens are HMAC-SHA256 under the contract's own key (checked
# against openssl), the key is made once with mode 0600, other cells pass
# through unchanged, two contracts give unrelated tokens, and bad input is
# exit 2 with a message.
set -u

: "${top_srcdir:?}" "${top_builddir:?}"
RELGATE="$top_builddir/relgate"
T=$(mktemp -d "${TMPDIR:-/tmp}/rg-mask.XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

D="$T/etc"
sh "$top_srcdir/contracts/examples/make-keys.sh" "$D" >/dev/null ||
	{ echo "make-keys.sh failed"; exit 1; }
sed -i "s|^state_dir: .*|state_dir: $T/state|" "$D/relgate.yaml"

cat > "$T/in.csv" <<'EOF'
person_id,age_band,sex,region,postcode_district,award_amount,claim_start,weeks_on_benefit
P0001,65+,F,North East,NE1,120,2026-03,10
P0002,55-64,M,"London, Inner",E1,85,2026-04,3
,65+,F,Wales,CF10,0,2026-05,1
"P 0004",25-34,F,"Say ""hi""",BS1,5,2026-06,2
P0005,65+,F," lead",NE1,5,2026-06,2
P0006,65+,F,"two
lines",NE1,5,2026-06,2
EOF

"$RELGATE" -c "$D" mask --contract DWP-2026-0042 --dataset benefit_claims \
	"$T/in.csv" > "$T/out.csv" 2> "$T/err"
rc=$?
[ "$rc" -eq 0 ] || fail "mask: exit $rc: $(cat "$T/err")"
grep -q "6 rows masked with the key of contract DWP-2026-0042" "$T/err" ||
	fail "mask: summary: $(cat "$T/err")"

key="$T/state/keys/masking/DWP-2026-0042.key"
[ -f "$key" ] || fail "no key file $key"
[ "$(stat -c %a "$key")" = 600 ] || fail "key mode $(stat -c %a "$key")"
[ "$(stat -c %a "$T/state/keys/masking")" = 700 ] || fail "key folder mode"
[ "$(stat -c %s "$key")" = 32 ] || fail "key size"
hexkey=$(od -An -tx1 -v "$key" | tr -d ' \n')
tok() { printf %s "$1" | openssl dgst -sha256 -mac HMAC \
	-macopt "hexkey:$hexkey" | sed 's/^.*= //'; }

{
	echo "person_id,age_band,sex,region,postcode_district,award_amount,claim_start,weeks_on_benefit"
	echo "$(tok P0001),65+,F,North East,NE1,120,2026-03,10"
	echo "$(tok P0002),55-64,M,\"London, Inner\",E1,85,2026-04,3"
	echo ",65+,F,Wales,CF10,0,2026-05,1"
	echo "$(tok 'P 0004'),25-34,F,\"Say \"\"hi\"\"\",BS1,5,2026-06,2"
	echo "$(tok P0005),65+,F,\" lead\",NE1,5,2026-06,2"
	echo "$(tok P0006),65+,F,\"two"
	echo "lines\",NE1,5,2026-06,2"
} > "$T/want.csv"
cmp -s "$T/want.csv" "$T/out.csv" || {
	fail "masked output differs from openssl's HMAC-SHA256"
	diff "$T/want.csv" "$T/out.csv"
}

# The key is kept: a second run gives the same tokens. stdin works too.
"$RELGATE" mask -c "$D" --contract DWP-2026-0042 --dataset benefit_claims \
	- < "$T/in.csv" > "$T/out2.csv" 2>/dev/null ||
	fail "second run failed"
cmp -s "$T/out.csv" "$T/out2.csv" || fail "second run: other tokens"

# Another contract has another key: the same value, unrelated tokens.
"$RELGATE" -c "$D" mask --contract DWP-2026-0051 --column person_id \
	"$T/in.csv" > "$T/out3.csv" 2> "$T/err" ||
	fail "mask 0051: $(cat "$T/err")"
[ -f "$T/state/keys/masking/DWP-2026-0051.key" ] || fail "no 0051 key"
t1=$(sed -n 2p "$T/out.csv" | cut -d, -f1)
t3=$(sed -n 2p "$T/out3.csv" | cut -d, -f1)
[ ${#t3} -eq 64 ] || fail "0051 token '$t3'"
[ "$t1" != "$t3" ] || fail "two contracts gave the same token"
cmp -s "$T/state/keys/masking/DWP-2026-0042.key" \
	"$T/state/keys/masking/DWP-2026-0051.key" && fail "same key twice"

# Errors: exit 2 and a message that says why.
expect2() {
	name=$1 msg=$2
	shift 2
	"$RELGATE" "$@" > "$T/o" 2> "$T/e"
	rc=$?
	[ "$rc" -eq 2 ] || fail "$name: exit $rc, want 2"
	grep -qF -- "$msg" "$T/e" || fail "$name: message: $(cat "$T/e")"
}
expect2 two-datasets "has 2 datasets: name one with --dataset" \
	-c "$D" mask --contract DWP-2026-0042 "$T/in.csv"
expect2 no-contract "contract NOPE-1" \
	-c "$D" mask --contract NOPE-1 --column person_id "$T/in.csv"
expect2 bad-id "'../etc/DWP-2026-0042' is not a contract id" \
	-c "$D" mask --contract ../etc/DWP-2026-0042 --column person_id \
	"$T/in.csv"
expect2 no-column "column 'nino' is not in the file's header" \
	-c "$D" mask --contract DWP-2026-0042 --column nino "$T/in.csv"
expect2 no-file "$T/missing.csv: No such file or directory" \
	-c "$D" mask --contract DWP-2026-0042 --dataset benefit_claims \
	"$T/missing.csv"
expect2 usage "usage: relgate" -c "$D" mask "$T/in.csv"
# apply-mode columns are masked by relgate itself: nothing to do here
printf 'respondent_id,region\nR1,Wales\n' > "$T/survey.csv"
expect2 apply-mode "no column of the file is to be masked" \
	-c "$D" mask --contract DWP-2026-0051 --dataset survey_sample \
	"$T/survey.csv"
grep -q "masking_mode: apply" "$T/e" || fail "apply-mode: no note"
printf 'person_id,region\nP1,"Wales\n' > "$T/bad.csv"
expect2 malformed "malformed CSV" \
	-c "$D" mask --contract DWP-2026-0042 --dataset benefit_claims \
	"$T/bad.csv"

# Streaming: a large file is masked in constant memory.
awk 'BEGIN { print "person_id,age_band,sex,region,postcode_district,award_amount,claim_start,weeks_on_benefit";
	for (i = 0; i < 300000; i++)
		printf "P%07d,65+,F,North East,NE1,120,2026-03,10\n", i }' \
	> "$T/big.csv"
if [ -x /usr/bin/time ]; then
	/usr/bin/time -f '%M' -o "$T/time0" "$RELGATE" -c "$D" mask \
		--contract DWP-2026-0042 --dataset benefit_claims \
		"$T/in.csv" > /dev/null 2>&1 || fail "small: exit"
	/usr/bin/time -f '%M %e' -o "$T/time" "$RELGATE" -c "$D" mask \
		--contract DWP-2026-0042 --dataset benefit_claims \
		"$T/big.csv" > "$T/big.out" 2>/dev/null || fail "big: exit"
	read -r kb0 < "$T/time0"
	read -r kb secs < "$T/time"
	echo "mask: $(wc -c < "$T/big.csv") bytes, 300000 rows in ${secs}s, max RSS ${kb} KiB (${kb0} KiB for a 5-row file)"
	[ "$(wc -l < "$T/big.out")" -eq 300001 ] || fail "big: row count"
	# constant memory: the big file costs at most 16 MiB more than a
	# tiny one (the read chunk and output buffer are 256 KiB each)
	[ $((kb - kb0)) -lt 16384 ] || fail "big: max RSS ${kb} KiB vs ${kb0}"
fi

[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "mask_cli: all passed"
