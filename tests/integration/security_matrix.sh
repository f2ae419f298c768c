#!/bin/sh
# Role x SFTP operation x path matrix (security_matrix.py): every role of
# the demo setup (staff-ann staff, staff-ben staff+approver, iam-jo
# approver, acme-ana contractor, sec-oli officer), every SFTP operation, on
# paths inside and outside its view (relative, absolute, '..', backslashes,
# '//', names > 255 and paths > 4096 bytes, NUL and control bytes, and
# symlinks/FIFOs planted in the state directory): the exact status code,
# the file system afterwards, and /etc/passwd never in a reply. Every user
# signs in with the demo's factors, the key and a TOTP code, once.
. "$top_srcdir/tests/integration/ssh_lib.sh"

D=$T/demo
OUT=$T/outside
mkdir -p "$OUT"
"$RELGATED" --demo "$D" --port "$PORT" > "$T/demo.out" 2>>"$LOG" &
PID=$!
for _ in $(seq 300); do
	$PY -c "import socket; socket.create_connection(('127.0.0.1',$PORT),0.2)" 2>/dev/null && break
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.1
done
ETC=$D/etc
# Every approver is staff too (a user file with approver alone does not
# load). An approver named on no contract is added: an empty /approvals.
mkdir -p "$D/client/rgmx-apr"
ssh-keygen -q -t ed25519 -N '' -f "$D/client/rgmx-apr/id_ed25519"
printf 'roles: [staff, approver]\norganisation: dwp\nssh_keys:\n  - %s\n' \
	"$(cat "$D/client/rgmx-apr/id_ed25519.pub")" > "$ETC/users/rgmx-apr.yaml"
# enrolled for TOTP as the demo enrols its users (no restart needed)
enroll_totp rgmx-apr || fail "relgate totp enroll rgmx-apr"
cp "$RG_TEST_TOTP_DIR/rgmx-apr" "$D/client/rgmx-apr/totp.secret"
kill -HUP "$PID"
for _ in $(seq 50); do audit_has config.reloaded ok "" "" && break; sleep 0.2; done

timeout 900 $PY "$top_srcdir/tests/integration/security_matrix.py" "$PORT" "$D" "$OUT" > "$T/matrix.out" 2>&1 && rc=0 || rc=$?
grep -v '^ok - ' "$T/matrix.out" || :
echo "($(grep -c '^ok - ' "$T/matrix.out") cases ok; full list with KEEP_LOG=1)"
[ -n "${KEEP_LOG:-}" ] && cat "$T/matrix.out"
check "the role x operation x path matrix holds" [ "$rc" -eq 0 ]
for u in staff-ann staff-ben iam-jo rgmx-apr acme-ana sec-oli; do
	check "audit: $u signed in with the key and a code" audit_has auth.login ok "$u" "publickey,totp"
done

# Denials are audited with the path asked for.
check "audit: staff-ann's write into a submitted request is access.denied with its path" sh -c "
	'$RELGATE' -c '$ETC' audit list --json --type access.denied --user staff-ann |
	$PY -c 'import json,sys; sys.exit(0 if any(json.loads(l)[\"path\"] == \"/requests/sub1/claims_sample.csv\" for l in sys.stdin) else 1)'"
check "audit: acme-ana's write attempts are access.denied" sh -c "
	'$RELGATE' -c '$ETC' audit list --json --type access.denied --user acme-ana | grep -q gateway.asc"
# No cell value of an extract ever enters the audit trail: the sample's
# person_id tokens (64 hex digits each) appear nowhere in it.
"$RELGATE" -c "$ETC" audit list --json > "$T/audit.json"
check "audit: no cell value of the submitted extracts is in the trail" $PY -c '
import csv, sys
vals = [r[0] for r in list(csv.reader(open(sys.argv[1])))[1:] if len(r[0]) >= 16]
trail = open(sys.argv[2]).read()
leaked = [v for v in vals if v in trail]
print("%d values looked for, %d found" % (len(vals), len(leaked)))
sys.exit(1 if leaked or not vals else 0)' "$D/sample/claims_sample.csv" "$T/audit.json"
check "the audit chain still verifies" "$RELGATE" -c "$ETC" audit verify

# Without run_as (the demo) everything under the state directory is
# owner-only, the pid file included, and no other account reads a byte.
. "$top_srcdir/tests/integration/state_modes.sh"
# (security_matrix.py plants FAKE-001 and R-FAKE there itself, 0644)
loose=$(state_not_owner_only "$D/state" | grep -v -e /FAKE-001 -e /R-FAKE/ || :)
check "every folder under the demo's state is 0700, every file 0600 (${loose:-none else})" [ -z "$loose" ]
check "the pid file is 0600" [ "$(stat -c %a "$D/state/relgated.pid")" = 600 ]
readable=$(state_read_by_other "$D/state")
check "no other account reads a file under the state directory (${readable:-none read})" [ -z "$readable" ]
finish
