#!/bin/sh
# Layered authentication (product.md "Signing in"), with real clients:
# OpenSSH sftp and scp with key + TOTP (the code from oathtool through
# SSH_ASKPASS), key + password, key + password + TOTP in one round;
# paramiko the same; a key alone gets "partial success" and no session.
# Every refusal is clean, audited with the factor that failed, and the
# daemon keeps serving: wrong code, reused code (also after a restart),
# code from two periods ago, not enrolled, wrong number of answers, a
# 64 KiB answer, an answer cut at a NUL, 30 wrong codes from one source
# (the ban engages; other users unaffected), a locked-out user.
. "$top_srcdir/tests/integration/ssh_lib.sh"

PROBE=$top_srcdir/tests/integration/mfa_probe.py
write_config \
	"auth:" \
	"  staff: [publickey, totp]" \
	"  approver: [publickey, password]" \
	"  contractor: [publickey, totp]" \
	"  officer: [publickey, password, totp]" \
	"  totp: {digits: 6, period: 30, skew: 1}" \
	"auth_failures: {per_source: 10, per_user: 10, window: 60, ban: 600}"

# mfa_user NAME ROLES [password]: a key, and a password_hash made by
# relgate passwd (the default yescrypt cost) when a password is given
mkdir -p "$T/mfa" "$T/keys"
mfa_user() {
	ssh-keygen -q -t ed25519 -N '' -C "$1@test" -f "$T/keys/$1"
	{
		echo "roles: $2"
		echo "organisation: dwp"
		echo "ssh_keys:"
		echo "  - $(cat "$T/keys/$1.pub")"
		if [ -n "${3:-}" ]; then
			printf '%s\n' "$3" > "$T/mfa/$1.password"
			printf '%s\n' "$3" | "$RELGATE" -c "$ETC" passwd "$1" --stdin
		fi
	} > "$ETC/users/$1.yaml"
}
# enrol NAME: relgate totp enroll, the secret kept for the askpass script
enrol() {
	"$RELGATE" -c "$ETC" totp enroll "$1" > "$T/mfa/$1.enrol" 2>&1 ||
		{ cat "$T/mfa/$1.enrol"; return 1; }
	sed -n 's/.*secret=\([A-Z2-7]*\).*/\1/p' "$T/mfa/$1.enrol" | head -1 > "$T/mfa/$1.totp"
	[ -s "$T/mfa/$1.totp" ]
}

mfa_user ann "[staff]"
mfa_user sam "[staff]"
mfa_user bob "[staff, approver]" "bob's long passphrase"
mfa_user carl "[contractor]"
mfa_user olga "[officer]" "olga-pw-2026"
mfa_user nina "[staff]"
mfa_user eve "[staff]"
mfa_user fay "[staff]"
mfa_user gil "[staff]"
mfa_user hal "[contractor]"
for u in ann sam bob carl olga eve fay gil hal; do
	check "relgate totp enroll $u" enrol "$u"
done
check "passwd printed a yescrypt password_hash line" \
	grep -q '^password_hash: \$y\$' "$ETC/users/bob.yaml"
start_relgated

# The askpass script OpenSSH runs for each prompt: "(USER@HOST) PROMPT".
cat > "$T/askpass" <<EOF
#!/bin/sh
u=\$(printf '%s' "\$1" | sed -n 's/^(\([^@]*\)@.*/\1/p')
echo "\$1" >> "$T/askpass.log"
case "\$1" in
*"Verification code:"*) exec oathtool --totp -b "\$(cat "$T/mfa/\$u.totp")" ;;
*"Password:"*) exec cat "$T/mfa/\$u.password" ;;
esac
exit 1
EOF
chmod +x "$T/askpass"
MFA_OPTS="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o IdentitiesOnly=yes -o BatchMode=no"
# mfa_sftp USER BATCH: OpenSSH sftp, the prompts answered by askpass
mfa_sftp() {
	SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force timeout 60 \
		sftp -q $MFA_OPTS -P "$PORT" -i "$T/keys/$1" -b "$2" "$1@127.0.0.1" </dev/null
}
wait_audit() {
	for _ in $(seq 30); do audit_has "$@" && return 0; sleep 0.2; done
	return 1
}
probe() { # probe USER [options]: mfa_probe.py's exit status in $rc
	u=$1; shift
	out=$($PY "$PROBE" "$PORT" "$u" "$T/keys/$u" --source "$SRC" "$@" 2>&1) && rc=0 || rc=$?
}
SRC=127.0.0.1

