#!/usr/bin/env bash
# Real SFTP clients against a real relgated: OpenSSH sftp (batch mode),
# scp, curl (libssh2), lftp and paramiko put and get files byte for byte;
# each role's view is checked with the file system afterwards (what was
# refused is not on disk, what was read-only is unchanged). Layered
# authentication is on (mfa_lib.sh): every role signs in with its key and
# the run's password, the officer with a TOTP code too; curl cannot (see
# its part), and is refused where a role asks for more than the key.
set -eu

: "${top_builddir:?run through make check}"
: "${top_srcdir:?run through make check}"
RELGATED=$top_builddir/relgated
RELGATE=$top_builddir/relgate
PY=/usr/bin/python3

T=$(mktemp -d "${TMPDIR:-/tmp}/rg-sftpc.XXXXXX")
ETC=$T/etc STATE=$T/state LOG=$T/relgated.log
PID= PID2= FAILS=0
cleanup() {
	for p in $PID $PID2; do
		kill -0 "$p" 2>/dev/null || continue
		kill -TERM "$p" 2>/dev/null || :
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || :
	done
	[ -d "$T/gpg" ] && gpgconf --homedir "$T/gpg" --kill all >/dev/null 2>&1
	if [ "$FAILS" -ne 0 ]; then echo "---- relgated log"; tail -40 "$LOG" 2>/dev/null || :; fi
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
. "$top_srcdir/tests/integration/mfa_lib.sh"
mfa_setup "$T"

pass() { echo "ok - $*"; }
fail() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }
check() { d=$1; shift; if "$@"; then pass "$d"; else fail "$d"; fi; }
absent() { [ ! -e "$1" ] && [ ! -L "$1" ]; }

for tool in sftp scp curl lftp oathtool; do
	command -v $tool >/dev/null || { echo "SKIP: $tool missing"; exit 77; }
done
$PY -c 'import paramiko' 2>/dev/null || { echo "SKIP: paramiko missing"; exit 77; }

PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$ETC/users" "$ETC/contracts" "$ETC/keys/pgp" "$STATE" "$T/keys"
chmod 700 "$STATE"
cat > "$ETC/relgate.yaml" <<EOF
listen: 127.0.0.1
port: $PORT
state_dir: $STATE
log: stderr
auth:
  staff: [publickey, password]
  approver: [publickey, password]
  contractor: [publickey, password]
  officer: [publickey, password, totp]
EOF
user() { # NAME ROLES ORG
	ssh-keygen -q -t ed25519 -N '' -C "$1@test" -f "$T/keys/$1"
	printf 'roles: [%s]\norganisation: %s\nssh_keys:\n  - %s\n%s\n' "$2" "$3" \
	    "$(cat "$T/keys/$1.pub")" "$(mfa_user_yaml)" > "$ETC/users/$1.yaml"
}
user staff-ann staff dwp
user staff-ben "staff, approver" dwp
user iam-jo "staff, approver" dwp
user acme-ana contractor acme-research
user beta-bo contractor beta-analytics
user sec-oli officer dwp
mkdir -p -m 700 "$T/gpg"
GNUPGHOME=$T/gpg gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
    --quick-gen-key "acme <r@acme.example>" future-default default 2y 2>/dev/null
GNUPGHOME=$T/gpg gpg --batch --armor --export > "$ETC/keys/pgp/acme.asc"
FPR=$(GNUPGHOME=$T/gpg gpg --batch --with-colons --list-keys | awk -F: '$1=="fpr"{print $10; exit}')
cat > "$ETC/contracts/TEST-1.yaml" <<EOF
id: TEST-1
version: 1
title: SFTP client test
purpose: Exercise the SFTP views.
status: active
valid_from: 2026-01-01
valid_until: 2030-12-31
contractor:
  organisation: acme-research
  assurance: {scheme: ISO27001, ref: "T-1", expires: 2030-12-31}
people: [acme-ana]
approvers: [iam-jo, staff-ben]
approvals_required: 1
recipients: [$FPR]
retention: {download_days: 14, max_downloads: 50}
datasets:
  claims:
    max_rows: 1000
    columns:
      person_id: {masking: hmac-sha256}
      age_band: {}
EOF
"$RELGATE" -c "$ETC" lint >/dev/null 2>&1 || { "$RELGATE" -c "$ETC" lint; echo "config does not lint"; exit 1; }
enroll_totp sec-oli || { echo "relgate totp enroll sec-oli failed"; exit 1; }

