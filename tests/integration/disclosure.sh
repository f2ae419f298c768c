#!/usr/bin/env bash
# Cumulative disclosure (product.md, "Cumulative disclosure"), as the staff
# and the approvers see it: the release worker driven through its queue as
# the SFTP layer drives it, and relgate check -c on the same files.
# - disclosure.cumulative: releases that each pass k-anonymity alone fail
#   together (at the checks, and again at approval when another release was
#   published in between); the history is per contract; a failed or
#   withdrawn request adds nothing to it; the report never names a person or
#   a value.
# - disclosure.differencing: a table against the tables published earlier
#   to the same organisation (under any of its contracts), cell by cell or
#   total by total (a marginal); the report names the earlier release, never
#   a count.
# relgate check -c gives the gateway's verdict every time (exit 1 where the
# request ends failed, 0 where it awaits approval) with the same rule line.
set -euo pipefail
. "$top_srcdir/tests/integration/release_lib.sh"
# the system's interpreter: a version manager's shim costs a second a call
[ -x /usr/bin/python3 ] && python3() { /usr/bin/python3 "$@"; }
T=$(mktemp -d "${TMPDIR:-/tmp}/rg-disc.XXXXXX")
trap 'rl_cleanup_gpg; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
rl_setup 2222
S=$T/state C=$T/etc
run_worker() { "$WORKER" -c "$C" -s "$S" --once 2>>"$T/worker.log" || { cat "$T/worker.log" >&2; rl_fail "worker failed"; }; }
enqueue() { "$WORKER" -s "$S" --enqueue "$@"; }
spool() { echo "$S/spool/staff/staff-ann/$1"; }
state_of() { rl_json "$(spool "$1")/status.json" state; }
id_of() { rl_json "$(spool "$1")/status.json" request; }
release_of() { rl_json "$(spool "$1")/status.json" release; }
report() { echo "$(spool "$1")/report.txt"; }
db() { sqlite3 -cmd ".timeout 10000" "$S/state.db" "$1"; }
# rule_line FILE RULE: the report line of RULE ("pass  RULE  detail")
rule_line() { grep -E "^(pass|FAIL|skip) +$2( |\$)" "$1" || :; }

# contract_head ID ORG FPR PEOPLE TITLE PURPOSE: a contract up to its
# datasets (one approver of iam-jo/staff-ben).
contract_head() {
	cat <<EOF
id: $1
version: 1
title: $5 $1
purpose: $6
status: active
valid_from: 2026-01-01
valid_until: 2030-12-31
contractor:
  organisation: $2
  assurance: {scheme: ISO27001, ref: "T-1", expires: 2030-12-31}
people: [$4]
approvers: [iam-jo, staff-ben]
approvals_required: 1
recipients: [$3]
retention: {download_days: 14, max_downloads: 2}
datasets:
EOF
}

# Record-level contracts: three datasets over the same people, each with
# two quasi-identifiers, k = 10; identifiers masked by the gateway.
rec_contract() { # ID ORG FPR PEOPLE
	{
	contract_head "$@" "Cumulative disclosure test" \
	    "Exercise cumulative disclosure."
	cat <<EOF
  a:
    max_rows: 100000
    one_row_per: person_id
    columns:
      person_id: {masking: hmac-sha256, masking_mode: apply}
      age_band: {allowed: ["25-34","35-44"]}
      region: {}
    quasi_identifiers: [age_band, region]
    k_anonymity: 10
  b:
    max_rows: 100000
    one_row_per: person_id
    columns:
      person_id: {masking: hmac-sha256, masking_mode: apply}
      age_band: {allowed: ["25-34","35-44"]}
      sex: {allowed: [female, male]}
    quasi_identifiers: [age_band, sex]
    k_anonymity: 10
  c:
    max_rows: 100000
    one_row_per: person_id
    columns:
      person_id: {masking: hmac-sha256, masking_mode: apply}
      region: {}
      tenure: {allowed: [owner, renter]}
    quasi_identifiers: [region, tenure]
    k_anonymity: 10
EOF
	} > "$C/contracts/$1.yaml"
}
# Table contracts: a table by region and year, and its marginal by region.
tab_contract() { # ID ORG FPR PEOPLE
	{
	contract_head "$@" "Differencing test" \
	    "Exercise differencing between tables."
	cat <<EOF
  by_year:
    kind: table
    columns:
      region: {}
      year: {type: integer}
      claimants: {type: integer, count: true}
    min_cell_count: 10
    rounding: 1
  by_region:
    kind: table
    columns:
      region: {}
      claimants: {type: integer, count: true}
    min_cell_count: 10
    rounding: 1
EOF
	} > "$C/contracts/$1.yaml"
}
X=TEST-2026-0010 Y=TEST-2026-0011 Z=TEST-2026-0012 W=TEST-2026-0013
TA=TEST-2026-0020 TB=TEST-2026-0021 TC=TEST-2026-0022
for id in $X $Y $Z $W; do rec_contract $id acme-research "$fa" acme-ana; done
tab_contract $TA acme-research "$fa" acme-ana
tab_contract $TB acme-research "$fa" acme-ana
tab_contract $TC beta-analytics "$fb" beta-bo
"$RELGATE" -c "$C" lint >/dev/null 2>&1 || { "$RELGATE" -c "$C" lint >&2; rl_fail "the test contracts do not lint"; }

