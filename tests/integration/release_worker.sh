#!/usr/bin/env bash
# The release worker on its own, driven through its queue as the SFTP layer
# drives it: checks, four-eyes approval, publication, decryption with gpg
# and Sequoia sq, sha256sum -c, a failing extract, withdrawal, rejection,
# gateway masking, linkability between contracts, retention by downloads,
# and an audit trail that verifies.
set -euo pipefail
. "$top_srcdir/tests/integration/release_lib.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/rg-relw.XXXXXX")
trap 'rl_cleanup_gpg; rm -rf "$T"' EXIT
rl_setup 2222
S=$T/state C=$T/etc
run_worker() { "$WORKER" -c "$C" -s "$S" --once 2>>"$T/worker.log" || { cat "$T/worker.log" >&2; rl_fail "worker failed"; }; }
enqueue() { "$WORKER" -s "$S" --enqueue "$@"; }
state_of() { rl_json "$S/spool/staff/$1/$2/status.json" state; }
id_of() { rl_json "$S/spool/staff/$1/$2/status.json" request; }

# 1. a clean extract: checks pass, awaiting approval, nothing published yet
rl_gen_csv 3000 1 > "$T/clean.csv"
rl_spool staff-ann q1 TEST-2026-0001 "$T/clean.csv"
enqueue submit staff-ann q1
run_worker
[ "$(state_of staff-ann q1)" = awaiting_approval ] || { cat "$S/spool/staff/staff-ann/q1/report.txt"; rl_fail "q1 not awaiting_approval"; }
R1=$(id_of staff-ann q1)
[[ $R1 =~ ^R-[0-9]{8}-[0-9]{4}$ ]] || rl_fail "bad request id $R1"
grep -q "k_anonymity" "$S/spool/staff/staff-ann/q1/report.txt" || rl_fail "report.txt lacks the rules"
[ -z "$(ls "$S/releases/TEST-2026-0001" 2>/dev/null)" ] || rl_fail "published before approval"
rl_audit_has check.passed "\"sha256\":\"$(sha256sum < "$T/clean.csv" | cut -c1-64)\"" ||
	rl_fail "check.passed lacks the extract's sha256"
rl_ok "clean extract awaits approval as $R1; check.passed has its sha256"

# 1b. the extract is there for the approvers: requests/ID/files/NAME, the
# same file as the staff spool's (a hard link), made again idempotently
[ "$(stat -c %d:%i "$S/requests/$R1/files/clean.csv")" = "$(stat -c %d:%i "$S/spool/staff/staff-ann/q1/clean.csv")" ] ||
	rl_fail "requests/$R1/files/clean.csv is not the submitted extract"
[ "$(ls -A "$S/requests/$R1/files")" = clean.csv ] || rl_fail "requests/$R1/files holds more than the extract"
rl_ok "the extract is linked into requests/$R1/files for the approvers"
# a request awaiting approval whose link is missing (made before relgate
# linked extracts, or cut short by a crash) gets it when the worker starts
rm -r "$S/requests/$R1/files"
run_worker
[ "$(stat -c %d:%i "$S/requests/$R1/files/clean.csv" 2>/dev/null)" = "$(stat -c %d:%i "$S/spool/staff/staff-ann/q1/clean.csv")" ] ||
	rl_fail "the worker's start did not link the waiting request's extract again"
rl_ok "a waiting request's missing extract link is made again at the worker's start"

# 2. the submitter approving their own request is refused and audited
mkdir -p "$S/requests/$R1/decisions"
printf 'decision: approve\nreason: mine\n' > "$S/requests/$R1/decisions/staff-ann.yaml"
enqueue decision "$R1" staff-ann
run_worker
[ "$(state_of staff-ann q1)" = awaiting_approval ] || rl_fail "self-approval changed the state"
rl_audit_has approval.self_refused "$R1" || rl_fail "approval.self_refused not audited"
rl_ok "self-approval refused and audited"