# ---- real clients, every factor combination ---------------------------
printf 'ls /\nmkdir /requests/m1\nput %s /requests/m1/data.csv\nls /requests/m1\n' \
	"$top_srcdir/README.md" > "$T/ann.b"
check "OpenSSH sftp: key + TOTP (code from oathtool via SSH_ASKPASS)" mfa_sftp ann "$T/ann.b"
check "the upload arrived whole" cmp "$top_srcdir/README.md" "$STATE/spool/staff/ann/m1/data.csv"
check "askpass was asked for the verification code" grep -q "(ann@127.0.0.1) Verification code:" "$T/askpass.log"
check "audit: auth.login names publickey,totp" wait_audit auth.login ok ann "publickey,totp"

mkdir -p "$T/up/s1"; printf 'a,b\n1,2\n' > "$T/up/s1/x.csv"
check "OpenSSH scp: key + TOTP" env SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force \
	timeout 60 scp -q -r $MFA_OPTS -P "$PORT" -i "$T/keys/sam" "$T/up/s1" "sam@127.0.0.1:/requests/" </dev/null
check "scp's upload arrived" cmp "$T/up/s1/x.csv" "$STATE/spool/staff/sam/s1/x.csv"

printf 'ls /\n' > "$T/ls.b"
check "OpenSSH sftp: key + password + TOTP in one round (staff and approver)" mfa_sftp bob "$T/ls.b"
check "both prompts came in one round" sh -c "grep -q '(bob@127.0.0.1) Password:' '$T/askpass.log' && grep -q '(bob@127.0.0.1) Verification code:' '$T/askpass.log'"
check "audit: auth.login names publickey,password,totp" wait_audit auth.login ok bob "publickey,password,totp"

probe olga --password olga-pw-2026 --secret "$T/mfa/olga.totp"
check "paramiko: key + password + TOTP ($out)" [ "$rc" -eq 0 ]
probe carl --secret "$T/mfa/carl.totp"
check "paramiko: key + TOTP ($out)" [ "$rc" -eq 0 ]
check "the contractor's login names its factors" wait_audit auth.login ok carl "publickey,totp"

# ---- the key alone opens nothing ---------------------------------------
probe gil --key-only
check "paramiko, key only: partial success, keyboard-interactive asked ($out)" \
	sh -c "[ $rc -eq 3 ] && printf '%s' \"\$1\" | grep -q \"after the key: \\['keyboard-interactive'\\]\"" _ "$out"
check "OpenSSH sftp offering only the key (BatchMode) gets no session" sh -c \
	"! timeout 30 sftp -q -o BatchMode=yes $MFA_OPTS -P $PORT -i $T/keys/gil -b $T/ls.b gil@127.0.0.1 </dev/null >/dev/null 2>&1"
check "audit: the key alone is refused, naming what was missing" \
	wait_audit auth.failed denied gil "key accepted; totp never presented"

# ---- refusals (from other addresses: 127.0.0.1 must stay unbanned) ---------
SRC=127.0.0.3
probe fay --code 000000
[ "$rc" -ne 0 ] || probe fay --code 999999	# 1 in 10^6 that 000000 was right
check "a wrong code is refused ($out)" [ "$rc" -eq 3 ]
check "audit: auth.failed names the totp factor" wait_audit auth.failed denied fay "totp: wrong or expired verification code"

probe fay --secret "$T/mfa/fay.totp" --steps -2
check "a code from two periods ago is refused ($out)" [ "$rc" -eq 3 ]

SRC=127.0.0.4
probe nina --code 123456
check "a user who is not enrolled is refused ($out)" [ "$rc" -eq 3 ]
check "audit: the refusal says nina is not enrolled" wait_audit auth.failed denied nina "totp: nina is not enrolled"