# 80 people; every one of the four quasi-identifiers splits them in two,
# independently: any two of them make 4 classes of 20, three make 8 of 10,
# all four 16 of 5.
python3 - "$T" <<'PY'
import sys
T = sys.argv[1]
ages = ["25-34", "35-44"]; sexes = ["female", "male"]
regions = ["Tynedale", "Wansbeck"]; tenures = ["owner", "renter"]
P = [(f"P{i:04d}", ages[i % 2], sexes[(i // 2) % 2], regions[(i // 4) % 2], tenures[(i // 8) % 2]) for i in range(80)]
open(T + "/a.csv", "w").write("person_id,age_band,region\n" + "".join(f"{p},{a},{r}\n" for p, a, s, r, t in P))
open(T + "/b.csv", "w").write("person_id,age_band,sex\n" + "".join(f"{p},{a},{s}\n" for p, a, s, r, t in P))
open(T + "/c.csv", "w").write("person_id,region,tenure\n" + "".join(f"{p},{r},{t}\n" for p, a, s, r, t in P))
open(T + "/people", "w").write("".join(p + "\n" for p, *_ in P))
open(T + "/qi_values", "w").write("\n".join(ages + sexes + regions + tenures) + "\n")
PY

# submit FOLDER CONTRACT DATASET FILE: relgate check -c on the file first
# (exit status in $T/FOLDER.rc, output in $T/FOLDER.check), then the
# request through the worker's checks.
submit() {
	local d rc=0
	d=$(spool "$1")
	"$RELGATE" -c "$C" check --contract "$2" --dataset "$3" "$4" > "$T/$1.check" 2>"$T/$1.check.err" || rc=$?
	echo "$rc" > "$T/$1.rc"
	mkdir -p "$d"
	cp "$4" "$d/"
	printf 'contract: %s\ndataset: %s\nfiles: [%s]\nnote: disclosure test\n' "$2" "$3" "$(basename "$4")" > "$d/request.yaml"
	enqueue submit staff-ann "$1"
	run_worker
}
approve() { # FOLDER
	local r
	r=$(id_of "$1")
	mkdir -p "$S/requests/$r/decisions"
	printf 'decision: approve\nreason: ok\n' > "$S/requests/$r/decisions/staff-ben.yaml"
	enqueue decision "$r" staff-ben
	run_worker
}
withdraw() { # FOLDER
	rm "$(spool "$1")/request.yaml"
	enqueue withdraw staff-ann "$1"
	run_worker
}
# expect FOLDER STATE: the request's state, shown with its report if not
expect() {
	local s
	s=$(state_of "$1")
	[ "$s" = "$2" ] || { cat "$(report "$1")" >&2; tail -5 "$T/worker.log" >&2; rl_fail "$1 is $s, not $2"; }
}
# agree FOLDER RULE: relgate check -c said what the gateway says: exit 1
# where the request failed, 0 where it awaits approval or was published,
# and the same line for RULE.
agree() {
	local rc s want
	rc=$(cat "$T/$1.rc") s=$(state_of "$1")
	case $s in
	failed) want=1 ;;
	awaiting_approval|published) want=0 ;;
	*) rl_fail "$1: unexpected state $s" ;;
	esac
	[ "$rc" = "$want" ] || { cat "$T/$1.check" "$T/$1.check.err" >&2; rl_fail "relgate check -c exits $rc on $1's file, the gateway says $s"; }
	[ -n "$(rule_line "$T/$1.check" "$2")" ] || rl_fail "relgate check -c on $1's file shows no $2 line"
	[ "$(rule_line "$T/$1.check" "$2")" = "$(rule_line "$(report "$1")" "$2")" ] || {
		rule_line "$T/$1.check" "$2" >&2; rule_line "$(report "$1")" "$2" >&2
		rl_fail "relgate check -c and the gateway's report differ on $2 for $1"; }
}
# publish FOLDER CONTRACT DATASET FILE: submitted, checks pass, approved,
# published
publish() {
	submit "$@"
	expect "$1" awaiting_approval
	approve "$1"
	expect "$1" published
}
hist_sum() { sha256sum "$S/history/$1/"* | cut -c1-64; }

# ---- disclosure.cumulative --------------------------------------------

# 1. a and b each pass alone and together; c passes k = 10 alone, but the
# three joined person by person leave classes of 5
publish xa $X a "$T/a.csv"
publish xb $X b "$T/b.csv"
for f in xa xb; do
	agree $f disclosure.cumulative
	rule_line "$(report $f)" disclosure.k_anonymity | grep -q '^pass' || rl_fail "$f: disclosure.k_anonymity does not pass"
	rule_line "$(report $f)" disclosure.cumulative | grep -q '^pass' || rl_fail "$f: disclosure.cumulative does not pass"
done
RX1=$(release_of xa) RX2=$(release_of xb)
rl_ok "a and b of $X each pass k = 10 and cumulatively: published as $RX1, $RX2"

rc=0
"$RELGATE" -c "$C" check --contract $X --dataset c "$T/c.csv" > "$T/c.check" || rc=$?
[ "$rc" = 1 ] || { cat "$T/c.check"; rl_fail "relgate check -c on c exits $rc, not 1"; }
rule_line "$T/c.check" disclosure.k_anonymity | grep -q '^pass' || rl_fail "relgate check -c: c fails k-anonymity alone"
rule_line "$T/c.check" disclosure.cumulative | grep -q '^FAIL' || rl_fail "relgate check -c: no disclosure.cumulative FAIL for c"
rl_ok "relgate check -c on c before submitting: exit 1, disclosure.cumulative FAIL"

submit xc $X c "$T/c.csv"
expect xc failed
RXC=$(id_of xc)
line=$(rule_line "$(report xc)" disclosure.cumulative)
case $line in FAIL*) ;; *) rl_fail "report.txt of c lacks disclosure.cumulative FAIL (has: $line)" ;; esac
rule_line "$(report xc)" disclosure.k_anonymity | grep -q '^pass' || rl_fail "c fails k-anonymity alone"
echo "$line" | grep -q 'classes hold fewer than 10 people' || rl_fail "the FAIL line does not say how many classes and people: $line"
[ "$line" = "$(rule_line "$T/c.check" disclosure.cumulative)" ] || rl_fail "relgate check -c and report.txt differ: $line"
agree xc disclosure.cumulative
rl_json "$(spool xc)/status.json" checks | grep -q '"disclosure.cumulative", "status": "fail"' ||
	rl_fail "status.json of c does not show disclosure.cumulative failed"