# 3. a second user approves: published, decrypts and verifies with gpg
printf 'decision: approve\nreason: Checked against the DSA.\n' > "$S/requests/$R1/decisions/staff-ben.yaml"
enqueue decision "$R1" staff-ben
run_worker
[ "$(state_of staff-ann q1)" = published ] || { cat "$T/worker.log"; rl_fail "q1 not published"; }
REL1=$(rl_json "$S/spool/staff/staff-ann/q1/status.json" release)
[ "$REL1" = TEST-2026-0001-001 ] || rl_fail "release id $REL1"
PKG=$S/releases/TEST-2026-0001/$REL1.tar.zst.gpg
[ -f "$PKG" ] && [ -f "$PKG.sha256" ] || rl_fail "package or sidecar missing"
(cd "$S/releases/TEST-2026-0001" && sha256sum --quiet -c "$REL1.tar.zst.gpg.sha256") || rl_fail "sidecar does not verify"
rl_verify_package "$T/gpg/acme-research" "$PKG" "$T/x1" "$T/clean.csv"
python3 - "$T/x1/$REL1/manifest.json" "$R1" <<'PY' || rl_fail "manifest.json content"
import json, sys
m = json.load(open(sys.argv[1]))
assert m["release"] == "TEST-2026-0001-001" and m["request"] == sys.argv[2]
assert m["contract"] == "TEST-2026-0001" and m["contract_version"] == 2
assert m["submitter"] == "staff-ann" and m["approvers"] == ["staff-ben"]
f = m["files"][0]
assert f["name"] == "data/clean.csv" and f["rows"] == 3000 and len(f["sha256"]) == 64
assert f["columns"][0] == "person_id" and len(f["columns"]) == 9, f["columns"]
assert m["expires"] and m["max_downloads"] == 2 and m["approved"] and m["submitted"]
assert "disclosure.k_anonymity" in m["rules_passed"]
PY
# no OpenPGP compression layer inside the encryption (payload is zstd)
GNUPGHOME=$T/gpg/acme-research gpg --batch --list-packets "$PKG" 2>/dev/null | grep -q "compressed packet" && rl_fail "package has an OpenPGP compressed packet"
rl_audit_has release.published "$(cut -d' ' -f1 "$PKG.sha256")" || rl_fail "release.published lacks the package sha256"
grep -q "recipients: $(awk '/^recipients/{gsub(/[][]/,"",$2); print $2}' "$C/contracts/TEST-2026-0001.yaml")" "$T/audit.out" || rl_fail "release.published lacks the recipients"
rl_ok "approved by a second user, published as $REL1, gpg decrypts and verifies, sha256sum -c passes, data equal"

# 3b. Sequoia sq decrypts and verifies the same package
if command -v sq >/dev/null; then
	GNUPGHOME=$T/gpg/acme-research gpg --batch --export-secret-keys > "$T/acme.tsk"
	sq decrypt --recipient-key "$T/acme.tsk" --signer-cert "$S/releases/gateway.asc" \
	    -o "$T/sq.tar.zst" "$PKG" 2>"$T/sq.err" || { cat "$T/sq.err"; rl_fail "sq decrypt/verify failed"; }
	mkdir -p "$T/x1sq" && (cd "$T/x1sq" && tar --zstd -xf ../sq.tar.zst && cd "$REL1" && sha256sum --quiet -c SHA256SUMS) ||
		rl_fail "sq output does not verify"
	cmp -s "$T/x1sq/$REL1/data/clean.csv" "$T/clean.csv" || rl_fail "sq: data differs"
	rl_ok "Sequoia sq decrypts and verifies the signature"
fi

# 4. a failing extract ends failed with the rule named, nothing published
rl_gen_csv 3000 2 nino > "$T/bad.csv"
rl_spool staff-ann q2 TEST-2026-0001 "$T/bad.csv"
enqueue submit staff-ann q2
run_worker
[ "$(state_of staff-ann q2)" = failed ] || rl_fail "q2 not failed"
grep -q "identifiers.raw" "$S/spool/staff/staff-ann/q2/report.txt" || rl_fail "rule not named in report.txt"
rl_json "$S/spool/staff/staff-ann/q2/status.json" checks | grep -q '"identifiers.raw", "status": "fail"' ||
	rl_json "$S/spool/staff/staff-ann/q2/status.json" checks | grep -q 'identifiers.raw' || rl_fail "rule not in status.json"
