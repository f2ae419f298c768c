#!/usr/bin/env bash
# Refusals that say why, and the approver's view of what they authorise,
# with OpenSSH's sftp (which shows a refused CLOSE only as "Failure")
# against a real relgated and its worker:
#  - a request.yaml with an unknown key: request.invalid audited, the reason
#    in status.json and report.txt of the request folder;
#  - the approver lists and downloads the request's extract (file.download
#    audited), cannot change it, and never sees their own request;
#  - a decision.yaml with note: instead of reason:, and one on a request
#    already published: approval.invalid audited, the reason in that
#    approver's /approvals/ID/decision.error (another approver has none).
set -euo pipefail
. "$top_srcdir/tests/integration/release_lib.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/rg-refuse.XXXXXX")
PID=
cleanup() {
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
		kill -TERM "$PID" 2>/dev/null || :
		for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$PID" 2>/dev/null || :
	fi
	rl_cleanup_gpg
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
rl_setup "$(rl_free_port)"
rl_start_relgated
PID=$RL_PID

# sftp_as USER: batch commands on stdin; output in $T/out; sftp's status.
# Key and password: BatchMode=no before -b (which would turn
# keyboard-interactive off); the askpass answers the prompt.
sftp_as() {
	sftp -q -o BatchMode=no -b - -P "$PORT" -i "$T/client/$1/id_ed25519" \
	    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	    -o LogLevel=ERROR "$1@127.0.0.1" >"$T/out" 2>&1
}
# fetch USER PATH DEST: get one file (DEST removed first); sftp's status.
fetch() {
	rm -f "$3"
	echo "get $2 $3" | sftp_as "$1"
}
# wait_state USER FOLDER STATE: poll status.json over SFTP
wait_state() {
	for _ in $(seq $((300 * SLOW))); do
		if fetch "$1" "/requests/$2/status.json" "$T/status.json" &&
		    [ "$(rl_json "$T/status.json" state)" = "$3" ]; then
			return 0
		fi
		sleep 0.2
	done
	cat "$T/status.json" 2>/dev/null; tail -20 "$T/relgated.log"
	rl_fail "$1/$2 never reached $3"
}

# 1. request.yaml with notes: (a typo of note:): refused at CLOSE, and
# the staff member can read why; nothing is submitted
rl_gen_csv 400 21 > "$T/claims.csv"
printf 'contract: TEST-2026-0001\ndataset: claims\nfiles: [claims.csv]\nnotes: typo\n' > "$T/bad.yaml"
sftp_as staff-ann <<EOF || { cat "$T/out"; rl_fail "staff upload"; }
mkdir /requests/q1
put $T/claims.csv /requests/q1/claims.csv
EOF
echo "put $T/bad.yaml /requests/q1/request.yaml" | sftp_as staff-ann &&
	rl_fail "a request.yaml with an unknown key was taken"
fetch staff-ann /requests/q1/status.json "$T/inv.json" || { cat "$T/out"; rl_fail "no status.json after the refusal"; }
[ "$(rl_json "$T/inv.json" state)" = invalid ] || { cat "$T/inv.json"; rl_fail "status.json state"; }
[ -z "$(rl_json "$T/inv.json" request)" ] || rl_fail "a refused request has an ID"
rl_json "$T/inv.json" note | grep -q "unknown key 'notes'" || { cat "$T/inv.json"; rl_fail "status.json lacks the reason"; }
fetch staff-ann /requests/q1/report.txt "$T/inv.txt" || rl_fail "no report.txt after the refusal"
grep -q "request.yaml was refused: .*unknown key 'notes'" "$T/inv.txt" || { cat "$T/inv.txt"; rl_fail "report.txt lacks the reason"; }
rl_audit_has request.invalid "unknown key 'notes'" || rl_fail "request.invalid not audited with the reason"
grep -q '"user":"staff-ann"' "$T/audit.out" || rl_fail "request.invalid lacks the user"
rl_audit_has request.submitted && rl_fail "a refused request.yaml was submitted"
rl_ok "request.yaml with an unknown key: request.invalid, the reason in status.json and report.txt"

# 2. corrected: submitted, checked; the worker's status.json replaces it
printf 'contract: TEST-2026-0001\ndataset: claims\nfiles: [claims.csv]\nnote: refusals\n' > "$T/request.yaml"
echo "put $T/request.yaml /requests/q1/request.yaml" | sftp_as staff-ann || { cat "$T/out"; rl_fail "corrected request.yaml refused"; }
wait_state staff-ann q1 awaiting_approval
RID=$(rl_json "$T/status.json" request)
rl_ok "corrected request.yaml submitted: $RID awaits approval"

# 3. the approver sees the extract, read-only; the download is audited
echo "ls -1 /approvals/$RID" | sftp_as staff-ben || { cat "$T/out"; rl_fail "approver listing"; }
grep -Eq "(^|/)claims\.csv *\$" "$T/out" || { cat "$T/out"; rl_fail "the extract is not listed"; }
grep -Eq 'meta\.json|stage|decisions|/files' "$T/out" && { cat "$T/out"; rl_fail "the request record shows through"; }
fetch staff-ben "/approvals/$RID/claims.csv" "$T/seen.csv" || { cat "$T/out"; rl_fail "approver cannot download the extract"; }
cmp -s "$T/seen.csv" "$T/claims.csv" || rl_fail "the approver's copy differs from the upload"
for _ in $(seq 20); do
	rl_audit_has file.download "\"path\":\"/approvals/$RID/claims.csv\"" && break
	sleep 0.2
done
grep -q "\"path\":\"/approvals/$RID/claims.csv\"" "$T/audit.out" || rl_fail "the extract download is not audited"
python3 - "$T/audit.out" "$RID" "$(wc -c < "$T/claims.csv")" <<'PY' || rl_fail "file.download record"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
if not recs:
    recs = json.load(open(sys.argv[1]))
r = [x for x in recs if x.get("path") == "/approvals/%s/claims.csv" % sys.argv[2]][-1]
assert r["user"] == "staff-ben" and r["role"] == "approver", r
assert r["outcome"] == "ok" and r["request"] == sys.argv[2], r
assert r["bytes"] == int(sys.argv[3]), r
PY
echo "put $T/claims.csv /approvals/$RID/claims.csv" | sftp_as staff-ben && rl_fail "approver overwrote the extract"
grep -qi "permission denied" "$T/out" || { cat "$T/out"; rl_fail "overwrite: not permission denied"; }
echo "rm /approvals/$RID/claims.csv" | sftp_as staff-ben && rl_fail "approver removed the extract"
echo "get /approvals/$RID/meta.json $T/meta.json" | sftp_as staff-ben && rl_fail "meta.json readable"
grep -Eqi "no such file|not found" "$T/out" || { cat "$T/out"; rl_fail "meta.json: not no such file"; }
fetch staff-ann /requests/q1/claims.csv "$T/own.csv" && cmp -s "$T/own.csv" "$T/claims.csv" || rl_fail "the staff copy changed"
rl_ok "the approver lists and downloads the extract (file.download audited), cannot change it"

# 4. never their own: iam-jo submits; he does not see it, staff-ben does
sftp_as iam-jo <<EOF || { cat "$T/out"; rl_fail "iam-jo upload"; }
mkdir /requests/own
put $T/claims.csv /requests/own/claims.csv
put $T/request.yaml /requests/own/request.yaml
EOF
wait_state iam-jo own awaiting_approval
OWN=$(rl_json "$T/status.json" request)
echo "ls -1 /approvals" | sftp_as iam-jo || rl_fail "iam-jo listing"
grep -q "$OWN" "$T/out" && rl_fail "iam-jo sees his own request"
grep -q "$RID" "$T/out" || rl_fail "iam-jo does not see $RID"
fetch iam-jo "/approvals/$OWN/claims.csv" "$T/x.csv" && rl_fail "iam-jo reads his own request's extract"
grep -Eqi "no such file|not found" "$T/out" || { cat "$T/out"; rl_fail "own extract: not no such file"; }
fetch staff-ben "/approvals/$OWN/claims.csv" "$T/x.csv" || rl_fail "staff-ben cannot read iam-jo's extract"
rl_ok "an approver never sees their own request or its extract"

# 5. a decision with note: instead of reason: the approver reads why
printf 'decision: reject\nnote: Wrong quarter.\n' > "$T/dec-bad.yaml"
echo "put $T/dec-bad.yaml /approvals/$RID/decision.yaml" | sftp_as staff-ben &&
	rl_fail "a decision with an unknown key was taken"
fetch staff-ben "/approvals/$RID/decision.error" "$T/err.txt" || { cat "$T/out"; rl_fail "no decision.error"; }
grep -q "unknown key 'note'" "$T/err.txt" || { cat "$T/err.txt"; rl_fail "decision.error lacks the reason"; }
rl_audit_has approval.invalid "unknown key 'note'" || rl_fail "approval.invalid not audited"
grep -q "\"request\":\"$RID\"" "$T/audit.out" || rl_fail "approval.invalid lacks the request"
fetch iam-jo "/approvals/$RID/decision.error" "$T/err2.txt" && rl_fail "another approver reads staff-ben's decision.error"
wait_state staff-ann q1 awaiting_approval
rl_ok "decision.yaml with note: refused; the reason in staff-ben's decision.error, approval.invalid"

# 6. corrected: taken, decision.error gone, published
printf 'decision: approve\nreason: Checked the extract.\n' > "$T/dec.yaml"
echo "put $T/dec.yaml /approvals/$RID/decision.yaml" | sftp_as staff-ben || { cat "$T/out"; rl_fail "decision refused"; }
echo "ls -1 /approvals/$RID" | sftp_as staff-ben || rl_fail "listing"
grep -q 'decision.error' "$T/out" && rl_fail "decision.error stays after a decision was taken"
wait_state staff-ann q1 published
rl_ok "the corrected decision is taken and clears decision.error"

# 7. a decision on a request already decided: refused, and said why
printf 'decision: reject\nreason: Second thoughts.\n' > "$T/dec2.yaml"
echo "put $T/dec2.yaml /approvals/$RID/decision.yaml" | sftp_as iam-jo &&
	rl_fail "a decision on a published request was taken"
fetch iam-jo "/approvals/$RID/decision.error" "$T/err3.txt" || rl_fail "no decision.error for iam-jo"
grep -q "already published" "$T/err3.txt" || { cat "$T/err3.txt"; rl_fail "decision.error: not 'already published'"; }
rl_audit_has approval.invalid "already published" || rl_fail "approval.invalid (already published) not audited"
rl_audit_has request.rejected && rl_fail "a rejection of a published request was recorded"
rl_ok "a decision on a published request: refused with the reason, approval.invalid"

"$RELGATE" -c "$T/etc" audit verify >/dev/null 2>&1 || rl_fail "audit chain does not verify"
rl_ok "audit trail verifies"
