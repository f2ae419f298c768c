#!/bin/sh
# relgate totp enroll|reset and relgate passwd as an operator uses them:
# the URI, the QR code (decoded with zbarimg), the secret file under
# STATE/auth and a code from oathtool; the refusals and their exit status;
# passwd through a real terminal (a pty: two prompts, no echo, a mismatch
# refused) and with --stdin; the audit records, through the audit writer
# and straight into the log; an action whose record cannot be written
# does not happen.
set -u

: "${top_srcdir:?}" "${top_builddir:?}"
R="$top_builddir/relgate"
AT="$top_builddir/audit/rg-audit-tool"
T=$(mktemp -d "${TMPDIR:-/tmp}/rg-authcli.XXXXXX")
WPID=
cleanup() {
	if [ -n "$WPID" ]; then
		kill "$WPID" 2>/dev/null
		wait "$WPID" 2>/dev/null
	fi
	for h in "$T"/state*/gnupg; do
		[ -d "$h" ] && gpgconf --homedir "$h" --kill all >/dev/null 2>&1
	done
	rm -rf "$T"
}
trap cleanup EXIT INT TERM
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# run NAME EXPECTED-STATUS ARGS...: stdout in $T/out, stderr in $T/err
run() {
	name=$1 want=$2
	shift 2
	"$R" "$@" >"$T/out" 2>"$T/err" </dev/null
	got=$?
	if [ "$got" -ne "$want" ]; then
		fail "$name: exit $got, want $want"
		sed 's/^/  out: /' "$T/out"
		sed 's/^/  err: /' "$T/err"
	fi
}
errhas() { grep -q -- "$2" "$T/err" || fail "$1: stderr lacks '$2': $(cat "$T/err")"; }
mode() { stat -c %a "$1" 2>/dev/null; }

# A configuration directory with two users; state made on first use.
E=$T/etc
S=$T/state
mkdir -p "$E/users"
printf 'state_dir: %s\n' "$S" >"$E/relgate.yaml"
for u in acme-ana iam-jo; do
	printf 'roles: [staff]\norganisation: dept\n' >"$E/users/$u.yaml"
done

# The text QR code back to an image for zbarimg: plain half blocks
# (light modules drawn) or, from a terminal, ANSI-coloured upper half
# blocks (foreground 30 = dark top module, background 40 = dark bottom).
cat >"$T/qr2pbm.py" <<'EOF'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
rows = []
for line in text.split("\n"):
    line = line.rstrip("\r")
    cells = re.findall(r"\x1b\[(\d+);(\d+)m\u2580", line)
    if cells:
        rows.append([1 if a == "30" else 0 for a, b in cells])
        rows.append([1 if b == "40" else 0 for a, b in cells])
    elif line and set(line) <= set(" \u2580\u2584\u2588"):
        rows.append([0 if c in "\u2580\u2588" else 1 for c in line])
        rows.append([0 if c in "\u2584\u2588" else 1 for c in line])
if len(rows) < 42:
    sys.exit("no QR block (%d module rows)" % len(rows))
w = len(rows[0])
if any(len(r) != w for r in rows):
    sys.exit("ragged QR block")
# the quiet zone: the outer 4 modules all light
for r in rows[:4] + rows[-5:-1]:
    if any(r):
        sys.exit("no quiet zone above or below")
if any(any(r[:4]) or any(r[-4:]) for r in rows):
    sys.exit("no quiet zone left or right")
s = 6
with open(sys.argv[2], "w") as f:
    f.write("P1\n%d %d\n" % (w * s, len(rows) * s))
    for r in rows:
        line = " ".join(str(v) for v in r for _ in range(s))
        for _ in range(s):
            f.write(line + "\n")
