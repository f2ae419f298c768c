#!/usr/bin/env bash
# E-mail notifications (product.md "Notifications") against a real SMTP
# server on loopback (python3-aiosmtpd, tests/integration/smtp_sink.py) and
# a real relgated: requests are driven through the release worker's queue
# as the SFTP layer drives it (release_worker.sh does the same).
#  1. each event reaches exactly the right people, once: awaiting approval
#     -> the contract's approvers but never the submitter; failed,
#     approved, rejected, published -> the submitter; ready to download and
#     expires in 2 days -> the contract's people; messages are RFC 5322
#     with CRLF and hold no cell value, reason text or other person;
#  2. the relay down for a minute, then back: everything delivered once
#     (back-off shortened through notify: retry_first/retry_max; set
#     NOTIFY_DOWN_SECS to shorten the minute);
#  3. a relay that refuses (550) or hangs never delays a release;
#  4. kill -9 of the whole gateway with messages in the outbox, restart:
#     all delivered once;
#  5. STARTTLS required with AUTH from a 0600 password_file;
#  6. lint refuses an e-mail address with CR/LF (header injection), a
#     cleartext relay off loopback and a password_file readable by others.
set -euo pipefail
. "$top_srcdir/tests/integration/release_lib.sh"
PY=/usr/bin/python3
$PY -c 'import aiosmtpd' 2>/dev/null || { echo "SKIP: python3-aiosmtpd missing"; exit 77; }
DOWN_SECS=${NOTIFY_DOWN_SECS:-60}
T=$(mktemp -d "${TMPDIR:-/tmp}/rg-notify.XXXXXX")
PGID= SINK=
stop_gateway() {
	if [ -n "$PGID" ]; then
		kill -TERM -- "-$PGID" 2>/dev/null || :
		for _ in $(seq 100); do kill -0 -- "-$PGID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL -- "-$PGID" 2>/dev/null || :
		PGID=
	fi
}
stop_sink() {
	if [ -n "$SINK" ]; then
		kill "$SINK" 2>/dev/null || :
		wait "$SINK" 2>/dev/null || :
		SINK=
	fi
}
cleanup() { stop_gateway; stop_sink; rl_cleanup_gpg; [ -n "${KEEP:-}" ] || rm -rf "$T"; }
trap cleanup EXIT
PORT=$(rl_free_port)
rl_setup "$PORT"
S=$T/state C=$T/etc
SMTP_PORT=$(rl_free_port)
MAIL=$T/mail
db() { sqlite3 -cmd ".timeout 10000" "$S/state.db" "$1"; }

for u in staff-ann staff-ben iam-jo acme-ana beta-bo; do
	echo "email: $u@example.org" >> "$C/users/$u.yaml"