"$RELGATED" -c "$ETC" -f >>"$LOG" 2>&1 &
PID=$!
for _ in $(seq 100); do
	$PY -c "import socket; socket.create_connection(('127.0.0.1',$PORT),0.2).close()" 2>/dev/null && break
	kill -0 "$PID" 2>/dev/null || { cat "$LOG"; echo "relgated died"; exit 1; }
	sleep 0.1
done

# BatchMode=no before sftp's -b (batch mode turns keyboard-interactive
# off); the prompts go to mfa_lib.sh's askpass, never a terminal
OPTS="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=no -o LogLevel=ERROR -o IdentitiesOnly=yes"
# sftp_as USER: batch commands on stdin (a leading '-' lets one fail)
sftp_as() { timeout 60 sftp -q $OPTS -P "$PORT" -i "$T/keys/$1" -b - "$1@127.0.0.1" >"$T/out" 2>&1; }
SP=$STATE/spool/staff/staff-ann

# data: random binary (not a multiple of any request size) and a small CSV
head -c 5242889 /dev/urandom > "$T/big.bin"
printf 'person_id,age_band\n%s,16-24\n' "$(printf x | sha256sum | cut -c1-64)" > "$T/d.csv"

# ---- OpenSSH sftp -------------------------------------------------------
sftp_as staff-ann <<EOF || { cat "$T/out"; fail "sftp batch"; }
pwd
mkdir /requests/q1
cd /requests/q1
put $T/big.bin big.bin
put -f $T/d.csv d.csv
get big.bin $T/big.sftp
ls -l
df
rename d.csv d2.csv
rename d2.csv d.csv
EOF
check "sftp: put is on disk byte for byte" cmp -s "$T/big.bin" "$SP/q1/big.bin"
check "sftp: get gives the same bytes" cmp -s "$T/big.bin" "$T/big.sftp"
check "sftp: pwd is /" grep -q 'Remote working directory: /$' "$T/out"
check "sftp: ls -l lists the upload" grep -q 'big.bin' "$T/out"
check "sftp: df works (statvfs)" grep -q 'Avail' "$T/out"
check "sftp: file mode 0600" [ "$(stat -c %a "$SP/q1/big.bin")" = 600 ]
check "sftp: rename round trip" [ -f "$SP/q1/d.csv" ]
# the upload's audit record carries its size; a data file's SHA-256 is the
# check pass's to record (it reads the file anyway), request.yaml's below
up_rec() { # up_rec PATH FIELD: FIELD of the last ok file.upload of PATH
	"$RELGATE" -c "$ETC" audit list --type file.upload --json 2>/dev/null |
	$PY -c 'import sys, json
v = None
for l in sys.stdin:
    r = json.loads(l)
    if r["path"] == sys.argv[1] and r["outcome"] == "ok":
        v = r.get(sys.argv[2]) or ""
print(v)' "$1" "$2"
}
check "sftp: file.upload audit record has the bytes on disk" \
	[ "$(up_rec /requests/q1/big.bin bytes)" = "$(stat -c %s "$SP/q1/big.bin")" ]
echo "put $T/d.csv /requests/loose.csv" | sftp_as staff-ann && fail "put outside a folder accepted"
check "sftp: a file outside a request folder is refused (not on disk)" absent "$SP/loose.csv"
grep -q -i "permission denied" "$T/out" && pass "sftp: client reports permission denied" || fail "sftp message: $(cat "$T/out")"
echo "get /requests/../../../../etc/passwd $T/passwd" | sftp_as staff-ann && fail "traversal get succeeded"
check "sftp: ../ cannot leave the view" absent "$T/passwd"
ln -s /etc/passwd "$SP/q1/link"
ln -s "$T" "$SP/q1/dirlink"
echo "get /requests/q1/link $T/link.out" | sftp_as staff-ann && fail "symlink followed"
check "sftp: a planted symlink is not followed" absent "$T/link.out"
echo "put $T/d.csv /requests/q1/dirlink/evil.csv" | sftp_as staff-ann && fail "put through a dir symlink"
check "sftp: no write through a symlinked folder" absent "$T/evil.csv"
rm -f "$SP/q1/link" "$SP/q1/dirlink"