probe bob --password "wrong passphrase" --secret "$T/mfa/bob.totp"
check "a wrong password is refused ($out)" [ "$rc" -eq 3 ]
check "audit: auth.failed names the password factor" wait_audit auth.failed denied bob "password: wrong password"

SRC=127.0.0.3
probe fay --secret "$T/mfa/fay.totp" --answers 2
check "two answers to one prompt are refused ($out)" [ "$rc" -eq 3 ]
check "audit: the wrong number of answers" wait_audit auth.failed denied fay "2 answers to 1 prompts"
SRC=127.0.0.4
probe bob --password x --answers 1
SRC=127.0.0.3
check "one answer to two prompts is refused ($out)" [ "$rc" -eq 3 ]

probe fay --big 65536
check "a 64 KiB answer is refused ($out)" [ "$rc" -eq 3 ]
check "audit: the answer was too long" wait_audit auth.failed denied fay "longer than 512 bytes"

probe fay --secret "$T/mfa/fay.totp" --nul
check "an answer cut at a NUL byte is a wrong code and is refused ($out)" [ "$rc" -eq 3 ]

# A code is accepted once: again at once, and again after a restart.
code=$($PY -c 'import sys, time; sys.path.insert(0, sys.argv[1]); import mfa_client
print(mfa_client.totp(open(sys.argv[2]).read(), int(time.time()) // 30))' \
	"$top_srcdir/tests/integration" "$T/mfa/fay.totp")
probe fay --code "$code"
check "fay logs in with the current code ($out)" [ "$rc" -eq 0 ]
probe fay --code "$code"
check "the same code again is refused ($out)" [ "$rc" -eq 3 ]
check "audit: the code was used already" wait_audit auth.failed denied fay "already used"
kill -TERM "$PID"
for _ in $(seq $((100 * SLOW))); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
# a state directory loosened by hand (or by an older relgate) is made
# owner-only again when relgated starts
chmod 0755 "$STATE/auth/totp" "$STATE/spool"
chmod 0644 "$STATE/auth/totp/fay.step" "$STATE/spool/staff/ann/m1/data.csv"
start_relgated
check "at start the state directory is owner-only again" sh -c \
	"[ -z \"\$(find '$STATE' \( -type f -o -type d \) -perm /077)\" ]"
probe fay --code "$code"
check "the same code after a restart is still refused ($out)" [ "$rc" -eq 3 ]

# ---- 30 wrong codes from one source: the ban -----------------------------
: > "$T/brute"
SRC=127.0.0.2
for i in $(seq 30); do
	probe eve --code 000001
	echo "$rc" >> "$T/brute"
done
SRC=127.0.0.1
refused=$(grep -c '^3$' "$T/brute" || :)
closed=$(grep -c '^4$' "$T/brute" || :)
echo "# 30 wrong codes from 127.0.0.2: $refused refused at the prompt, $closed closed at once"
check "the ban engaged after per_source wrong codes ($refused refused, $closed closed)" \
	[ "$refused" -le 11 -a "$closed" -ge 19 -a $((refused + closed)) -eq 30 ]
check "audit: the source was banned" wait_audit auth.banned denied "" "source 127.0.0.2 banned"
check "audit: eve is locked out too (per_user)" wait_audit auth.banned denied eve "user eve banned"
probe eve --secret "$T/mfa/eve.totp"
check "the locked-out user is refused even with the right code ($out)" [ "$rc" -eq 5 ]
check "audit: the refusal says banned" wait_audit auth.failed denied eve "banned for now"
probe gil --secret "$T/mfa/gil.totp"
check "another user from another source is unaffected ($out)" [ "$rc" -eq 0 ]
check "the daemon still serves OpenSSH's sftp" mfa_sftp hal "$T/ls.b"
audit_json > "$T/audit.json"
check "no code or password ever reached the audit trail" sh -c \
	"! grep -q -e '$code' -e 'olga-pw-2026' -e 'long passphrase' '$T/audit.json'"

finish
