#!/bin/sh
# tests/sk/sk_soft.so, the software FIDO2 authenticator of the tests,
# driven by the real OpenSSH tools: ssh-keygen enrols ed25519-sk and
# ecdsa-sk keys with it (-w), signs with them (-Y sign, through -w and
# through SSH_SK_PROVIDER) and verifies the signatures (-Y verify with an
# allowed_signers file). The provider runs inside ssh-sk-helper, which
# inherits the environment: SK_SOFT_FLAGS, SK_SOFT_COUNTER,
# SK_SOFT_COUNTER_FILE and SK_SOFT_PIN set what it signs; the flags and
# counter are read back from the signature both by OpenSSH (ssh-keygen -vv
# prints the signature details) and by decoding the SSHSIG here. Under
# make check-valgrind ssh-sk-helper, with the provider in it, runs under
# valgrind. No relgated: this proves the provider the other tests use.
set -eu

: "${top_builddir:?run through make check}"
: "${top_srcdir:?run through make check}"
# make check-valgrind points top_builddir at a folder of relgate programs
# only; RG_SK_SOFT (tests/sk/Makefile.inc) names the real build's provider.
SK=${RG_SK_SOFT:-$top_builddir/tests/sk/sk_soft.so}
PY=/usr/bin/python3
FAILS=0

if ! command -v ssh-keygen >/dev/null || [ ! -x /usr/lib/openssh/ssh-sk-helper ]; then
	echo "SKIP: OpenSSH client with ssh-sk-helper not installed"
	exit 77
fi
[ -f "$SK" ] || { echo "FAIL - $SK not built (make check builds it)"; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/relgate-sk.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"

pass() { echo "ok - $*"; }
fail() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }
check() { # check DESCRIPTION COMMAND...
	d=$1; shift
	if "$@"; then pass "$d"; else fail "$d"; fi
}

# Nothing here may wait for a terminal: every PIN prompt goes to this
# askpass, which answers $ASKPASS_ANSWER and records the prompt.
cat > askpass <<'EOF'
#!/bin/sh
printf '%s\n' "$1" >> "$SK_T/askpass.log"
printf '%s\n' "${ASKPASS_ANSWER-}"
EOF
chmod 755 askpass
SK_T=$T SSH_ASKPASS=$T/askpass SSH_ASKPASS_REQUIRE=force ASKPASS_ANSWER=
SK_SOFT_LOG=$T/sk.log
export SK_T SSH_ASKPASS SSH_ASKPASS_REQUIRE ASKPASS_ANSWER SK_SOFT_LOG
unset SK_SOFT_FLAGS SK_SOFT_COUNTER SK_SOFT_COUNTER_FILE SK_SOFT_PIN \
    SSH_SK_PROVIDER SSH_SK_HELPER DISPLAY 2>/dev/null || :
# make check-valgrind (RG_VALGRIND): the provider is C code of ours, so
# ssh-sk-helper, which loads it, runs under valgrind memcheck too, logging
# where tests/valgrind-run.sh looks for errors (SSH_SK_HELPER: OpenSSH's
# way to name another helper). valgrind shows its client's
# /proc/self/exe, so the log still says exe=ssh-sk-helper.
if [ -n "${RG_VALGRIND:-}" ] && [ -n "${RG_VG_LOGDIR:-}" ]; then
	cat > vg-sk-helper <<EOF
#!/bin/sh
exec valgrind --leak-check=full --errors-for-leak-kinds=definite \\
    --num-callers=30 --suppressions="$top_srcdir/tests/valgrind.supp" \\
    --log-file="$RG_VG_LOGDIR/ssh-sk-helper.%p.log" \\
    /usr/lib/openssh/ssh-sk-helper "\$@"
EOF
	chmod 755 vg-sk-helper
	SSH_SK_HELPER=$T/vg-sk-helper
	export SSH_SK_HELPER
fi
: > askpass.log
: > sk.log
printf 'release notes\n' > msg

