#!/bin/sh
# Security keys (product.md "Signing in": the security-key factor) with
# OpenSSH's real client, through SecurityKeyProvider pointing at the test
# authenticator tests/sk/sk_soft.so (OpenSSH's sk-api; it signs with the
# flags and counter the test asks for). Keys enrolled with ssh-keygen -t
# ed25519-sk and -t ecdsa-sk log in; each refusal is proved and audited:
# no presence flag, no verification flag on a verify-required key, a
# counter that goes backwards, a role asking for a security key offered a
# plain one. no-touch-required lets a signature without touch in.
. "$top_srcdir/tests/integration/ssh_lib.sh"

SO=${RG_SK_SOFT:-$top_builddir/tests/sk/sk_soft.so}
[ -f "$SO" ] || { echo "no $SO (make check builds it)"; exit 1; }
write_config \
	"auth:" \
	"  staff: [security-key, password]" \
	"auth_failures: {per_source: 100, per_user: 100, window: 60, ban: 60}"
PW="a password for the second factor"

mkdir -p "$T/keys"
# sk_user NAME TYPE [OPTIONS]: a FIDO key enrolled on the test authenticator
sk_user() {
	ssh-keygen -q -t "$2" -w "$SO" -N '' -C "$1@test" -f "$T/keys/$1" </dev/null ||
		return 1
	{
		echo "roles: [staff]"
		echo "organisation: dwp"
		echo "ssh_keys:"
		echo "  - ${3:+$3 }$(cat "$T/keys/$1.pub")"
	} > "$ETC/users/$1.yaml"
}
check "ssh-keygen -t ed25519-sk enrols ann" sk_user ann ed25519-sk
check "ssh-keygen -t ecdsa-sk enrols ben (verify-required)" sk_user ben ecdsa-sk verify-required
check "ssh-keygen -t ed25519-sk enrols cat (no-touch-required)" sk_user cat ed25519-sk no-touch-required
ssh-keygen -q -t ed25519 -N '' -C dan@test -f "$T/keys/dan"
printf 'roles: [staff]\norganisation: dwp\nssh_keys:\n  - %s\n' \
	"$(cat "$T/keys/dan.pub")" > "$ETC/users/dan.yaml"
# one password for all (relgate passwd: the default yescrypt cost)
line=$(printf '%s\n' "$PW" | "$RELGATE" -c "$ETC" passwd ann --stdin)
for u in ann ben cat dan; do echo "$line" >> "$ETC/users/$u.yaml"; done
"$RELGATE" -c "$ETC" lint > "$T/lint.out" 2>&1 || :
check "relgate lint warns that dan's role needs a FIDO key he does not have" \
	grep -q "roles of 'dan' require a security key, but ssh_keys holds no FIDO key" "$T/lint.out"
check "and says nothing of the others" sh -c "! grep -E \"'(ann|ben|cat)'\" '$T/lint.out'"
start_relgated

# askpass: the password prompt; ssh's "Confirm user presence" notice
# (SSH_ASKPASS_PROMPT=none) gets nothing
cat > "$T/askpass" <<EOF
#!/bin/sh
[ "\${SSH_ASKPASS_PROMPT:-}" = none ] && exit 0
case "\$1" in
*Password:*) echo "$PW" ;;
*) exit 1 ;;
esac
EOF
chmod +x "$T/askpass"
printf 'ls /\n' > "$T/ls.b"
echo 0 > "$T/counter"
# sk_sftp USER [VAR=VALUE...]: OpenSSH sftp with the security key
sk_sftp() {
	u=$1; shift
	env SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force \
		SK_SOFT_COUNTER_FILE="$T/counter" SK_SOFT_LOG="$T/sk.log" "$@" \
		timeout 60 sftp -q -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
		-o LogLevel=ERROR -o IdentitiesOnly=yes -o BatchMode=no \
		-o SecurityKeyProvider="$SO" -P "$PORT" -i "$T/keys/$u" -b "$T/ls.b" \
		"$u@127.0.0.1" </dev/null >/dev/null 2>&1
}
wait_audit() {
	for _ in $(seq 30); do audit_has "$@" && return 0; sleep 0.2; done
	return 1
}

check "ed25519-sk key with touch + password logs in" sk_sftp ann
check "the token signed (SecurityKeyProvider was used)" grep -q 'op=sign alg=ed25519' "$T/sk.log"
check "audit: auth.login names security-key,password" wait_audit auth.login ok ann "security-key,password"
check "again: the counter grew" sk_sftp ann

check "no presence flag: refused" eval '! sk_sftp ann SK_SOFT_FLAGS=0'
check "audit: touch not asserted" wait_audit auth.failed denied ann "user presence (touch) not asserted"

check "a counter that goes backwards: refused" eval '! sk_sftp ann SK_SOFT_COUNTER=1'
check "audit: the counter did not grow" wait_audit auth.failed denied ann "signature counter 1 did not grow"
check "the counter growing again is accepted" sk_sftp ann

check "ecdsa-sk on a verify-required key, touch but no PIN: refused" eval '! sk_sftp ben SK_SOFT_FLAGS=0x01'
check "audit: verification not asserted" wait_audit auth.failed denied ben "user verification (PIN) not asserted"
check "ecdsa-sk with touch and PIN logs in" sk_sftp ben SK_SOFT_FLAGS=0x05
check "audit: ben's login" wait_audit auth.login ok ben "security-key,password"

check "no-touch-required: a signature without touch is accepted" sk_sftp cat SK_SOFT_FLAGS=0

check "a plain key where the role asks for a security key: refused" sh -c \
	"! SSH_ASKPASS='$T/askpass' SSH_ASKPASS_REQUIRE=force timeout 30 sftp -q -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=no -o IdentitiesOnly=yes -P $PORT -i $T/keys/dan -b $T/ls.b dan@127.0.0.1 </dev/null >/dev/null 2>&1"
check "audit: the role requires a security key" wait_audit auth.failed denied dan "require a FIDO security key"
check "counters are kept by the master under STATE/auth/sk" sh -c "ls '$STATE'/auth/sk/ann/*.count >/dev/null"
check "the daemon still serves" sk_sftp ann

finish