EOF
# qr_is NAME FILE URI: the QR code in FILE decodes to URI
qr_is() {
	python3 "$T/qr2pbm.py" "$2" "$T/qr.pbm" || { fail "$1: QR block"; return; }
	if command -v zbarimg >/dev/null 2>&1; then
		got=$(zbarimg --raw -q "$T/qr.pbm" 2>/dev/null)
		[ "$got" = "$3" ] || fail "$1: QR decodes to '$got', want '$3'"
	else
		echo "note: no zbarimg (zbar-tools): QR shape checked, not decoded"
	fi
}

# ---- totp enroll ------------------------------------------------------
run enroll 0 -c "$E" totp enroll acme-ana
uri=$(head -n 1 "$T/out")
secret=$(sed -n 's/^secret: \([A-Z2-7]*\)$/\1/p' "$T/out")
case $uri in
otpauth://totp/relgate:acme-ana\?secret=$secret\&issuer=relgate\&algorithm=SHA1\&digits=6\&period=30) ;;
*) fail "enroll: URI '$uri' (secret '$secret')" ;;
esac
[ ${#secret} -eq 32 ] || fail "enroll: secret '$secret' is not 160 bits of base32"
qr_is enroll "$T/out" "$uri"
grep -q "$(printf '\033')" "$T/out" && fail "enroll: colour codes in a file"
f=$S/auth/totp/acme-ana.secret
[ "$(mode "$f")" = 600 ] || fail "enroll: secret file mode $(mode "$f")"
[ "$(mode "$S/auth")" = 700 ] || fail "enroll: auth folder mode $(mode "$S/auth")"
[ "$(mode "$S/auth/totp")" = 700 ] || fail "enroll: totp folder mode"
[ "$(stat -c %s "$f")" = 20 ] || fail "enroll: secret is not 20 bytes"
# what the app computes from the secret
code=$(oathtool --totp -b "$secret") || fail "oathtool refused the secret"
echo "$code" | grep -qx '[0-9]\{6\}' || fail "oathtool code '$code'"
# ... is the same as from the bytes on disk
hex=$(od -An -tx1 "$f" | tr -d ' \n')
[ "$(oathtool --totp "$hex")" = "$(oathtool --totp -b "$secret")" ] ||
	fail "the printed secret is not the stored one"
sum1=$(sha256sum <"$f")

# enrolled already: refused, the secret kept; --force replaces it
run enroll-again 1 -c "$E" totp enroll acme-ana
errhas enroll-again "enrolled already"
errhas enroll-again "--force"
[ -s "$T/out" ] && fail "enroll-again printed: $(cat "$T/out")"
[ "$(sha256sum <"$f")" = "$sum1" ] || fail "enroll-again changed the secret"
run enroll-force 0 totp enroll acme-ana --force -c "$E"
secret2=$(sed -n 's/^secret: \([A-Z2-7]*\)$/\1/p' "$T/out")
[ -n "$secret2" ] && [ "$secret2" != "$secret" ] ||
	fail "enroll --force: secret '$secret2' (was '$secret')"
[ "$(sha256sum <"$f")" != "$sum1" ] || fail "enroll --force kept the file"
[ "$(mode "$f")" = 600 ] || fail "enroll --force: mode $(mode "$f")"

# unknown user, bad name, bad usage
run unknown 2 -c "$E" totp enroll nobody
errhas unknown "no user 'nobody'"
[ -e "$S/auth/totp/nobody.secret" ] && fail "unknown user enrolled"
run badname 2 -c "$E" totp enroll ../etc/acme-ana
run usage 2 -c "$E" totp enroll
run usage2 2 -c "$E" totp frobnicate acme-ana
run usage3 2 -c "$E" totp reset acme-ana --force

# From a terminal: colours, so that it scans off a dark or light screen.
timeout 60 python3 - "$R" "$E" "$T/tty.txt" <<'EOF'
import os, pty, sys
r, e, out = sys.argv[1:4]
pid, fd = pty.fork()
if pid == 0:
    os.environ.pop("NO_COLOR", None)
    os.execv(r, [r, "-c", e, "totp", "enroll", "iam-jo"])
data = b""
while True:
    try:
        b = os.read(fd, 65536)
    except OSError:
        break
    if not b:
        break
    data += b
_, st = os.waitpid(pid, 0)
open(out, "wb").write(data)
sys.exit(os.waitstatus_to_exitcode(st))
EOF
[ $? -eq 0 ] || fail "enroll on a terminal: exit status"
grep -q "$(printf '\033')\[30;107m" "$T/tty.txt" || fail "tty: no colours"
uri=$(grep -a '^otpauth://' "$T/tty.txt" | tr -d '\r')
qr_is tty "$T/tty.txt" "$uri"

# ---- totp reset -------------------------------------------------------
run reset 0 -c "$E" totp reset acme-ana
[ -e "$f" ] && fail "reset left the secret"
run reset-again 1 -c "$E" totp reset acme-ana
errhas reset-again "not enrolled"
run reset-unknown 2 -c "$E" totp reset nobody

# ---- passwd --stdin ---------------------------------------------------
p() { printf '%s' "$1" | "$R" -c "$E" passwd acme-ana --stdin 2>"$T/err"; }
h1=$(p 'correct horse battery staple
') || fail "passwd --stdin: exit $?"
h2=$(p 'correct horse battery staple') || fail "passwd --stdin (no newline)"
echo "$h1" | grep -qx 'password_hash: \$y\$[./A-Za-z0-9]\{1,\}\$[./A-Za-z0-9]\{1,\}\$[./A-Za-z0-9]\{43\}' ||
	fail "passwd: line '$h1'"
[ "$(echo "$h1" | wc -l)" -eq 1 ] || fail "passwd: more than one line"
salt1=$(echo "$h1" | cut -d'$' -f4)
salt2=$(echo "$h2" | cut -d'$' -f4)
[ -n "$salt1" ] && [ "$salt1" != "$salt2" ] || fail "passwd: same salt twice"
out=$(printf '\n' | "$R" -c "$E" passwd acme-ana --stdin 2>"$T/err")
[ $? -eq 1 ] && [ -z "$out" ] || fail "passwd: empty password accepted"
errhas passwd-empty "empty password"
out=$("$R" -c "$E" passwd acme-ana --stdin </dev/null 2>"$T/err")
[ $? -eq 1 ] && [ -z "$out" ] || fail "passwd: no input accepted"
out=$(printf 'x\n' | "$R" -c "$E" passwd nobody --stdin 2>"$T/err")
[ $? -eq 2 ] && [ -z "$out" ] || fail "passwd: unknown user"

# ---- passwd on a terminal ---------------------------------------------
cat >"$T/passwd_tty.py" <<'EOF'
import os, pty, select, signal, sys, time
r, e, first, second = sys.argv[1:5]
pid, fd = pty.fork()
if pid == 0:
    os.execv(r, [r, "-c", e, "passwd", "iam-jo"])
def until(text, buf=[b""]):
    end = time.time() + 30
    while text not in buf[0]:
        if not select.select([fd], [], [], max(0, end - time.time()))[0]:
            os.kill(pid, signal.SIGKILL)
            sys.exit("timed out waiting for %r; got %r" % (text, buf[0]))
        try:
            b = os.read(fd, 4096)
        except OSError:
            break
        if not b:
            break
        buf[0] += b
    return buf[0]
until(b"New password for iam-jo: ")
os.write(fd, first.encode() + b"\n")
until(b"Retype the new password: ")
os.write(fd, second.encode() + b"\n")
data = until(b"\0")		# to the end of output
_, st = os.waitpid(pid, 0)
sys.stdout.write(data.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(st))
EOF
python3 "$T/passwd_tty.py" "$R" "$E" 'Tr0ub4dor&3' 'Tr0ub4dor&3' >"$T/pty.txt"
[ $? -eq 0 ] || fail "passwd tty: exit status: $(cat "$T/pty.txt")"
grep -q "Retype the new password:" "$T/pty.txt" || fail "passwd tty: asked once"
grep -q 'Tr0ub4dor' "$T/pty.txt" && fail "passwd tty: the password was echoed"
grep -aq '^password_hash: \$y\$' "$T/pty.txt" || fail "passwd tty: no hash: $(cat "$T/pty.txt")"
python3 "$T/passwd_tty.py" "$R" "$E" 'Tr0ub4dor&3' 'Tr0ub4dor&4' >"$T/pty.txt"
[ $? -eq 1 ] || fail "passwd tty mismatch: exit status"
grep -q "do not match" "$T/pty.txt" || fail "passwd tty mismatch: $(cat "$T/pty.txt")"
grep -q 'password_hash' "$T/pty.txt" && fail "passwd tty mismatch: a hash"

# ---- the audit trail ----------------------------------------------------
"$R" -c "$E" audit list --json >"$T/audit.json" 2>"$T/err" || fail "audit list"
n() { grep -c "$1" "$T/audit.json"; }
[ "$(n '"type":"auth.enrolled","outcome":"ok","user":"acme-ana".*"detail":"totp"')" -eq 2 ] ||
	fail "audit: want 2 totp enrolments of acme-ana: $(cat "$T/audit.json")"
[ "$(n '"type":"auth.enrolled","outcome":"ok","user":"iam-jo".*"detail":"totp"')" -eq 1 ] ||
	fail "audit: want 1 totp enrolment of iam-jo"
[ "$(n '"type":"auth.reset","outcome":"ok","user":"acme-ana".*"detail":"totp"')" -eq 1 ] ||
	fail "audit: want 1 reset"
[ "$(n '"type":"auth.enrolled","outcome":"ok","user":"acme-ana".*"detail":"password hash issued; takes effect when written to users/acme-ana.yaml"')" -eq 2 ] ||
	fail "audit: want 2 password hashes for acme-ana"
[ "$(n '"user":"iam-jo".*"detail":"password hash issued')" -eq 1 ] ||
	fail "audit: want 1 password hash for iam-jo (the mismatch is not one)"
[ "$(n '"source":"local uid ')" -eq "$(grep -c '"type":"auth\.' "$T/audit.json")" ] ||
	fail "audit: records without the local uid"
"$R" -c "$E" audit verify >/dev/null 2>&1 || fail "audit verify"

# Through the audit writer of a running relgated.
"$AT" serve "$S" >"$T/writer.log" 2>&1 &
WPID=$!
i=0
while [ ! -S "$S/audit/audit.sock" ]; do
	i=$((i + 1))
	[ $i -lt 600 ] || { fail "the audit writer did not start"; break; }
	sleep 0.05
done
run writer 0 -c "$E" totp reset iam-jo
kill "$WPID"
wait "$WPID" 2>/dev/null
WPID=
"$R" -c "$E" audit list --json --type auth.reset --user iam-jo >"$T/audit.json"
[ "$(n '"detail":"totp"')" -eq 1 ] || fail "writer: no auth.reset record"

# ---- no record, no action -------------------------------------------------
run pre 0 -c "$E" totp enroll iam-jo
mv "$S/audit" "$S/audit.saved"
: >"$S/audit"
run noaudit-reset 2 -c "$E" totp reset iam-jo
[ -e "$S/auth/totp/iam-jo.secret" ] || fail "noaudit: reset went ahead"
run noaudit-enroll 2 -c "$E" totp enroll acme-ana
errhas noaudit-enroll "audit"
[ -e "$S/auth/totp/acme-ana.secret" ] && fail "noaudit: secret kept"
grep -q 'otpauth\|secret:' "$T/out" && fail "noaudit: secret printed"
run noaudit-force 2 -c "$E" totp enroll iam-jo --force
[ -e "$S/auth/totp/iam-jo.secret" ] && fail "noaudit --force: secret kept"
out=$(printf 'pw\n' | "$R" -c "$E" passwd acme-ana --stdin 2>"$T/err")
[ $? -eq 2 ] && [ -z "$out" ] || fail "noaudit: passwd printed '$out'"
rm "$S/audit"
mv "$S/audit.saved" "$S/audit"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "auth_cli: all passed"