# ---- scp (SFTP protocol) --------------------------------------------------
if timeout 60 scp -q $OPTS -P "$PORT" -i "$T/keys/staff-ann" "$T/big.bin" \
    "staff-ann@127.0.0.1:/requests/q1/scp.bin" 2>"$T/scp.err"; then
	pass "scp: upload exits 0"
else
	fail "scp upload: $(cat "$T/scp.err")"
fi
check "scp: upload on disk byte for byte" cmp -s "$T/big.bin" "$SP/q1/scp.bin"
timeout 60 scp -q $OPTS -P "$PORT" -i "$T/keys/staff-ann" \
    "staff-ann@127.0.0.1:/requests/q1/scp.bin" "$T/scp.back" 2>"$T/scp.err" || fail "scp download: $(cat "$T/scp.err")"
check "scp: download byte for byte" cmp -s "$T/big.bin" "$T/scp.back"
timeout 60 scp -q $OPTS -P "$PORT" -i "$T/keys/staff-ann" "$T/d.csv" \
    "staff-ann@127.0.0.1:~/requests/q1/tilde.csv" 2>"$T/scp.err" || fail "scp ~/: $(cat "$T/scp.err")"
check "scp: ~/ paths (expand-path) land in the view" cmp -s "$T/d.csv" "$SP/q1/tilde.csv"
timeout 60 scp -q $OPTS -P "$PORT" -i "$T/keys/staff-ann" "$T/d.csv" \
    "staff-ann@127.0.0.1:/requests/scp-loose.csv" 2>/dev/null && fail "scp outside a folder accepted"
check "scp: refused upload not on disk" absent "$SP/scp-loose.csv"

# ---- curl (libssh2) -------------------------------------------------------
# curl cannot sign in with more than the key: libssh2 (1.10) gives up at
# the server's "partial success" ("Authentication failure") and has no
# keyboard-interactive step after it. Against a role that asks for a
# password it is refused; the audit trail says the key was accepted and
# the password never came.
CURL="curl -sS --insecure --connect-timeout 10 --max-time 60 -u staff-ann: --key $T/keys/staff-ann --pubkey $T/keys/staff-ann.pub"
$CURL -T "$T/d.csv" "sftp://127.0.0.1:$PORT/requests/q1/curl-mfa.csv" 2>"$T/curl.err" && rc=0 || rc=$?
check "curl against a key-and-password role is refused (exit $rc: $(cat "$T/curl.err"))" [ "$rc" -ne 0 ]
check "curl: nothing was written" absent "$SP/q1/curl-mfa.csv"
curl_refusal() {
	"$RELGATE" -c "$ETC" audit list --json --type auth.failed --user staff-ann 2>/dev/null |
	    grep -q "key accepted; password never presented at the keyboard-interactive prompt"
}
curl_audited() { for _ in $(seq 50); do curl_refusal && return 0; sleep 0.2; done; return 1; }
check "audit: auth.failed says the key was accepted and the password never presented" curl_audited
# The transfers themselves run against a second relgated whose roles sign
# in with the key alone: what is tested there is curl's SFTP, and that
# setting is the operator's choice for such clients.
PORT2=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ETC2=$T/etc-curl STATE2=$T/state-curl
mkdir -p "$ETC2/users" "$ETC2/contracts" "$ETC2/keys/pgp" "$STATE2"
chmod 700 "$STATE2"
cat > "$ETC2/relgate.yaml" <<EOF
listen: 127.0.0.1
port: $PORT2
state_dir: $STATE2
log: stderr
auth:
  staff: [publickey]
  approver: [publickey]
  contractor: [publickey]
  officer: [publickey]
EOF
cp "$ETC/users/staff-ann.yaml" "$ETC2/users/"
"$RELGATED" -c "$ETC2" -f >>"$LOG" 2>&1 &
PID2=$!
for _ in $(seq 100); do
	$PY -c "import socket; socket.create_connection(('127.0.0.1',$PORT2),0.2).close()" 2>/dev/null && break
	kill -0 "$PID2" 2>/dev/null || { cat "$LOG"; echo "the second relgated died"; exit 1; }
	sleep 0.1