# enrol TYPE FILE [ssh-keygen options...]: provider given with -w
enrol() {
	t=$1 f=$2
	shift 2
	ssh-keygen -q -t "$t" -w "$SK" -N '' -C "$f@test" -f "$f" "$@" </dev/null
}
# sign KEY [VAR=VALUE...]: KEY signs msg into msg.sig, provider given with
# -w, the provider's environment plus VAR=VALUE
sign() {
	k=$1
	shift
	rm -f msg.sig
	env "$@" ssh-keygen -q -Y sign -n file -f "$k" -w "$SK" msg </dev/null 2>err
}
# verify KEY [FILE]: ssh-keygen -Y verify of msg.sig over FILE (msg), with
# OpenSSH's view of the signature ("counter = N, flags = 0xNN") in details
verify() {
	echo "alice $(cat "$1.pub")" > allowed_signers
	ssh-keygen -vv -Y verify -f allowed_signers -I alice -n file \
	    -s msg.sig < "${2:-msg}" > out 2> details
}
# (OpenSSH ends its log lines on stderr with CR LF)
details() { tr -d '\r' < details | sed -n 's/.*signature details: //p'; }
# sig_fields: "TYPE FLAGS COUNTER" of msg.sig, decoded here (PROTOCOL.sshsig,
# PROTOCOL.u2f): "SSHSIG", u32 version, publickey, namespace, reserved,
# hash algorithm, then the signature: string type, string sig, byte
# flags, u32 counter; "- - -" when there is none.
sig_fields() {
	$PY - msg.sig 2>/dev/null <<'EOF' || echo "- - -"
import base64, struct, sys
lines = open(sys.argv[1]).read().split("\n")
b = base64.b64decode("".join(l for l in lines if l and not l.startswith("-----")))
assert b[:6] == b"SSHSIG", "magic"
def string(buf, p):
    n = struct.unpack(">I", buf[p:p + 4])[0]
    assert p + 4 + n <= len(buf)
    return buf[p + 4:p + 4 + n], p + 4 + n
pos = 10
for _ in range(4):
    _, pos = string(b, pos)
sig, pos = string(b, pos)
assert pos == len(b), "trailing data"
t, p = string(sig, 0)
_, p = string(sig, p)
assert p + 5 == len(sig), "signature length"
counter = struct.unpack(">I", sig[p + 1:p + 5])[0]
print("%s 0x%02x %d" % (t.decode(), sig[p], counter))
EOF
}
flags_of() { sig_fields | cut -d' ' -f2; }
counter_of() { sig_fields | cut -d' ' -f3; }
lastlog() { tail -n 1 sk.log; }

for kt in ed25519-sk ecdsa-sk; do
	case $kt in
	ed25519-sk) name=sk-ssh-ed25519@openssh.com alg=ed25519 k=ked ;;
	ecdsa-sk) name=sk-ecdsa-sha2-nistp256@openssh.com alg=ecdsa k=kec ;;
	esac

	check "$kt: ssh-keygen -w enrols a key, no terminal" enrol $kt $k
	check "$kt: the public key is a $name key for ssh:" \
	    $PY -c 'import base64, sys