grep -q "JK 12 34 56 C" "$S/spool/staff/staff-ann/q2/report.txt" && rl_fail "report prints the identifier"
[ "$(ls "$S/releases/TEST-2026-0001" | grep -c 'gpg$')" = 1 ] || rl_fail "something more was published"
rl_audit_has check.failed identifiers.raw || rl_fail "check.failed lacks the rule"
rl_audit_has check.failed "\"sha256\":\"$(sha256sum < "$T/bad.csv" | cut -c1-64)\"" ||
	rl_fail "check.failed lacks the extract's sha256"
[ -e "$S/requests/$(id_of staff-ann q2)/files" ] && rl_fail "a failed request's extract is linked for the approvers"
rl_ok "failing extract: failed, identifiers.raw named, nothing published"

# 5. withdrawal before approval
rl_gen_csv 500 3 > "$T/w.csv"
rl_spool staff-ann q3 TEST-2026-0001 "$T/w.csv"
enqueue submit staff-ann q3
run_worker
rm "$S/spool/staff/staff-ann/q3/request.yaml"
enqueue withdraw staff-ann q3
run_worker
[ "$(state_of staff-ann q3)" = withdrawn ] || rl_fail "q3 not withdrawn"
rl_ok "withdrawal before approval"

# 6. rejection with a reason
rl_gen_csv 500 4 > "$T/r.csv"
rl_spool staff-ann q4 TEST-2026-0001 "$T/r.csv"
enqueue submit staff-ann q4
run_worker
R4=$(id_of staff-ann q4)
mkdir -p "$S/requests/$R4/decisions"
printf 'decision: reject\nreason: Wrong quarter.\n' > "$S/requests/$R4/decisions/iam-jo.yaml"
enqueue decision "$R4" iam-jo
run_worker
[ "$(state_of staff-ann q4)" = rejected ] || rl_fail "q4 not rejected"
grep -q "Wrong quarter" "$S/spool/staff/staff-ann/q4/report.txt" || rl_fail "reason not shown"
rl_ok "rejection with reason"

# 6b. a decision the worker finds it cannot take (the request was decided
# after the session let it through): approval.invalid, the reason in that
# approver's decisions/USER.error; the same entry repeated after a crash is
# not a refusal
printf 'decision: approve\nreason: Looks fine.\n' > "$S/requests/$R4/decisions/staff-ben.yaml"
enqueue decision "$R4" staff-ben
enqueue decision "$R4" iam-jo
run_worker
[ "$(state_of staff-ann q4)" = rejected ] || rl_fail "a late decision changed q4"
grep -q "already rejected" "$S/requests/$R4/decisions/staff-ben.error" || rl_fail "staff-ben.error lacks the reason"
[ -e "$S/requests/$R4/decisions/iam-jo.error" ] && rl_fail "the repeated rejection was refused"
rl_audit_has approval.invalid "already rejected" || rl_fail "approval.invalid not audited"
grep -q '"user":"staff-ben"' "$T/audit.out" || rl_fail "approval.invalid names another user"
grep -q '"user":"iam-jo"' "$T/audit.out" && rl_fail "the repeated rejection was audited approval.invalid"
rl_ok "a decision on a rejected request: approval.invalid and decisions/USER.error"

