#!/usr/bin/env bash
# End to end over SFTP with the real OpenSSH sftp client against a real
# relgated: staff upload -> checks -> approval by a second user ->
# contractor download -> decrypt and verify with gpg and with Sequoia sq ->
# sha256sum -c inside -> data equal to what was approved. A failing extract
# ends failed with the rule named and nothing published; another contractor
# never sees the release.
set -euo pipefail
. "$top_srcdir/tests/integration/release_lib.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/rg-e2e.XXXXXX")
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
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
rl_setup "$PORT"
S=$T/state C=$T/etc

rl_start_relgated
PID=$RL_PID

# sftp_as USER: batch commands on stdin; output in $T/out. Key and
# password (release_lib.sh): BatchMode=no before -b, which would turn
# keyboard-interactive off; the askpass answers the prompt.
sftp_as() {
	sftp -q -o BatchMode=no -b - -P "$PORT" -i "$T/client/$1/id_ed25519" \
	    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	    -o LogLevel=ERROR "$1@127.0.0.1" >"$T/out" 2>&1
}
# wait_state USER FOLDER STATE: poll status.json over SFTP
wait_state() {
	for _ in $(seq 300); do
		rm -f "$T/status.json"
		echo "get /requests/$2/status.json $T/status.json" | sftp_as "$1" || :
		if [ -f "$T/status.json" ] && [ "$(rl_json "$T/status.json" state)" = "$3" ]; then
			return 0
		fi
		sleep 0.2
	done
	cat "$T/status.json" 2>/dev/null; tail -20 "$T/relgated.log"
	rl_fail "$1/$2 never reached $3"
}

# 1. staff upload: extract first, request.yaml last (submits)
rl_gen_csv 5000 11 > "$T/claims.csv"
printf 'contract: TEST-2026-0001\ndataset: claims\nfiles: [claims.csv]\nnote: e2e\n' > "$T/request.yaml"
sftp_as staff-ann <<EOF || { cat "$T/out"; rl_fail "staff upload"; }
mkdir /requests/q1
put $T/claims.csv /requests/q1/claims.csv
put $T/request.yaml /requests/q1/request.yaml
EOF
wait_state staff-ann q1 awaiting_approval
RID=$(rl_json "$T/status.json" request)
echo "get /requests/q1/report.txt $T/report.txt" | sftp_as staff-ann || rl_fail "report.txt"
grep -q "verdict: pass" "$T/report.txt" || rl_fail "report.txt verdict"
rl_ok "uploaded over SFTP, checks passed: $RID awaits approval"

# the submitter cannot approve (it is not in their approvals view either)
printf 'decision: approve\nreason: mine\n' > "$T/decision.yaml"
echo "put $T/decision.yaml /approvals/$RID/decision.yaml" | sftp_as staff-ann && rl_fail "submitter could upload a decision"
rl_ok "submitter cannot approve their own request"

# 2. approval by a second user
echo "get /approvals/$RID/report.txt $T/areport.txt" | sftp_as staff-ben || { cat "$T/out"; rl_fail "approver cannot read the report"; }
printf 'decision: approve\nreason: Checked against the DSA.\n' > "$T/decision.yaml"
echo "put $T/decision.yaml /approvals/$RID/decision.yaml" | sftp_as staff-ben || { cat "$T/out"; rl_fail "approver decision upload"; }
wait_state staff-ann q1 published
REL=$(rl_json "$T/status.json" release)
rl_ok "approved by staff-ben, published as $REL"

# 3. contractor download, decrypt and verify with gpg, sha256sum -c, data equal
mkdir -p "$T/dl"
sftp_as acme-ana <<EOF || { cat "$T/out"; rl_fail "contractor download"; }
get /releases/gateway.asc $T/dl/gateway.asc
get /releases/TEST-2026-0001/$REL.tar.zst.gpg $T/dl/
get /releases/TEST-2026-0001/$REL.tar.zst.gpg.sha256 $T/dl/
EOF
(cd "$T/dl" && sha256sum --quiet -c "$REL.tar.zst.gpg.sha256") || rl_fail "sidecar"
rl_verify_package "$T/gpg/acme-research" "$T/dl/$REL.tar.zst.gpg" "$T/x" "$T/claims.csv"
rl_ok "contractor downloaded; gpg decrypts and verifies; sha256sum -c passes; data equal"
GNUPGHOME=$T/gpg/acme-research gpg --batch --export-secret-keys > "$T/acme.tsk"
sq decrypt --recipient-key "$T/acme.tsk" --signer-cert "$T/dl/gateway.asc" \
    -o "$T/sq.tar.zst" "$T/dl/$REL.tar.zst.gpg" 2>"$T/sq.err" || { cat "$T/sq.err"; rl_fail "sq"; }