f = open(sys.argv[1]).read().split()
b = base64.b64decode(f[1])
sys.exit(not (f[0] == sys.argv[2] and b.endswith(b"\0\0\0\4ssh:")))' $k.pub $name
	check "$kt: the provider enrolled it inside ssh-sk-helper" \
	    grep -q "^op=enroll alg=$alg app=ssh: keyflags=0x01 result=ok exe=ssh-sk-helper$" sk.log
	check "$kt: nothing asked for a PIN" [ ! -s askpass.log ]

	# default flags, and the Unix time as counter
	before=$(date +%s)
	check "$kt: ssh-keygen -Y sign -w signs" sign $k
	after=$(date +%s)
	check "$kt: ssh-keygen -Y verify accepts the signature" verify $k
	check "$kt: ... and says so" grep -q "^Good \"file\" signature for alice with" out
	set -- $(sig_fields)
	check "$kt: the signature is a $name signature" [ "$1" = "$name" ]
	check "$kt: its flags are 0x05 (user present, verified) by default" [ "$2" = 0x05 ]
	check "$kt: its counter is the Unix time by default" [ "$3" -ge "$before" -a "$3" -le "$after" ]
	check "$kt: OpenSSH reads the same flags and counter" \
	    [ "$(details)" = "counter = $3, flags = 0x05" ]
	check "$kt: SK_SOFT_LOG has the signature, made in ssh-sk-helper" \
	    [ "$(lastlog)" = "op=sign alg=$alg app=ssh: keyflags=0x01 flags=0x05 counter=$3 result=ok exe=ssh-sk-helper" ]

	# a signature over other bytes is refused: verify really checks
	printf 'release notez\n' > msg2
	check "$kt: ssh-keygen -Y verify refuses the signature for other data" \
	    eval '! verify $k msg2'
	check "$kt: ... and says so" grep -q "^Could not verify signature" out

	# fixed flags and counter, the provider through SSH_SK_PROVIDER
	rm -f msg.sig
	check "$kt: SSH_SK_PROVIDER, SK_SOFT_FLAGS=0, SK_SOFT_COUNTER=4242: signs" \
	    env SSH_SK_PROVIDER="$SK" SK_SOFT_FLAGS=0 SK_SOFT_COUNTER=4242 \
	    ssh-keygen -q -Y sign -n file -f $k msg </dev/null
	check "$kt: the signature has flags 0x00 and counter 4242" \
	    [ "$(sig_fields | cut -d' ' -f2,3)" = "0x00 4242" ]
	# OpenSSH 9.2's -Y verify checks no flag (its allowed_signers has no
	# touch option); sshd, and relgated, refuse a signature without user
	# presence. What is proven here: those flags are what was signed.
	check "$kt: ssh-keygen -Y verify accepts it" verify $k
	check "$kt: ... OpenSSH reads counter 4242, flags 0x00" \
	    [ "$(details)" = "counter = 4242, flags = 0x00" ]
	check "$kt: SK_SOFT_LOG has flags 0x00, counter 4242" \
	    [ "$(lastlog)" = "op=sign alg=$alg app=ssh: keyflags=0x01 flags=0x00 counter=4242 result=ok exe=ssh-sk-helper" ]

	check "$kt: SK_SOFT_FLAGS=0x01 (hex) signs" sign $k SK_SOFT_FLAGS=0x01
	check "$kt: ... with flags 0x01, which verify" \
	    eval '[ "$(flags_of)" = 0x01 ] && verify $k'
	check "$kt: SK_SOFT_FLAGS=4 (decimal) signs with flags 0x04" \
	    eval 'sign $k SK_SOFT_FLAGS=4 && [ "$(flags_of)" = 0x04 ]'
	check "$kt: a malformed SK_SOFT_FLAGS fails the signature" \
	    eval '! sign $k SK_SOFT_FLAGS=0x1zz'
	check "$kt: ... logged as such" \
	    [ "$(lastlog | sed 's/.*result=//')" = "error-bad-SK_SOFT_FLAGS exe=ssh-sk-helper" ]
	check "$kt: SK_SOFT_FLAGS=256 (not a byte) fails the signature" \
	    eval '! sign $k SK_SOFT_FLAGS=256'

	# the counter file: N in it, N+1 signed and stored
	echo 41 > ctr
	check "$kt: SK_SOFT_COUNTER_FILE holding 41: signs with counter 42" \
	    eval 'sign $k SK_SOFT_COUNTER_FILE=$T/ctr && [ "$(counter_of)" = 42 ]'
	check "$kt: ... and the file now holds 42" [ "$(cat ctr)" = 42 ]
	check "$kt: the next signature has 43" \
	    eval 'sign $k SK_SOFT_COUNTER_FILE=$T/ctr && [ "$(counter_of)" = 43 ]'
	check "$kt: ... and verifies, OpenSSH reading 43" \
	    eval 'verify $k && [ "$(details)" = "counter = 43, flags = 0x05" ]'
	rm -f ctr
	check "$kt: a counter file that does not exist yet: counter 1" \
	    eval 'sign $k SK_SOFT_COUNTER_FILE=$T/ctr && [ "$(counter_of) $(cat ctr)" = "1 1" ]'
	echo 7 > ctr
	check "$kt: SK_SOFT_COUNTER wins over the file, which stays as it was" \
	    eval 'sign $k SK_SOFT_COUNTER=99 SK_SOFT_COUNTER_FILE=$T/ctr && [ "$(counter_of) $(cat ctr)" = "99 7" ]'
	echo garbage > ctr
	check "$kt: a counter file that holds no number fails the signature" \
	    eval '! sign $k SK_SOFT_COUNTER_FILE=$T/ctr'
	check "$kt: SK_SOFT_COUNTER=4294967295 (the largest) is signed" \
	    eval 'sign $k SK_SOFT_COUNTER=4294967295 && verify $k'
	check "$kt: ... OpenSSH reads it" \
	    [ "$(details)" = "counter = 4294967295, flags = 0x05" ]
	check "$kt: SK_SOFT_COUNTER=4294967296 fails the signature" \
	    eval '! sign $k SK_SOFT_COUNTER=4294967296'