rl_audit_has check.failed disclosure.cumulative || rl_fail "check.failed does not name disclosure.cumulative"
grep '"type":"check.failed"' "$T/audit.out" | grep "$RXC" | grep -q disclosure.cumulative || rl_fail "check.failed of $RXC lacks the rule"
# never which person, never which values: not the raw ids, not the tokens
"$RELGATE" -c "$C" mask --contract $X --dataset c --column person_id "$T/c.csv" > "$T/c.masked" 2>>"$T/mask.err" || { cat "$T/mask.err" >&2; rl_fail "relgate mask"; }
cut -d, -f1 "$T/c.masked" | sed 1d > "$T/tokens"
[ "$(grep -c -E '^[0-9a-f]{64}$' "$T/tokens")" = 80 ] || rl_fail "relgate mask made no tokens"
# (the patterns do find what they look for)
grep -q -w -F -f "$T/people" "$T/c.csv" && grep -q -F -f "$T/tokens" "$T/c.masked" &&
	grep -q -w -F -f "$T/qi_values" "$T/c.csv" || rl_fail "the test's patterns find nothing"
for f in "$(report xc)" "$T/c.check" "$(spool xc)/status.json" "$T/audit.out"; do
	grep -q -w -F -f "$T/people" "$f" && rl_fail "$f names a person"
	grep -q -F -f "$T/tokens" "$f" && rl_fail "$f holds a person's token"
	grep -q -w -F -f "$T/qi_values" "$f" && rl_fail "$f holds a quasi-identifier value"
