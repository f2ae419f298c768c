# tests/integration/mfa_lib.sh — sourced (sh or bash): the client side of
# layered authentication for the tests that log in. relgated asks for the
# SSH key first, then, at one keyboard-interactive prompt, "Password: "
# and/or "Verification code: " (product.md, "Signing in"). Here:
#   mfa_setup DIR    a password made for this run, its yescrypt hash, an
#                    askpass program for OpenSSH in DIR, the variables
#                    the paramiko clients read (tests/integration/mfa_client.py)
#   MFA_AUTH_YAML    relgate.yaml's auth: block giving every role the key
#                    and the password: the tests log the same user in many
#                    times, and a TOTP code is accepted once per user
#   mfa_user_yaml    the password_hash: line of a user file
#   enroll_totp USER [CONFDIR]   relgate totp enroll, secret kept for askpass
#   totp_wait USER   wait for a code USER has not used yet
#   askpass_count    how many prompts the askpass has answered so far
# OpenSSH's sftp adds "-oBatchMode yes" at its -b, and batch mode turns
# keyboard-interactive off: the tests pass -o BatchMode=no before -b. No
# prompt ever waits for a terminal: SSH_ASKPASS_REQUIRE=force sends each to
# the askpass, which answers only the two prompts above.

# A yescrypt hash of $1 at libxcrypt's lowest cost (crypt_gensalt "$y$", 1):
# relgated checks the default cost in about 64 ms (330 ms under valgrind),
# too slow for the hundreds of logins of the load test. The algorithm and
# the code path are the real ones.
mfa_hash() {
	/usr/bin/python3 -c 'import ctypes, sys
lc = ctypes.CDLL("libcrypt.so.1")
lc.crypt_gensalt.restype = lc.crypt.restype = ctypes.c_char_p
s = lc.crypt_gensalt(b"$y$", 1, None, 0)
h = lc.crypt(sys.argv[1].encode(), s) if s else None
if not h or not h.startswith(b"$y$"):
    sys.exit("libcrypt made no yescrypt hash")
print(h.decode())' "$1"
}

mfa_setup() {
	RG_TEST_PASSWORD=pw-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
	RG_TEST_PASSWORD_HASH=$(mfa_hash "$RG_TEST_PASSWORD")
	RG_TEST_TOTP_DIR=$1/totp
	mkdir -p "$RG_TEST_TOTP_DIR"
	chmod 700 "$RG_TEST_TOTP_DIR"
	# The prompt is $1, "(USER@HOST) Verification code: " since OpenSSH
	# 8.9: the code is that of USER's secret. The time step answered is
	# kept in TOTP_DIR/USER.step for totp_wait. Every prompt is logged in
	# DIR/askpass.log (a refused key must be refused before any).
	MFA_ASKPASS_LOG=$1/askpass.log
	: > "$MFA_ASKPASS_LOG"
	cat > "$1/askpass" <<EOF
#!/bin/sh
printf '%s\n' "\$1" >> '$MFA_ASKPASS_LOG'
case \$1 in
*"Password:"*)
	printf '%s\n' '$RG_TEST_PASSWORD' ;;
*"Verification code:"*)
	d=\${RG_TEST_TOTP_DIR:-$RG_TEST_TOTP_DIR}
	u=\${1#\\(}; u=\${u%%@*}
	[ -s "\$d/\$u" ] || { echo "askpass: no TOTP secret for \$u" >&2; exit 1; }
	p=\${RG_TEST_TOTP_PERIOD:-30}
	step=\$((\$(date +%s) / p))
	echo "\$step" > "\$d/\$u.step"
	exec oathtool --totp -s "\${p}s" -N "@\$((step * p))" -b "\$(cat "\$d/\$u")" ;;
*)
	echo "askpass: not a prompt of the tests: \$1" >&2
	exit 1 ;;
esac
EOF
	chmod 700 "$1/askpass"
	SSH_ASKPASS=$1/askpass
	SSH_ASKPASS_REQUIRE=force
	export RG_TEST_PASSWORD RG_TEST_TOTP_DIR SSH_ASKPASS SSH_ASKPASS_REQUIRE
}

MFA_AUTH_YAML='auth:
  staff: [publickey, password]
  approver: [publickey, password]
  contractor: [publickey, password]
  officer: [publickey, password]'

mfa_user_yaml() { echo "password_hash: \"$RG_TEST_PASSWORD_HASH\""; }

# enroll_totp USER [CONFDIR]: relgate totp enroll; the base32 secret it
# prints goes to $RG_TEST_TOTP_DIR/USER, where the askpass and
# mfa_client.py find it
enroll_totp() {
	"$RELGATE" -c "${2:-$ETC}" totp enroll "$1" > "$RG_TEST_TOTP_DIR/$1.out" 2>&1 ||
	    { cat "$RG_TEST_TOTP_DIR/$1.out"; return 1; }
	sed -n 's/^secret: //p' "$RG_TEST_TOTP_DIR/$1.out" > "$RG_TEST_TOTP_DIR/$1"
	rm -f "$RG_TEST_TOTP_DIR/$1.out" "$RG_TEST_TOTP_DIR/$1.step"
	[ -s "$RG_TEST_TOTP_DIR/$1" ]
}

askpass_count() { wc -l < "$MFA_ASKPASS_LOG" | tr -d ' '; }

# totp_wait USER: relgated takes each code once; a user who logs in again
# within the same 30 s waits for the next code, as with a phone
totp_wait() {
	[ -s "$RG_TEST_TOTP_DIR/$1.step" ] || return 0
	while [ $(($(date +%s) / ${RG_TEST_TOTP_PERIOD:-30})) -le \
	    "$(cat "$RG_TEST_TOTP_DIR/$1.step")" ]; do
		sleep 1
	done
}