done

# Another application.
check "ed25519-sk: enrols for application ssh:relgate" \
    enrol ed25519-sk kapp -O application=ssh:relgate
check "ed25519-sk: ... signs and verifies for it" eval 'sign kapp && verify kapp'
check "ed25519-sk: ... logged with that application" \
    grep -q "^op=sign alg=ed25519 app=ssh:relgate keyflags=0x01 " sk.log

# The sk-api itself, through ctypes: the version OpenSSH 9.2 accepts, and
# a key handle that works only for its algorithm and application (a token
# does not find another relying party's credential).
check "sk-api: version 0x000a0000; a handle only for its alg and application" \
    $PY - "$SK" <<'EOF'
import ctypes as C, sys
P = C.POINTER(C.c_uint8)
class Enroll(C.Structure):
    _fields_ = [("flags", C.c_uint8), ("public_key", P), ("public_key_len", C.c_size_t),
                ("key_handle", P), ("key_handle_len", C.c_size_t),
                ("signature", P), ("signature_len", C.c_size_t),
                ("attestation_cert", P), ("attestation_cert_len", C.c_size_t),
                ("authdata", P), ("authdata_len", C.c_size_t)]
class Sign(C.Structure):
    _fields_ = [("flags", C.c_uint8), ("counter", C.c_uint32),
                ("sig_r", P), ("sig_r_len", C.c_size_t),
                ("sig_s", P), ("sig_s_len", C.c_size_t)]
lib = C.CDLL(sys.argv[1])
lib.sk_api_version.restype = C.c_uint32
assert lib.sk_api_version() & 0xffff0000 == 0x000a0000
lib.sk_enroll.argtypes = [C.c_uint32, C.c_char_p, C.c_size_t, C.c_char_p, C.c_uint8,
                          C.c_char_p, C.c_void_p, C.POINTER(C.POINTER(Enroll))]
lib.sk_sign.argtypes = [C.c_uint32, C.c_char_p, C.c_size_t, C.c_char_p, P, C.c_size_t,
                        C.c_uint8, C.c_char_p, C.c_void_p, C.POINTER(C.POINTER(Sign))]
