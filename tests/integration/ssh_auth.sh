#!/bin/sh
# relgated authentication: public keys of that very user only, on the probe
# and on the signed attempt; no other method; no channel before
# authentication (CVE-2018-10933); expired accounts and training refused
# with the reason in the audit trail. Layered authentication is on: the
# key, then the password (and, for the officer, a TOTP code) at the
# keyboard-interactive prompt; a refused key is refused before any prompt.
. "$top_srcdir/tests/integration/ssh_lib.sh"

write_config "auth_failures: {per_source: 50, per_user: 50, window: 60, ban: 60}" \
	"auth:" "  staff: [publickey, password]" "  officer: [publickey, password, totp]"
add_user staff-ann "[staff]" dwp
add_user sec-oli "[officer]" dwp
add_user old-al "[staff]" dwp "training_expires: 2020-01-31"
add_user gone-gus "[staff]" dwp "valid_until: 2021-06-30"
add_user para-pat "[staff]" dwp
ssh-keygen -q -t ed25519 -N '' -f "$T/keys/stranger"
start_relgated

wait_audit() { # like audit_has, retried: a refusal is recorded as it ends
	for _ in $(seq 30); do audit_has "$@" && return 0; sleep 0.2; done
	return 1
}

out=$($PY "$CLIENT" login "$PORT" staff-ann "$T/keys/staff-ann") && rc=0 || rc=$?
check "the right key logs in and lists the staff view ($out)" [ "$rc" -eq 0 ]
check "audit: auth.login ok for staff-ann, naming both factors" \
	wait_audit auth.login ok staff-ann "publickey,password"
check "audit: session.open for staff-ann" wait_audit session.open ok staff-ann ""
check "audit: session.close for staff-ann" wait_audit session.close ok staff-ann ""

out=$($PY "$CLIENT" login "$PORT" staff-ann "$T/keys/sec-oli") && rc=0 || rc=$?
check "another user's key is refused ($out)" [ "$rc" -eq 3 ]
out=$($PY "$CLIENT" login "$PORT" staff-ann "$T/keys/stranger") && rc=0 || rc=$?
check "an unknown key is refused ($out)" [ "$rc" -eq 3 ]
out=$($PY "$CLIENT" login "$PORT" nobody "$T/keys/staff-ann") && rc=0 || rc=$?
check "an unknown user is refused ($out)" [ "$rc" -eq 3 ]
check "audit: auth.failed for the wrong key names the reason" \
	wait_audit auth.failed denied staff-ann "key not authorised"

out=$($PY "$CLIENT" probe-swap "$PORT" staff-ann "$T/keys/staff-ann" "$T/keys/sec-oli") && rc=0 || rc=$?
check "probe with ann's key gets PK_OK, signing with another key is refused ($out)" [ "$rc" -eq 0 ]
out=$($PY "$CLIENT" probe-swap "$PORT" staff-ann "$T/keys/sec-oli" "$T/keys/staff-ann") && rc=0 || rc=$?
check "a probe with another user's key gets no PK_OK ($out)" [ "$rc" -eq 1 ]

out=$($PY "$CLIENT" methods "$PORT" staff-ann) && rc=0 || rc=$?
check "none, password and keyboard-interactive are refused, only publickey offered ($out)" [ "$rc" -eq 0 ]

out=$($PY "$CLIENT" channel-before-auth "$PORT") && rc=0 || rc=$?
check "a channel before authentication is refused ($out)" [ "$rc" -eq 0 ]
out=$($PY "$CLIENT" inject-success "$PORT" staff-ann) && rc=0 || rc=$?
check "an injected USERAUTH_SUCCESS gives no channel ($out)" [ "$rc" -eq 0 ]

out=$($PY "$CLIENT" login "$PORT" old-al "$T/keys/old-al") && rc=0 || rc=$?
check "expired training is refused ($out)" [ "$rc" -eq 3 ]
check "audit: the refusal says the training expired" \
	wait_audit auth.failed denied old-al "training expired (training_expires 2020-01-31)"
out=$($PY "$CLIENT" login "$PORT" gone-gus "$T/keys/gone-gus") && rc=0 || rc=$?
check "an account past valid_until is refused ($out)" [ "$rc" -eq 3 ]
check "audit: the refusal says the account expired" \
	wait_audit auth.failed denied gone-gus "account expired (valid_until 2021-06-30)"