done
SP2=$STATE2/spool/staff/staff-ann
$CURL -Q "mkdir /requests/q1" "sftp://127.0.0.1:$PORT2/requests/" >/dev/null 2>"$T/curl.err" || fail "curl mkdir: $(cat "$T/curl.err")"
check "curl: mkdir (key only)" [ -d "$SP2/q1" ]
$CURL -T "$T/big.bin" "sftp://127.0.0.1:$PORT2/requests/q1/curl.bin" 2>"$T/curl.err" || fail "curl upload: $(cat "$T/curl.err")"
check "curl: upload on disk byte for byte" cmp -s "$T/big.bin" "$SP2/q1/curl.bin"
check "curl: mode 0100644 asked, 0600 given" [ "$(stat -c %a "$SP2/q1/curl.bin")" = 600 ]
$CURL -o "$T/curl.back" "sftp://127.0.0.1:$PORT2/requests/q1/curl.bin" 2>"$T/curl.err" || fail "curl download: $(cat "$T/curl.err")"
check "curl: download byte for byte" cmp -s "$T/big.bin" "$T/curl.back"
$CURL -Q "rename /requests/q1/curl.bin /requests/q1/curl2.bin" "sftp://127.0.0.1:$PORT2/requests/q1/" >/dev/null 2>"$T/curl.err" || fail "curl rename: $(cat "$T/curl.err")"
check "curl: legacy RENAME" [ -f "$SP2/q1/curl2.bin" ]
$CURL -T "$T/d.csv" "sftp://127.0.0.1:$PORT2/requests/curl-loose.csv" 2>/dev/null && fail "curl outside a folder accepted"
check "curl: refused upload not on disk" absent "$SP2/curl-loose.csv"
check "audit: curl signed in with the key alone there" sh -c \
	"'$RELGATE' -c '$ETC2' audit list --json --type auth.login --user staff-ann | grep -q '\"detail\": *\"publickey\"'"
kill -TERM "$PID2"; wait "$PID2" || :; PID2=

# ---- lftp -----------------------------------------------------------------
LFTP_CONNECT="ssh -a -x -i $T/keys/staff-ann $OPTS"
timeout 120 lftp -c "set sftp:connect-program '$LFTP_CONNECT'; set net:max-retries 1; set net:timeout 10;
open -u staff-ann, -p $PORT sftp://127.0.0.1;
cd /requests/q1; put $T/big.bin -o lftp.bin; get lftp.bin -o $T/lftp.back; ls;
put $T/d.csv -o up.csv.filepart; mv up.csv.filepart up.csv;
mkdir /requests/lq; put $T/d.csv -o /requests/lq/d.csv; rm /requests/lq/d.csv; rmdir /requests/lq" \
    >"$T/lftp.out" 2>&1 || fail "lftp: $(cat "$T/lftp.out")"
check "lftp: upload on disk byte for byte" cmp -s "$T/big.bin" "$SP/q1/lftp.bin"
check "lftp: download byte for byte" cmp -s "$T/big.bin" "$T/lftp.back"
check "lftp: rm and rmdir removed them" absent "$SP/lq"
check "lftp: .filepart renamed into place (legacy RENAME)" cmp -s "$T/d.csv" "$SP/q1/up.csv"
check "lftp: no .filepart left" absent "$SP/q1/up.csv.filepart"

# ---- paramiko -------------------------------------------------------------
# (Transport.connect stops at the key's partial success: mfa_client.login
# answers the keyboard-interactive prompt, password and code)
cat > "$T/pm.py" <<'PY'
import errno, os, stat, sys, paramiko
port, keys, tmp, user = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
sys.path.insert(0, sys.argv[5])
from mfa_client import login
t = paramiko.Transport(("127.0.0.1", port))
t.start_client(timeout=30)
login(t, user, paramiko.Ed25519Key.from_private_key_file(os.path.join(keys, user)))
s = paramiko.SFTPClient.from_transport(t)
def code(fn, *a):
    try:
        fn(*a)
        return 0
    except IOError as e:
        return e.errno
out = []
if user == "staff-ann":
    s.mkdir("/requests/pm")
    a = s.put(os.path.join(tmp, "big.bin"), "/requests/pm/pm.bin", confirm=True)
    out.append("put %d" % a.st_size)
    s.get("/requests/pm/pm.bin", os.path.join(tmp, "pm.back"))
    out.append("list %s" % ",".join(sorted(s.listdir("/requests/pm"))))
    out.append("rm-missing %d" % code(s.remove, "/requests/pm/none"))
    out.append("other-user %d" % code(s.stat, "/requests/../../staff-ben"))
    with s.open("/requests/pm/seek.bin", "w") as f:
        f.write(b"abc")
        f.seek(10)
        f.write(b"z")
    out.append("seek %d" % s.stat("/requests/pm/seek.bin").st_size)
    try:
        s.put(os.path.join(tmp, "bad.yaml"), "/requests/pm/request.yaml")
        out.append("bad-request accepted")
    except IOError as e:
        out.append("bad-request %s" % e)