for alg, pklen, other in ((0, 65, 1), (1, 32, 0)):
    e = C.POINTER(Enroll)()
    assert lib.sk_enroll(alg, b"c" * 32, 32, b"ssh:a", 1, None, None, C.byref(e)) == 0
    assert e.contents.public_key_len == pklen and e.contents.flags == 1
    h, hl = e.contents.key_handle, e.contents.key_handle_len
    s = C.POINTER(Sign)()
    assert lib.sk_sign(alg, b"m", 1, b"ssh:a", h, hl, 1, None, None, C.byref(s)) == 0
    assert lib.sk_sign(alg, b"m", 1, b"ssh:b", h, hl, 1, None, None, C.byref(s)) == -1
    assert lib.sk_sign(other, b"m", 1, b"ssh:a", h, hl, 1, None, None, C.byref(s)) == -1
    assert lib.sk_sign(alg, b"m", 1, b"ssh:a", h, hl - 1, 1, None, None, C.byref(s)) == -1
    h[0] ^= 0x40
    assert lib.sk_sign(alg, b"m", 1, b"ssh:a", h, hl, 1, None, None, C.byref(s)) == -1
# a required option it does not know is refused, as PROTOCOL.u2f asks
class Opt(C.Structure):
    _fields_ = [("name", C.c_char_p), ("value", C.c_char_p), ("required", C.c_uint8)]
o = Opt(b"frobnicate", b"1", 1)
opts = (C.POINTER(Opt) * 2)(C.pointer(o), None)
e = C.POINTER(Enroll)()
assert lib.sk_enroll(1, b"c", 1, b"ssh:", 1, None, opts, C.byref(e)) == -2
EOF

# verify-required keys with an authenticator that has a PIN: enrolment
# asks for the PIN (askpass), each signature too; a wrong PIN fails.
SK_SOFT_PIN=2468
export SK_SOFT_PIN
: > askpass.log
ASKPASS_ANSWER=2468
check "verify-required: enrols with the PIN from askpass" \
    enrol ecdsa-sk kuv -O verify-required
check "verify-required: ssh-keygen asked for the authenticator's PIN" \
    grep -q "^Enter PIN for authenticator" askpass.log
check "verify-required: the first enrolment try was refused for the PIN" \
    grep -q "^op=enroll alg=ecdsa app=ssh: keyflags=0x05 result=pin-required" sk.log
ASKPASS_ANSWER=1111
check "verify-required: a wrong PIN fails enrolment" \
    eval '! enrol ed25519-sk kuv2 -O verify-required'
: > askpass.log
ASKPASS_ANSWER=2468
check "verify-required: signs with the PIN from askpass, and verifies" \
    eval 'sign kuv && verify kuv'
check "verify-required: ssh-keygen -Y sign asked for the key's PIN" \
    grep -q "^Enter PIN for ECDSA-SK key" askpass.log
check "verify-required: the key's flags say so (0x05), the signature's too" \
    grep -q "^op=sign alg=ecdsa app=ssh: keyflags=0x05 flags=0x05 .* result=ok" sk.log
ASKPASS_ANSWER=1357
check "verify-required: a wrong PIN fails the signature" eval '! sign kuv'
check "verify-required: ... logged as pin-required" \
    [ "$(lastlog | sed 's/.*result=//')" = "pin-required exe=ssh-sk-helper" ]
ASKPASS_ANSWER=
check "a key that is not verify-required signs without the PIN" \
    eval 'sign ked && verify ked'
unset SK_SOFT_PIN

# Resident keys: none to load, none made.
check "ssh-keygen -K: no resident keys to download" \
    sh -c 'ssh-keygen -K -w "$1" </dev/null 2>&1 | grep -q "No keys to download"' - "$SK"
check "ssh-keygen -O resident: enrolment refused as unsupported" \
    sh -c 'ssh-keygen -q -t ed25519-sk -O resident -w "$1" -N "" -f kres </dev/null 2>&1 | grep -q "requested feature not supported"' - "$SK"
check "... no key file left" [ ! -e kres ]

if [ "$FAILS" -ne 0 ]; then
	echo "---- sk.log"; cat sk.log
	echo "$FAILS check(s) failed"
	exit 1
fi
echo "all checks passed"