done
[ -z "$(ls "$S/releases/$X" | grep -v "^$RX1\.\|^$RX2\.")" ] || rl_fail "something of c was published"
rl_ok "c ends failed: disclosure.cumulative FAIL in report.txt and status.json, check.failed names it; no person, token or value shown"

rc=0
"$RELGATE" check --contract-file "$C/contracts/$X.yaml" --dataset c "$T/c.csv" > "$T/c.cf" 2>&1 || rc=$?
[ "$rc" = 0 ] || { cat "$T/c.cf"; rl_fail "relgate check --contract-file on c exits $rc, not 0"; }
rule_line "$T/c.cf" disclosure.cumulative | grep -q '^skip' || { cat "$T/c.cf"; rl_fail "relgate check --contract-file: disclosure.cumulative not skip"; }
rl_ok "relgate check --contract-file on c: exit 0, disclosure.cumulative skip (no history)"

# 2. the history is per contract: c under another contract (its own key,
# its own tokens) after a and b under $X passes
submit yc $Y c "$T/c.csv"
expect yc awaiting_approval
agree yc disclosure.cumulative
rule_line "$(report yc)" disclosure.cumulative | grep -q '^pass .*first release of the contract' ||
	rl_fail "c under $Y is not judged as $Y's first release: $(rule_line "$(report yc)" disclosure.cumulative)"
rl_ok "c under a second contract $Y (own masking key) passes: history is per contract"

# 3. judged again at approval: b and c of a fresh contract each pass their
# checks; b is published; c, approved after it, fails
submit zb $Z b "$T/b.csv"
submit zc $Z c "$T/c.csv"
expect zb awaiting_approval
expect zc awaiting_approval
agree zb disclosure.cumulative
agree zc disclosure.cumulative
approve zb
expect zb published
RZ1=$(release_of zb)
rc=0
"$RELGATE" -c "$C" check --contract $Z --dataset c "$T/c.csv" > "$T/zc.late" || rc=$?
[ "$rc" = 1 ] || rl_fail "relgate check -c on c of $Z after b's publication exits $rc, not 1"
approve zc
expect zc failed
RZC=$(id_of zc)
# (the rule lines stay those of the checks; the note says why it failed)
grep -q '^Note: *failed rules: disclosure.cumulative (of [0-9]* combined classes hold fewer than [0-9]* people ([0-9]* people in them) when joined on person_id with the 1 earlier release' "$(report zc)" ||
	rl_fail "report.txt of $Z's c does not say disclosure.cumulative failed at approval"