done
# TEST-2026-0002's releases expire 2 days after publication.
sed -i 's/download_days: 14/download_days: 2/' "$C/contracts/TEST-2026-0002.yaml"
notify_yaml() { # extra lines for notify:
	sed -i '/^notify:/,$d' "$C/relgate.yaml"
	{
		echo "notify:"
		echo "  smtp: ${SMTP_URL:-smtp://127.0.0.1:$SMTP_PORT}"
		echo "  from: relgate@gateway.example.org"
		echo "  retry_first: 2"
		echo "  retry_max: 8"
		echo "  attempts: 30"
		[ $# -gt 0 ] && printf '%s\n' "$@"
	} >> "$C/relgate.yaml"
}
notify_yaml "  starttls: off"
"$RELGATE" -c "$C" lint >/dev/null || { "$RELGATE" -c "$C" lint; rl_fail "notify config does not lint"; }

start_sink() { # MODE [args]
	local m=$1; shift
	$PY "$top_srcdir/tests/integration/smtp_sink.py" --port "$SMTP_PORT" --dir "$MAIL" --mode "$m" "$@" >"$T/sink.out" 2>>"$T/sink.log" &
	SINK=$!
	for _ in $(seq 100); do grep -q ready "$T/sink.out" 2>/dev/null && return 0; sleep 0.1; done
	cat "$T/sink.log"; rl_fail "smtp sink did not start"
}
start_gateway() {
	rl_start_relgated setsid
	PGID=$RL_PID
	disown "$PGID" 2>/dev/null || :
}
enqueue() { "$WORKER" -s "$S" --enqueue "$@"; }
state_of() { rl_json "$S/spool/staff/$1/$2/status.json" state 2>/dev/null || :; }
id_of() { rl_json "$S/spool/staff/$1/$2/status.json" request; }
wait_state() { # USER FOLDER STATE
	for _ in $(seq $((600 * SLOW))); do
		[ "$(state_of "$1" "$2")" = "$3" ] && return 0
		sleep 0.1
	done
	tail -20 "$T/relgated.log"; rl_fail "$1/$2 never reached $3 (is $(state_of "$1" "$2"))"
}
submit() { # USER FOLDER CONTRACT CSV
	rl_spool "$1" "$2" "$3" "$4"
	enqueue submit "$1" "$2"
}
decide() { # REQUEST USER approve|reject [reason]
	mkdir -p "$S/requests/$1/decisions"
	printf 'decision: %s\nreason: %s\n' "$3" "${4:-Checked against the DSA.}" > "$S/requests/$1/decisions/$2.yaml"
	enqueue decision "$1" "$2"
}
outbox_left() { db "SELECT COUNT(*) FROM outbox WHERE state = 'queued'"; }
wait_outbox_empty() {
	for _ in $(seq $((900 * SLOW))); do
		[ "$(outbox_left)" = 0 ] && return 0
		sleep 0.1
	done
	db "SELECT id, user, state, tries, error FROM outbox WHERE state = 'queued'"
	tail -20 "$T/relgated.log"; rl_fail "the outbox did not empty"
}
# mail_list: "RCPT|SUBJECT" of every message received, sorted
mail_list() {
	$PY - "$MAIL" <<'PY'
import email, glob, os, sys
out = []
for f in sorted(glob.glob(os.path.join(sys.argv[1], "*.eml"))):
    m = email.message_from_bytes(open(f, "rb").read())
    out.append("%s|%s" % (m["X-Envelope-To"], m["Subject"]))
print("\n".join(sorted(out)))
PY
}
expect_mail() { # the expected "RCPT|SUBJECT" lines on stdin
	sort > "$T/want"
	mail_list > "$T/got"
	diff -u "$T/want" "$T/got" || rl_fail "mail received is not what the events call for"
}

rl_gen_csv 3000 1 > "$T/clean.csv"
rl_gen_csv 2000 12 nino > "$T/bad.csv"

# ---- 1. each event reaches exactly the right people ---------------------
start_sink ok
start_gateway
submit staff-ann q1 TEST-2026-0001 "$T/clean.csv"
submit staff-ann q2 TEST-2026-0001 "$T/bad.csv"
submit staff-ann q3 TEST-2026-0001 "$T/clean.csv"
submit staff-ben q4 TEST-2026-0001 "$T/clean.csv"
submit staff-ann q5 TEST-2026-0002 "$T/clean.csv"
wait_state staff-ann q1 awaiting_approval
wait_state staff-ann q2 failed
wait_state staff-ann q3 awaiting_approval
wait_state staff-ben q4 awaiting_approval
wait_state staff-ann q5 awaiting_approval
R1=$(id_of staff-ann q1) R2=$(id_of staff-ann q2) R3=$(id_of staff-ann q3)
R4=$(id_of staff-ben q4) R5=$(id_of staff-ann q5)
t0=$(date +%s.%N)
decide "$R1" staff-ben approve
wait_state staff-ann q1 published
BASE=$($PY -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$t0" "$(date +%s.%N)")
REL1=$(rl_json "$S/spool/staff/staff-ann/q1/status.json" release)
decide "$R3" iam-jo reject "Row 17 holds SECRET-REASON-TEXT"
wait_state staff-ann q3 rejected
decide "$R5" iam-jo approve
decide "$R5" staff-ben approve
wait_state staff-ann q5 published
REL5=$(rl_json "$S/spool/staff/staff-ann/q5/status.json" release)
wait_outbox_empty
sleep 1
expect_mail <<EOF
iam-jo@example.org|[relgate] request $R1 awaits your approval
staff-ben@example.org|[relgate] request $R1 awaits your approval
staff-ann@example.org|[relgate] request $R1 was approved
staff-ann@example.org|[relgate] request $R1 was published
acme-ana@example.org|[relgate] release $REL1 is ready to download
staff-ann@example.org|[relgate] request $R2 failed its checks
iam-jo@example.org|[relgate] request $R3 awaits your approval
staff-ben@example.org|[relgate] request $R3 awaits your approval
staff-ann@example.org|[relgate] request $R3 was rejected
iam-jo@example.org|[relgate] request $R4 awaits your approval
iam-jo@example.org|[relgate] request $R5 awaits your approval
staff-ben@example.org|[relgate] request $R5 awaits your approval
staff-ann@example.org|[relgate] request $R5 was approved
staff-ann@example.org|[relgate] request $R5 was published
beta-bo@example.org|[relgate] release $REL5 is ready to download
beta-bo@example.org|[relgate] release $REL5 expires in 2 days
EOF
rl_ok "each event reached exactly the right people once (approvers but never the submitter: $R4 only to iam-jo)"

# what the messages hold: proper headers, CRLF, no data, no other person
$PY - "$MAIL" "$T/clean.csv" "$T/bad.csv" "$R2" <<'PY' || rl_fail "message content"
import email, glob, os, re, sys
mail, clean, bad, r2 = sys.argv[1:5]
cells = set()
for f in (clean, bad):
    for line in open(f).read().splitlines()[1:200]:
        cells.update(c for c in line.split(",") if len(c) > 6)
cells.add("JK 12 34 56 C")
for f in sorted(glob.glob(os.path.join(mail, "*.eml"))):
    raw = open(f, "rb").read()
    body = raw.split(b"\r\n", 3)[3]          # after the sink's own lines
    assert b"\n" not in body.replace(b"\r\n", b""), f + ": bare LF"
    m = email.message_from_bytes(body)
    for h in ("Date", "Message-ID", "From", "To", "Subject"):
        assert m[h], "%s: no %s" % (f, h)
    assert m["From"] == "<relgate@gateway.example.org>", m["From"]
    to = m["To"].strip("<>")
    assert to == raw.split(b"\r\n")[1].split(b": ")[1].decode(), f
    assert re.match(r"<relgate\.\d+\.\d+@gateway\.example\.org>$", m["Message-ID"])
    text = m.get_payload()
    for c in cells:
        assert c not in text, "%s holds a cell value %r" % (f, c)
    assert "SECRET-REASON-TEXT" not in text, f + " holds the rejection reason"
    # never another person: only the recipient's own name may appear
    for u in ("staff-ann", "staff-ben", "iam-jo", "acme-ana", "beta-bo"):
        if not to.startswith(u + "@"):
            assert u not in text, "%s names %s" % (f, u)
    if m["Subject"].endswith("failed its checks") and r2 in m["Subject"]:
        assert "identifiers.raw" in text, "failed rule not named"
    if "awaits" in m["Subject"]:
        assert "/approvals/" in text
PY
[ "$(db "SELECT COUNT(*) FROM outbox WHERE state = 'sent'")" = 16 ] || rl_fail "outbox does not show 16 sent"
"$RELGATE" -c "$C" audit list --type notify.sent --json > "$T/a.json"
[ "$(grep -c '"notify.sent"' "$T/a.json")" = 16 ] || rl_fail "notify.sent not audited for each message"
rl_ok "messages: Date/Message-ID/From/To/Subject, CRLF, rule names; no cell value, reason or other person; 16 notify.sent"

# expires in 2 days: once, however often the worker looks
enqueue submit staff-ann q1   # a repeated entry: wakes the worker, no new mail
sleep 3
[ "$(mail_list | grep -c 'expires in 2 days')" = 1 ] || rl_fail "expiry notice sent more than once"
rl_ok "expires-in-2-days notice sent once"

# ---- 2. relay down for a minute, then back -------------------------------
stop_sink
n0=$(ls "$MAIL" | grep -c '\.eml$')
submit staff-ann q6 TEST-2026-0001 "$T/clean.csv"
wait_state staff-ann q6 awaiting_approval
R6=$(id_of staff-ann q6)
sleep "$DOWN_SECS"
retried=$(db "SELECT COUNT(*) FROM outbox WHERE state = 'queued' AND tries >= 2" 2>&1)
[ "$retried" = 2 ] ||
	rl_fail "messages not retried while the relay was down ($retried)"
start_sink ok
wait_outbox_empty
sleep 2
[ "$(ls "$MAIL" | grep -c '\.eml$')" = $((n0 + 2)) ] || rl_fail "not delivered exactly once after the relay came back"
[ "$(mail_list | grep -c "$R6 awaits")" = 2 ] || rl_fail "$R6 messages"
rl_audit_has notify.failed && rl_fail "a retried message was audited failed"
rl_ok "relay down ${DOWN_SECS}s then back: both messages delivered once, retried with back-off"

# ---- 3. a relay that refuses or hangs never delays a release -------------
timed_release() { # FOLDER -> seconds from approval to published
	submit staff-ann "$1" TEST-2026-0001 "$T/clean.csv"
	wait_state staff-ann "$1" awaiting_approval
	local r t
	r=$(id_of staff-ann "$1")
	t=$(date +%s.%N)
	decide "$r" staff-ben approve
	wait_state staff-ann "$1" published
	$PY -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$t" "$(date +%s.%N)"
}
not_slower() { # SECONDS WHAT
	$PY -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 2 * float(sys.argv[2]) + 3 else 1)" "$1" "$BASE" ||
		rl_fail "$2: publishing took $1 s (without trouble $BASE s)"
}
stop_sink
start_sink refuse
TR=$(timed_release q7)
not_slower "$TR" "relay refusing"
for _ in $(seq 300); do rl_audit_has notify.failed "550" && break; sleep 0.1; done
rl_audit_has notify.failed "550" || rl_fail "notify.failed with the relay's 550 not audited"
rl_ok "relay refusing (550): published in $TR s (baseline $BASE s); notify.failed audited with the relay's error"
stop_sink
start_sink hang
TH=$(timed_release q8)
not_slower "$TH" "relay hanging"
rl_ok "relay hanging: published in $TH s (baseline $BASE s)"
t=$(date +%s)
stop_gateway
[ $(($(date +%s) - t)) -lt 8 ] || rl_fail "the worker took long to stop during a hanging send"
rl_ok "the gateway stops promptly during a hanging send"
stop_sink

# ---- 4. kill -9 with messages in the outbox --------------------------------
# First what section 3 left queued goes out.
start_sink ok
start_gateway
wait_outbox_empty
stop_sink
rm -f "$MAIL"/*.eml
submit staff-ann q9 TEST-2026-0001 "$T/clean.csv"
wait_state staff-ann q9 awaiting_approval
R9=$(id_of staff-ann q9)
[ "$(db "SELECT COUNT(*) FROM outbox WHERE state = 'queued' AND request = '$R9'")" = 2 ] ||
	rl_fail "messages not in the outbox"
kill -KILL -- "-$PGID"
PGID=
sleep 0.5
start_sink ok
start_gateway
wait_outbox_empty
sleep 2
mail_list > "$T/got"
[ "$(grep -c "$R9 awaits" "$T/got")" = 2 ] && [ "$(wc -l < "$T/got")" = 2 ] ||
	{ cat "$T/got"; rl_fail "after kill -9 and restart not delivered exactly once"; }
rl_ok "kill -9 with messages in the outbox, restart: all delivered once"
stop_gateway
stop_sink

# ---- 5. STARTTLS required, AUTH with a 0600 password_file --------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$T/relay.key" -out "$T/relay.crt" 2>/dev/null
printf 'relay-pass-%s\n' "$RANDOM" > "$T/smtp.secret"
chmod 600 "$T/smtp.secret"
notify_yaml "  starttls: required" "  ca_file: $T/relay.crt" "  user: relgate" "  password_file: $T/smtp.secret"
"$RELGATE" -c "$C" lint >/dev/null || { "$RELGATE" -c "$C" lint; rl_fail "TLS config does not lint"; }
rm -f "$MAIL"/*.eml
start_sink ok --tls "$T/relay.crt" "$T/relay.key" --auth "relgate:$(head -1 "$T/smtp.secret")"
start_gateway
submit staff-ann q10 TEST-2026-0001 "$T/clean.csv"
wait_state staff-ann q10 awaiting_approval
wait_outbox_empty
sleep 1
[ "$(grep -l 'X-Session: tls=1 auth=yes' "$MAIL"/*.eml | wc -l)" = 2 ] || rl_fail "not sent over STARTTLS with AUTH"
rl_ok "STARTTLS required and AUTH from password_file: delivered"
stop_gateway
stop_sink

# ---- 6. lint: header injection and unsafe relay settings -------------------
cp "$C/users/staff-ann.yaml" "$T/ann.yaml"
sed -i '/^email:/d' "$C/users/staff-ann.yaml"
printf 'email: "staff-ann@example.org\\r\\nBcc: eve@example.org"\n' >> "$C/users/staff-ann.yaml"
line=$(grep -n '^email:' "$C/users/staff-ann.yaml" | cut -d: -f1)
if "$RELGATE" -c "$C" lint > "$T/lint.out" 2>&1; then rl_fail "lint accepted an address with CR/LF"; fi
grep -q "users/staff-ann.yaml:$line:[0-9]*:.*control byte" "$T/lint.out" || { cat "$T/lint.out"; rl_fail "lint does not name file:line:col"; }
cp "$T/ann.yaml" "$C/users/staff-ann.yaml"
rl_ok "an e-mail address with CR/LF is refused by lint at file:line:col"
chmod 644 "$T/smtp.secret"
if "$RELGATE" -c "$C" lint > "$T/lint.out" 2>&1; then rl_fail "lint accepted a password_file readable by others"; fi
grep -q "relgate.yaml:[0-9]*:[0-9]*:.*must be 0600" "$T/lint.out" || { cat "$T/lint.out"; rl_fail "password_file mode not named"; }
chmod 600 "$T/smtp.secret"
SMTP_URL=smtp://mail.example.org:587 notify_yaml "  starttls: off"
if "$RELGATE" -c "$C" lint > "$T/lint.out" 2>&1; then rl_fail "lint accepted starttls: off off loopback"; fi
grep -q "relgate.yaml:[0-9]*:[0-9]*:.*only allowed for a relay on loopback" "$T/lint.out" || { cat "$T/lint.out"; rl_fail "starttls: off not refused"; }
rl_ok "lint refuses a password_file readable by others and starttls: off off loopback"
notify_yaml "  starttls: off"

"$RELGATE" -c "$C" audit verify >/dev/null || rl_fail "audit verify"
rl_ok "audit trail verifies"
