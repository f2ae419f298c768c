#!/bin/sh
# relgated authentication: public keys of that very user only, on the probe
# and on the signed attempt; no other method; no channel before
# authentication (CVE-2018-10933); expired accounts and training refused
# with the reason in the audit trail.
. "$top_srcdir/tests/integration/ssh_lib.sh"

write_config "auth_failures: {per_source: 50, per_user: 50, window: 60, ban: 60}"
add_user staff-ann "[staff]" dwp
add_user sec-oli "[officer]" dwp
add_user old-al "[staff]" dwp "training_expires: 2020-01-31"
add_user gone-gus "[staff]" dwp "valid_until: 2021-06-30"
ssh-keygen -q -t ed25519 -N '' -f "$T/keys/stranger"
start_relgated

wait_audit() { # like audit_has, retried: a refusal is recorded as it ends
	for _ in $(seq 30); do audit_has "$@" && return 0; sleep 0.2; done
	return 1
}

out=$($PY "$CLIENT" login "$PORT" staff-ann "$T/keys/staff-ann") && rc=0 || rc=$?
check "the right key logs in and lists the staff view ($out)" [ "$rc" -eq 0 ]
check "audit: auth.login ok for staff-ann" wait_audit auth.login ok staff-ann ""
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
check "OpenSSH sftp logs in with the user's key" sftp_as staff-ann "$T/ls.b"
cp "$T/keys/sec-oli" "$T/keys/imposter"; cp "$T/keys/sec-oli.pub" "$T/keys/imposter.pub"
check "OpenSSH sftp as staff-ann with sec-oli's key fails" sh -c \
	"! timeout 30 sftp -q $SSH_OPTS -P $PORT -i $T/keys/sec-oli -b $T/ls.b staff-ann@127.0.0.1 >/dev/null 2>&1"

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

check "the daemon still serves after all that" sftp_as staff-ann "$T/ls.b"
finish