note=$(rl_json "$(spool zc)/status.json" note)
case $note in "failed rules: disclosure.cumulative ("*")") ;; *) rl_fail "status.json of $Z's c: note lacks disclosure.cumulative ($note)" ;; esac
# relgate check -c, run now, says what the approval said
why=${note#*(} why=${why%)}
rule_line "$T/zc.late" disclosure.cumulative | grep -q -F "$why" || {
	rule_line "$T/zc.late" disclosure.cumulative >&2; rl_fail "relgate check -c on c of $Z does not give the approval's reason: $why"; }
rl_audit_has check.failed disclosure.cumulative || rl_fail "no check.failed for the approval"
grep '"type":"check.failed"' "$T/audit.out" | grep "$RZC" | grep -q disclosure.cumulative ||
	rl_fail "check.failed of $RZC (at approval) does not name disclosure.cumulative"
[ "$(ls "$S/releases/$Z" | grep -c '\.gpg$')" = 1 ] && [ -f "$S/releases/$Z/$RZ1.tar.zst.gpg" ] ||
	rl_fail "releases/$Z holds more than b's package: $(ls "$S/releases/$Z")"
[ -z "$(release_of zc)" ] || [ ! -e "$S/releases/$Z/$(release_of zc).tar.zst.gpg" ] || rl_fail "c of $Z was packaged"
rl_ok "approval judges again: c of $Z, approved after b's publication, ends failed (check.failed disclosure.cumulative), no package"

# 4. a failed or withdrawn request adds nothing to the history
[ "$(db "SELECT release FROM history_heads WHERE contract='$X'")" = "$RX2" ] ||
	rl_fail "history of $X no longer at $RX2 after c failed"
[ "$(ls "$S/history/$X")" = "$RX2.hist" ] || rl_fail "history/$X holds $(ls "$S/history/$X")"
[ "$(db "SELECT release FROM history_heads WHERE contract='$Z'")" = "$RZ1" ] ||
	rl_fail "history of $Z moved with the failed approval"
[ "$(ls "$S/history/$Z")" = "$RZ1.hist" ] || rl_fail "history/$Z holds $(ls "$S/history/$Z")"
[ -z "$(ls "$S/requests/$RZC" | grep -E '^(history\.|trace\.)')" ] || rl_fail "the failed request keeps history working files"
before=$(hist_sum $X)
submit xa2 $X a "$T/a.csv"
expect xa2 awaiting_approval
agree xa2 disclosure.cumulative
withdraw xa2
expect xa2 withdrawn
[ "$(db "SELECT release FROM history_heads WHERE contract='$X'")" = "$RX2" ] || rl_fail "history of $X moved with a withdrawal"
[ "$(ls "$S/history/$X")" = "$RX2.hist" ] && [ "$(hist_sum $X)" = "$before" ] || rl_fail "history/$X changed with a withdrawal"
rule_line "$(report xa2)" disclosure.cumulative | grep -q 'with the 2 earlier releases' || rl_fail "a again is not joined with 2 releases"
# had the withdrawn b counted, c would fail under $W
submit wb $W b "$T/b.csv"
expect wb awaiting_approval
withdraw wb
expect wb withdrawn
submit wc $W c "$T/c.csv"
expect wc awaiting_approval
agree wc disclosure.cumulative
rule_line "$(report wc)" disclosure.cumulative | grep -q '^pass .*first release of the contract' || rl_fail "the withdrawn b counts in $W's history"
[ -z "$(db "SELECT release FROM history_heads WHERE contract='$W'")" ] || rl_fail "$W has a history after a withdrawal"
rl_ok "failed and withdrawn requests leave the history as it was ($X at $RX2, $Z at $RZ1, $W empty)"

# ---- disclosure.differencing -----------------------------------------

table() { # FILE NORTH24 NORTH25 SOUTH24 SOUTH25
	printf 'region,year,claimants\nNorth,2024,%s\nNorth,2025,%s\nSouth,2024,%s\nSouth,2025,%s\n' "$2" "$3" "$4" "$5" > "$1"
}
table "$T/t1.csv" 1412 1687 3093 2518
table "$T/t3.csv" 1415 1687 3093 2518
table "$T/t0.csv" 1412 1687 3093 2518
table "$T/t20.csv" 1432 1687 3093 2518
printf 'region,claimants\nNorth,%s\nSouth,%s\n' $((1412 + 1687 + 3)) $((3093 + 2518)) > "$T/m3.csv"
echo 1412 1687 3093 2518 1415 1432 3102 5611 | tr ' ' '\n' > "$T/counts"
grep -q -w -F -f "$T/counts" "$T/t3.csv" "$T/m3.csv" || rl_fail "the test's patterns find nothing"
# 5. T1 published to acme-research
publish t1 $TA by_year "$T/t1.csv"
agree t1 disclosure.differencing
RT1=$(release_of t1)
rule_line "$(report t1)" disclosure.differencing | grep -q '^pass' || rl_fail "T1: disclosure.differencing does not pass"
rl_ok "table T1 published as $RT1"

# (each of these is only checked: none is approved, the history stays T1)
diff_fails() { # FOLDER: failed, naming T1, no count shown
	local line
	expect "$1" failed
	agree "$1" disclosure.differencing
	line=$(rule_line "$(report "$1")" disclosure.differencing)
	case $line in FAIL*"$RT1"*) ;; *) rl_fail "$1: no disclosure.differencing FAIL naming $RT1 (has: $line)" ;; esac
	grep -q -w -F -f "$T/counts" "$(report "$1")" "$T/$1.check" && rl_fail "$1: a count is shown"
	rl_audit_has check.failed "$(id_of "$1")" || rl_fail "$1: no check.failed"
	grep "$(id_of "$1")" "$T/audit.out" | grep -q disclosure.differencing || rl_fail "$1: check.failed does not name disclosure.differencing"
}
diff_passes() { # FOLDER
	expect "$1" awaiting_approval
	agree "$1" disclosure.differencing
	rule_line "$(report "$1")" disclosure.differencing | grep -q '^pass' || rl_fail "$1: disclosure.differencing does not pass"
}
submit d3 $TA by_year "$T/t3.csv"
diff_fails d3
rl_ok "one cell moved by 3: failed, disclosure.differencing names $RT1, no count shown"
submit d0 $TA by_year "$T/t0.csv"
diff_passes d0
rl_ok "the same table again (moved by 0): passes"
submit d20 $TA by_year "$T/t20.csv"
diff_passes d20
rl_ok "one cell moved by 20: passes"
submit m3 $TA by_region "$T/m3.csv"
diff_fails m3
rl_ok "a marginal (by region) with a total off by 3: failed, names $RT1"
submit o3 $TB by_year "$T/t3.csv"
diff_fails o3
rl_ok "moved by 3 under another contract of the same organisation ($TB): failed, names $RT1"
submit b3 $TC by_year "$T/t3.csv"
diff_passes b3
rl_ok "moved by 3 under another organisation's contract ($TC): passes"
[ "$(db "SELECT COUNT(*) FROM released_tables")" = 1 ] || rl_fail "checks alone added tables to the history"