# OpenSSH's own client: the right key works, a wrong one fails.
printf 'ls /\n' > "$T/ls.b"
check "OpenSSH sftp logs in with the user's key and password" sftp_as staff-ann "$T/ls.b"
cp "$T/keys/sec-oli" "$T/keys/imposter"; cp "$T/keys/sec-oli.pub" "$T/keys/imposter.pub"
asked=$(askpass_count)
check "OpenSSH sftp as staff-ann with sec-oli's key fails" sh -c \
	"! timeout 30 sftp -q $SSH_OPTS -P $PORT -i $T/keys/sec-oli -b $T/ls.b staff-ann@127.0.0.1 >/dev/null 2>&1"
check "and was refused at the key, before any prompt" [ "$(askpass_count)" -eq "$asked" ]
# the officer's role asks for all three: both prompts in one round, in order
enroll_totp sec-oli
asked=$(askpass_count)
check "OpenSSH sftp as sec-oli: key, password and verification code" sftp_as sec-oli "$T/ls.b"
p1=$(sed -n "$((asked + 1))p" "$MFA_ASKPASS_LOG")
p2=$(sed -n "$((asked + 2))p" "$MFA_ASKPASS_LOG")
prompts_ok() {
	[ "$(askpass_count)" -eq $((asked + 2)) ] &&
	    [ "$p1" = "(sec-oli@127.0.0.1) Password: " ] &&
	    [ "$p2" = "(sec-oli@127.0.0.1) Verification code: " ]
}
check "two prompts, Password then Verification code ($p1|$p2)" prompts_ok
check "audit: auth.login ok for sec-oli names the three factors" \
	wait_audit auth.login ok sec-oli "publickey,password,totp"

out=$($PY "$CLIENT" tries "$PORT" staff-ann "$T/keys/sec-oli" "$T/keys/staff-ann") && rc=0 || rc=$?
check "after 6 refused attempts a connection gets no more ($out)" [ "$rc" -eq 0 ]

# modern algorithms only, strict key exchange, no compression
algo_refused() { # algo_refused OPTION: a connection with only that fails
	! timeout 20 ssh $SSH_OPTS -o "$1" -p "$PORT" -i "$T/keys/staff-ann" staff-ann@127.0.0.1 true >/dev/null 2>&1
}
check "CBC ciphers are refused" algo_refused Ciphers=aes128-cbc,aes256-cbc
check "SHA-1 MACs are refused" algo_refused MACs=hmac-sha1,hmac-sha1-etm@openssh.com
check "SHA-1 key exchange is refused" algo_refused KexAlgorithms=diffie-hellman-group14-sha1,diffie-hellman-group1-sha1
check "an ssh-rsa (SHA-1) host key is refused" algo_refused HostKeyAlgorithms=ssh-rsa
timeout 20 ssh -vvv -C $SSH_OPTS -p "$PORT" -i "$T/keys/staff-ann" staff-ann@127.0.0.1 true > "$T/kex.log" 2>&1 || :
check "strict key exchange is used (Terrapin)" grep -q "will use strict KEX ordering" "$T/kex.log"
check "no compression is offered" grep -Eq "compression ctos: none.?$" "$T/kex.log"

# paramiko's SSHClient tries the password method after the key, then
# keyboard-interactive with the same password: it gets in, and the
# password-method try is no failed login (three in a row, none counted)
for i in 1 2 3; do
	out=$($PY -c '
import sys, paramiko
c = paramiko.SSHClient()
c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
c.connect("127.0.0.1", int(sys.argv[1]), username="para-pat",
          key_filename=sys.argv[2], password=sys.argv[3],
          look_for_keys=False, allow_agent=False, timeout=30)
print(c.open_sftp().listdir("/"))' "$PORT" "$T/keys/para-pat" "$RG_TEST_PASSWORD" 2>&1) && rc=0 || rc=$?
	check "paramiko SSHClient.connect(key, password) logs in ($i: $out)" [ "$rc" -eq 0 ]
done
check "and no auth.failed was recorded for it" eval '! audit_has auth.failed "" para-pat ""'

check "the daemon still serves after all that" sftp_as staff-ann "$T/ls.b"
finish
