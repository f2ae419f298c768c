# tests/integration/ssh_lib.sh — sourced by the ssh_*.sh tests: a temporary
# config and state directory, a relgated on a free 127.0.0.1 port, users
# with keys made at run time, and helpers to assert on the audit trail.
# Everything made here is removed on exit; only the daemon we started is
# stopped (by its pid).
# Layered authentication is on (mfa_lib.sh): every role signs in with its
# key and the run's password unless a test gives its own auth: block;
# enroll_totp USER keeps a TOTP secret for the clients.

set -eu

: "${top_builddir:?run through make check}"
: "${top_srcdir:?run through make check}"
RELGATED=$top_builddir/relgated
RELGATE=$top_builddir/relgate
PY=/usr/bin/python3
# Waits are tuned for native speed; make check-valgrind sets RG_SLOW (a
# factor) and the polling loops below wait that many times longer.
SLOW=${RG_SLOW:-1}
CLIENT=$top_srcdir/tests/integration/ssh_client.py
. "$top_srcdir/tests/integration/mfa_lib.sh"

T=$(mktemp -d "${TMPDIR:-/tmp}/relgate-ssh.XXXXXX")
ETC=$T/etc
STATE=$T/state
LOG=$T/relgated.log
PID=
FAILS=0
mkdir -p "$ETC/users" "$ETC/contracts" "$ETC/keys/pgp"
mfa_setup "$T"

cleanup() {
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
		kill -TERM "$PID" 2>/dev/null || :
		for _ in $(seq $((50 * SLOW))); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$PID" 2>/dev/null || :
	fi
	# GnuPG agents the worker, the demo or a test started
	for h in "$STATE/gnupg" "$T"/demo/state/gnupg "$T"/demo/client/*/gnupg; do
		[ -d "$h" ] && gpgconf --homedir "$h" --kill all >/dev/null 2>&1 || :
	done
	if [ "$FAILS" -ne 0 ] || [ -n "${KEEP_LOG:-}" ]; then
		echo "---- relgated log"; cat "$LOG" 2>/dev/null || :
	fi
	rm -rf "$T"
}
trap cleanup EXIT

free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
PORT=$(free_port)

# write_config [extra yaml lines...]: with MFA_AUTH_YAML (key and
# password for every role) unless a line of the caller's is an auth: block
write_config() {
	mfa_auth=$MFA_AUTH_YAML
	for l in "$@"; do
		case $l in auth:*) mfa_auth= ;; esac
	done
	{
		echo "listen: 127.0.0.1"
		echo "port: $PORT"
		echo "state_dir: $STATE"
		echo "log: stderr"
		for l in "$@"; do echo "$l"; done
		[ -z "$mfa_auth" ] || echo "$mfa_auth"
	} > "$ETC/relgate.yaml"
}

# add_user NAME ROLES ORG [extra yaml lines...]: key in $T/keys/NAME, the
# run's password
add_user() {
	name=$1 roles=$2 org=$3
	shift 3
	mkdir -p "$T/keys"
	[ -f "$T/keys/$name" ] || ssh-keygen -q -t ed25519 -N '' -C "$name@test" -f "$T/keys/$name"
	{
		echo "roles: $roles"
		echo "organisation: $org"
		echo "ssh_keys:"
		echo "  - $(cat "$T/keys/$name.pub")"
		mfa_user_yaml
		for l in "$@"; do echo "$l"; done
	} > "$ETC/users/$name.yaml"
}

start_relgated() {
	"$RELGATED" -c "$ETC" -f >>"$LOG" 2>&1 &
	PID=$!
	for _ in $(seq $((100 * SLOW))); do
		if $PY -c "import socket,sys; socket.create_connection(('127.0.0.1',$PORT),0.2).close()" 2>/dev/null; then
			return 0
		fi
		kill -0 "$PID" 2>/dev/null || { cat "$LOG"; echo "relgated died"; exit 1; }
		sleep 0.1
	done
	cat "$LOG"; echo "relgated did not listen on $PORT"; exit 1
}

# BatchMode=no: batch mode turns keyboard-interactive off (sftp -b asks for
# it after this); the prompts go to the askpass (mfa_lib.sh), never a tty
SSH_OPTS="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=no -o LogLevel=ERROR -o IdentitiesOnly=yes"

# sftp_as USER BATCHFILE: OpenSSH sftp in batch mode (SSH_OPTS before -b)
sftp_as() {
	timeout 60 sftp -q $SSH_OPTS -P "$PORT" -i "$T/keys/$1" -b "$2" "$1@127.0.0.1"
}

pass() { echo "ok - $*"; }
fail() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }
check() { # check DESCRIPTION COMMAND...
	d=$1; shift
	if "$@"; then pass "$d"; else fail "$d"; fi
}

# audit_json: every record as JSON lines
audit_json() { "$RELGATE" -c "$ETC" audit list --json; }
# audit_has TYPE OUTCOME USER DETAIL-SUBSTRING: a matching record exists
audit_has() {
	audit_json | $PY -c '
import json, sys
t, o, u, d = sys.argv[1:5]
for line in sys.stdin:
    r = json.loads(line)
    if r["type"] == t and (not o or r["outcome"] == o) and \
       (not u or r["user"] == u) and (not d or d in (r["detail"] or "")):
        sys.exit(0)
sys.exit(1)' "$1" "$2" "$3" "$4"
}

finish() {
	if grep -E "AddressSanitizer|runtime error|LeakSanitizer" "$LOG" >/dev/null 2>&1; then
		fail "relgated's log shows a sanitizer report"
	fi
	if [ "$FAILS" -ne 0 ]; then
		echo "$FAILS check(s) failed"
		exit 1
	fi
	echo "all checks passed"
	exit 0
}