# ---- 6. the history outlives the process ------------------------------

# a worker run with nothing to do (a process started and ended), then a new
# one judges c of $X and T1's neighbour against the history on disk
run_worker
submit xc2 $X c "$T/c.csv"
expect xc2 failed
agree xc2 disclosure.cumulative
rule_line "$(report xc2)" disclosure.cumulative | grep -q 'with the 2 earlier releases' || rl_fail "after a restart, c of $X is not joined with $RX1 and $RX2"
submit d3b $TA by_year "$T/t3.csv"
diff_fails d3b
rl_ok "after a fresh worker run the history still fails c of $X and the table moved by 3"

# the whole audit trail: no person, token, quasi-identifier value or count
for id in $X $Y $Z $W; do
	"$RELGATE" -c "$C" mask --contract $id --dataset c --column person_id "$T/c.csv" 2>>"$T/mask.err" | cut -d, -f1 | sed 1d
done > "$T/all_tokens"
"$RELGATE" -c "$C" audit list --json > "$T/audit.all"
grep -q check.failed "$T/audit.all" || rl_fail "audit list --json shows nothing"
grep -q -w -F -f "$T/people" "$T/audit.all" && rl_fail "the audit trail names a person"
grep -q -F -f "$T/all_tokens" "$T/audit.all" && rl_fail "the audit trail holds a person's token"
grep -q -w -F -f "$T/qi_values" "$T/audit.all" && rl_fail "the audit trail holds a quasi-identifier value"
grep -q -w -F -f "$T/counts" "$T/audit.all" && rl_fail "the audit trail holds a table count"
rl_ok "the audit trail names no person, token, quasi-identifier value or count"
"$RELGATE" -c "$C" audit verify >/dev/null || rl_fail "audit verify"
rl_ok "audit trail verifies"