elif user == "acme-ana":
    out.append("list %s" % ",".join(s.listdir("/releases")))
    s.get("/releases/TEST-1/TEST-1-001.tar.zst.gpg", os.path.join(tmp, "rel.back"))
    out.append("put %d" % code(s.put, os.path.join(tmp, "d.csv"), "/releases/TEST-1/x.csv"))
    out.append("rm %d" % code(s.remove, "/releases/TEST-1/TEST-1-001.tar.zst.gpg"))
    out.append("rm-missing %d" % code(s.remove, "/releases/TEST-1/none"))
    out.append("mkdir %d" % code(s.mkdir, "/releases/TEST-1/d"))
elif user == "beta-bo":
    out.append("list %s" % ",".join(s.listdir("/releases")))
    out.append("stat %d" % code(s.stat, "/releases/TEST-1/TEST-1-001.tar.zst.gpg"))
elif user == "sec-oli":
    out.append("list %s" % ",".join(s.listdir("/audit")))
    s.get("/audit/2026-01-01.jsonl", os.path.join(tmp, "audit.back"))
    out.append("put %d" % code(s.put, os.path.join(tmp, "d.csv"), "/audit/x.jsonl"))
elif user == "staff-ben":
    out.append("root %s" % ",".join(s.listdir("/")))
    out.append("approvals %s" % ",".join(s.listdir("/approvals")))
s.close()
t.close()
print("\n".join(out))
PY
printf 'contract: TEST-1\nfiles: [nothere.csv]\n' > "$T/bad.yaml"
pm() { timeout 60 $PY "$T/pm.py" "$PORT" "$T/keys" "$T" "$1" "$top_srcdir/tests/integration" >"$T/pm.out" 2>&1 || { cat "$T/pm.out"; fail "paramiko $1"; }; cp "$T/pm.out" "$T/pm.$1"; }
pm staff-ann
check "paramiko: put(confirm=True) size" grep -q "^put 5242889$" "$T/pm.out"
check "paramiko: upload on disk byte for byte" cmp -s "$T/big.bin" "$SP/pm/pm.bin"
check "paramiko: download byte for byte" cmp -s "$T/big.bin" "$T/pm.back"
check "paramiko: remove of a missing file is ENOENT" grep -q "^rm-missing $(printf %d 2)$" "$T/pm.out"
check "paramiko: another user's folder does not exist" grep -q "^other-user 2$" "$T/pm.out"
check "paramiko: write past the end (sparse)" grep -q "^seek 11$" "$T/pm.out"
# (paramiko ignores the status of CLOSE: the refusal shows only on disk)
check "paramiko: bad request.yaml not submitted" absent "$SP/pm/.relgate-request"

# ---- per-role views ---------------------------------------------------------
mkdir -p "$STATE/releases/TEST-1" "$STATE/audit-export"
head -c 300000 /dev/urandom > "$STATE/releases/TEST-1/TEST-1-001.tar.zst.gpg"
echo '{"seq":1}' > "$STATE/audit-export/2026-01-01.jsonl"
cp "$STATE/releases/TEST-1/TEST-1-001.tar.zst.gpg" "$T/rel.orig"
pm acme-ana
check "contractor: sees TEST-1" grep -q "^list.*TEST-1" "$T/pm.out"
check "contractor: download byte for byte" cmp -s "$T/rel.orig" "$T/rel.back"
check "contractor: put denied (13)" grep -q "^put 13$" "$T/pm.out"
check "contractor: remove denied (13)" grep -q "^rm 13$" "$T/pm.out"
check "contractor: remove missing is ENOENT" grep -q "^rm-missing 2$" "$T/pm.out"
check "contractor: mkdir denied" grep -q "^mkdir 13$" "$T/pm.out"
check "contractor: release unchanged on disk" cmp -s "$T/rel.orig" "$STATE/releases/TEST-1/TEST-1-001.tar.zst.gpg"
check "contractor: nothing written" absent "$STATE/releases/TEST-1/x.csv"
pm beta-bo
check "other contractor: TEST-1 not listed" sh -c "grep '^list' '$T/pm.out' | grep -qv TEST-1"
check "other contractor: TEST-1 release does not exist" grep -q "^stat 2$" "$T/pm.out"
pm sec-oli
check "officer: lists the export" grep -q "^list.*2026-01-01.jsonl" "$T/pm.out"
check "officer: reads it" cmp -s "$STATE/audit-export/2026-01-01.jsonl" "$T/audit.back"
check "officer: put denied" grep -q "^put 13$" "$T/pm.out"
check "officer: nothing written" absent "$STATE/audit-export/x.jsonl"
check "audit: the officer signed in with key, password and code" sh -c \
	"'$RELGATE' -c '$ETC' audit list --json --type auth.login --user sec-oli | grep -q 'publickey,password,totp'"