# 7. masking by the gateway, two distinct approvers, beta never sees acme's
rl_gen_raw 400 5 > "$T/raw.csv"
rl_spool iam-jo q5 TEST-2026-0002 "$T/raw.csv"
enqueue submit iam-jo q5
run_worker
[ "$(state_of iam-jo q5)" = awaiting_approval ] || { cat "$S/spool/staff/iam-jo/q5/report.txt"; rl_fail "q5 not awaiting"; }
R5=$(id_of iam-jo q5)
mkdir -p "$S/requests/$R5/decisions"
printf 'decision: approve\nreason: ok\n' > "$S/requests/$R5/decisions/staff-ben.yaml"
enqueue decision "$R5" staff-ben
run_worker
[ "$(state_of iam-jo q5)" = awaiting_approval ] || rl_fail "one approval of two published"
printf 'decision: approve\nreason: ok\n' > "$S/requests/$R5/decisions/iam-jo.yaml"
enqueue decision "$R5" iam-jo
run_worker
[ "$(state_of iam-jo q5)" = awaiting_approval ] || rl_fail "submitter's approval counted"
printf 'decision: approve\nreason: second look\n' > "$S/requests/$R5/decisions/staff-ben.yaml"
enqueue decision "$R5" staff-ben
run_worker
[ "$(state_of iam-jo q5)" = awaiting_approval ] || rl_fail "same approver counted twice"
rl_ok "two distinct approvers needed; submitter and repeat do not count"
# a second approver: publish
sed -i 's/^approvers: .*/approvers: [iam-jo, staff-ben, staff-ann]/' "$C/contracts/TEST-2026-0002.yaml"
sed -i 's/^roles: \[staff\]$/roles: [staff, approver]/' "$C/users/staff-ann.yaml"
mkdir -p "$S/requests/$R5/decisions"
printf 'decision: approve\nreason: ok\n' > "$S/requests/$R5/decisions/staff-ann.yaml"
enqueue decision "$R5" staff-ann
run_worker
[ "$(state_of iam-jo q5)" = published ] || { tail "$T/worker.log"; rl_fail "q5 not published"; }
REL5=$(rl_json "$S/spool/staff/iam-jo/q5/status.json" release)
PKG5=$S/releases/TEST-2026-0002/$REL5.tar.zst.gpg
GNUPGHOME=$T/gpg/acme-research gpg --batch --decrypt "$PKG5" >/dev/null 2>&1 && rl_fail "acme can decrypt beta's release"
GNUPGHOME=$T/gpg/beta-analytics gpg --batch -q --import "$S/releases/gateway.asc" 2>/dev/null
GNUPGHOME=$T/gpg/beta-analytics gpg --batch -q --decrypt "$PKG5" 2>/dev/null > "$T/p5.tar.zst" || rl_fail "beta cannot decrypt or verify"
mkdir -p "$T/x5" && (cd "$T/x5" && tar --zstd -xf ../p5.tar.zst) || rl_fail "q5 tar"
(cd "$T/x5/$REL5" && sha256sum --quiet -c SHA256SUMS) || rl_fail "q5 sums"
grep -q "P005" "$T/x5/$REL5/data/raw.csv" && rl_fail "raw identifiers released"
head -2 "$T/x5/$REL5/data/raw.csv" | tail -1 | grep -Eq '^[0-9a-f]{64},' || rl_fail "person_id not masked"
[ "$(wc -l < "$T/x5/$REL5/data/raw.csv")" = 401 ] || rl_fail "masked rows"
cmp -s <(cut -d, -f2- "$T/x5/$REL5/data/raw.csv") <(cut -d, -f2- "$T/raw.csv") || rl_fail "other columns changed by masking"
rl_ok "gateway masking applied; only the contract's recipient decrypts"

# 8. masking.linkable: tokens already released under TEST-2026-0002 refused for 0001
cut -d, -f1 "$T/x5/$REL5/data/raw.csv" | sed -n 2,20p > "$T/toks"
python3 - "$T/toks" > "$T/link.csv" <<'PY'
import sys
toks = [l.strip() for l in open(sys.argv[1])]
print("person_id,age_band,sex,region,postcode_district,benefit_type,award_amount,claim_start,weeks_on_benefit")
for i, t in enumerate(toks * 2):
    print(f"{t},25-34,{'FM'[i % 2]},Wales,CF1,ESA,10,2020-01,3")
PY
rl_spool staff-ann q6 TEST-2026-0001 "$T/link.csv"
enqueue submit staff-ann q6
run_worker
[ "$(state_of staff-ann q6)" = failed ] || rl_fail "linkable extract not failed"
grep -q "masking.linkable" "$S/spool/staff/staff-ann/q6/report.txt" || rl_fail "masking.linkable not named"
rl_ok "masking.linkable refuses tokens of another contract"