mkdir -p "$T/xsq" && (cd "$T/xsq" && tar --zstd -xf ../sq.tar.zst && cd "$REL" && sha256sum --quiet -c SHA256SUMS) || rl_fail "sq output"
cmp -s "$T/xsq/$REL/data/claims.csv" "$T/claims.csv" || rl_fail "sq data differs"
rl_ok "Sequoia sq decrypts and verifies the signature; data equal"

# 4. another contractor never sees it
echo "ls /releases/TEST-2026-0001" | sftp_as beta-bo && rl_fail "beta-bo lists acme's releases"
echo "get /releases/TEST-2026-0001/$REL.tar.zst.gpg $T/stolen" | sftp_as beta-bo && rl_fail "beta-bo downloads acme's release"
[ ! -e "$T/stolen" ] || rl_fail "file arrived"
rl_ok "another contractor sees nothing"

# 5. a failing extract: failed, rule named, nothing published
rl_gen_csv 2000 12 nino > "$T/bad.csv"
printf 'contract: TEST-2026-0001\ndataset: claims\nfiles: [bad.csv]\n' > "$T/request.yaml"
sftp_as staff-ann <<EOF || { cat "$T/out"; rl_fail "staff upload 2"; }
mkdir /requests/q2
put $T/bad.csv /requests/q2/bad.csv
put $T/request.yaml /requests/q2/request.yaml
EOF
wait_state staff-ann q2 failed
echo "get /requests/q2/report.txt $T/report2.txt" | sftp_as staff-ann || rl_fail "report 2"
grep -q "FAIL.*identifiers.raw\|identifiers.raw" "$T/report2.txt" || rl_fail "rule not named"
[ "$(ls "$S/releases/TEST-2026-0001" | grep -c '\.gpg$')" = 1 ] || rl_fail "a failing extract was published"
rl_ok "failing extract ends failed naming identifiers.raw; nothing published"

# Without run_as, with a release published: everything under the state
# directory is owner-only (0700 folders, 0600 files, the pid file too), and
# no other account reads a byte of it.
. "$top_srcdir/tests/integration/state_modes.sh"
loose=$(state_not_owner_only "$S")
[ -z "$loose" ] || rl_fail "not owner-only under the state directory: $loose"
[ "$(stat -c %a "$S/relgated.pid")" = 600 ] || rl_fail "pid file not 0600"
ls "$S/releases/TEST-2026-0001/"*.gpg >/dev/null || rl_fail "no published release to look at"
readable=$(state_read_by_other "$S")
[ -z "$readable" ] || rl_fail "another account reads: $readable"
rl_ok "the state is owner-only (0700/0600) with a release published; nobody reads a byte (${readable:-none read})"

# 6. retention: the second complete download (max_downloads: 2) ends it
echo "get /releases/TEST-2026-0001/$REL.tar.zst.gpg $T/dl/second.gpg" | sftp_as acme-ana || rl_fail "second download"
cmp -s "$T/dl/second.gpg" "$T/dl/$REL.tar.zst.gpg" || rl_fail "second download differs"
wait_state staff-ann q1 expired
echo "ls /releases/TEST-2026-0001" | sftp_as acme-ana || :
grep -q "$REL" "$T/out" && rl_fail "expired release still listed"
[ ! -e "$S/releases/TEST-2026-0001/$REL.tar.zst.gpg" ] || rl_fail "expired release not purged"
rl_ok "after max_downloads complete downloads the release is gone"

"$RELGATE" -c "$C" audit verify >/dev/null || rl_fail "audit verify"
rl_audit_has auth.login '"detail": *"publickey,password"' || rl_fail "no auth.login naming key and password"
for t in request.submitted check.passed check.failed approval.granted request.approved release.published file.download release.expired release.purged; do
	rl_audit_has "$t" || rl_fail "no $t audit record"
done
rl_ok "audit trail verifies and holds each step"