pm staff-ben
check "staff+approver: one / with both areas" grep -q "^root requests,approvals$" "$T/pm.out"

# ---- submission through the real client ------------------------------------
printf 'contract: TEST-1\nfiles: [nothere.csv]\n' > "$T/bad.yaml"
printf 'contract: TEST-1\ndataset: claims\nfiles: [d.csv]\nnote: test\n' > "$T/request.yaml"
sftp_as staff-ann <<EOF || :
mkdir /requests/s1
put $T/d.csv /requests/s1/d.csv
put $T/bad.yaml /requests/s1/request.yaml
EOF
grep -q "close remote: Failure" "$T/out" && pass "sftp: a bad request.yaml is refused at close" || fail "bad request.yaml: $(cat "$T/out")"
check "bad request.yaml: not submitted" absent "$SP/s1/.relgate-request"
echo "put $T/request.yaml /requests/s1/request.yaml" | sftp_as staff-ann || fail "submit: $(cat "$T/out")"
check "submission: marker written" [ -f "$SP/s1/.relgate-request" ]
check "submission: request.yaml's file.upload record has its sha256" \
	[ "$(up_rec /requests/s1/request.yaml sha256)" = "$(sha256sum "$T/request.yaml" | cut -c1-64)" ]
echo "put $T/d.csv /requests/s1/late.csv" | sftp_as staff-ann && fail "upload into a submitted folder"
check "submitted folder is read-only (nothing new on disk)" absent "$SP/s1/late.csv"
echo "rm /requests/s1/d.csv" | sftp_as staff-ann && fail "remove in a submitted folder"
check "submitted folder: file still there" [ -f "$SP/s1/d.csv" ]

# WinSCP/lftp style: request.yaml uploaded as .filepart, then renamed into
# place; the rename submits (legacy RENAME through lftp's mv)
timeout 120 lftp -c "set sftp:connect-program '$LFTP_CONNECT'; set net:max-retries 1; set net:timeout 10;
open -u staff-ann, -p $PORT sftp://127.0.0.1;
mkdir /requests/s2; put $T/d.csv -o /requests/s2/d.csv;
put $T/request.yaml -o /requests/s2/request.yaml.filepart;
mv /requests/s2/request.yaml.filepart /requests/s2/request.yaml" >"$T/lftp2.out" 2>&1 || fail "lftp submit: $(cat "$T/lftp2.out")"
check "rename onto request.yaml submits" [ -f "$SP/s2/.relgate-request" ]
check "the renamed request.yaml is in place" cmp -s "$T/request.yaml" "$SP/s2/request.yaml"
# withdrawal: rm request.yaml of a submitted request (not yet approved)
echo "rm /requests/s2/request.yaml" | sftp_as staff-ann || fail "withdraw: $(cat "$T/out")"
check "withdrawal marker written" [ -f "$SP/s2/.relgate-withdrawn" ]
echo "ls /requests/s2" | sftp_as staff-ann || :
grep -q "request.yaml" "$T/out" && fail "withdrawn request.yaml still listed" || pass "withdrawn request.yaml no longer listed"

"$RELGATE" -c "$ETC" audit list --json > "$T/audit.json" 2>/dev/null || :
for ty in file.upload file.download access.denied request.submitted request.withdrawn; do
	check "audit has $ty" grep -q "\"type\": *\"$ty\"" "$T/audit.json"
done
check "access.denied names the path" grep -q '"/requests/loose.csv"' "$T/audit.json"
if grep -E "AddressSanitizer|runtime error|LeakSanitizer" "$LOG" >/dev/null 2>&1; then
	fail "sanitizer report in relgated's log"
fi
[ "$FAILS" -eq 0 ] || { echo "$FAILS check(s) failed"; exit 1; }
echo "all checks passed"