# 9. retention: max_downloads complete downloads expire and purge
enqueue download TEST-2026-0001 "$REL1" acme-ana
run_worker
[ -f "$PKG" ] || rl_fail "expired after one download"
enqueue download TEST-2026-0001 "$REL1" acme-ana
run_worker
[ ! -e "$PKG" ] && [ ! -e "$PKG.sha256" ] || rl_fail "not purged after max_downloads"
[ "$(state_of staff-ann q1)" = expired ] || rl_fail "request not expired"
rl_audit_has release.purged "$REL1" || rl_fail "release.purged not audited"
rl_audit_has release.expired "$REL1" || rl_fail "release.expired not audited"
rl_ok "max_downloads: expired and purged, audited"

# 10. retention: download_days passed
[ -f "$PKG5" ] || rl_fail "q5 package missing before expiry"
sqlite3 "$S/state.db" "UPDATE releases SET expires_day = 1 WHERE id = '$REL5'"
run_worker
[ ! -e "$PKG5" ] && [ ! -e "$PKG5.sha256" ] || rl_fail "not purged after download_days"
[ "$(state_of iam-jo q5)" = expired ] || rl_fail "q5 not expired"
rl_audit_has release.expired "$REL5" || rl_fail "expiry by days not audited"
rl_ok "download_days: expired and purged, audited"

# 11. contract totals: max_releases counts releases, not reservations
sed -i 's/max_releases: 50/max_releases: 1/' "$C/contracts/TEST-2026-0001.yaml"
rl_gen_csv 500 7 > "$T/t.csv"
rl_spool staff-ann q7 TEST-2026-0001 "$T/t.csv"
enqueue submit staff-ann q7
run_worker
[ "$(state_of staff-ann q7)" = failed ] || rl_fail "max_releases not enforced"
grep -q "rows.total" "$S/spool/staff/staff-ann/q7/report.txt" || rl_fail "rows.total not named"
rl_ok "max_releases enforced from the gateway's totals (rows.total)"

# 12. a request of two files: both checked, both in the package
rl_gen_raw 300 8 > "$T/m1.csv"
rl_gen_raw 200 9 > "$T/m2.csv"
rl_spool staff-ben q8 TEST-2026-0002 "$T/m1.csv" "$T/m2.csv"
enqueue submit staff-ben q8
run_worker
[ "$(state_of staff-ben q8)" = awaiting_approval ] || { cat "$S/spool/staff/staff-ben/q8/report.txt"; rl_fail "q8 not awaiting"; }
grep -q "== m2.csv" "$S/spool/staff/staff-ben/q8/report.txt" || rl_fail "second file not in the report"
R8=$(id_of staff-ben q8)
mkdir -p "$S/requests/$R8/decisions"
for a in iam-jo staff-ann; do
	printf 'decision: approve\nreason: ok\n' > "$S/requests/$R8/decisions/$a.yaml"
	enqueue decision "$R8" "$a"
done
run_worker
[ "$(state_of staff-ben q8)" = published ] || { tail "$T/worker.log"; rl_fail "q8 not published"; }
REL8=$(rl_json "$S/spool/staff/staff-ben/q8/status.json" release)
GNUPGHOME=$T/gpg/beta-analytics gpg --batch -q --decrypt "$S/releases/TEST-2026-0002/$REL8.tar.zst.gpg" 2>/dev/null > "$T/p8.tar.zst" || rl_fail "q8 decrypt"
mkdir -p "$T/x8" && (cd "$T/x8" && tar --zstd -xf ../p8.tar.zst && cd "$REL8" && sha256sum --quiet -c SHA256SUMS) || rl_fail "q8 sums"
[ "$(wc -l < "$T/x8/$REL8/data/m1.csv")" = 301 ] && [ "$(wc -l < "$T/x8/$REL8/data/m2.csv")" = 201 ] || rl_fail "q8 files"
[ "$(grep -c data/ "$T/x8/$REL8/SHA256SUMS")" = 2 ] || rl_fail "q8 SHA256SUMS"
rl_ok "a request of two files: both checked, masked and packaged"

"$RELGATE" -c "$C" audit verify >/dev/null || rl_fail "audit verify"
rl_ok "audit trail verifies"
