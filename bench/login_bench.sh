#!/usr/bin/env bash
# Logins per second with 8 concurrent clients (paramiko: key exchange,
# sign-in, the SFTP subsystem opened, closed): relgated asking for the key
# alone against the same relgated asking for key + TOTP (the default),
# two daemons side by side in one run, rounds interleaved. The second
# factor adds a keyboard-interactive round trip and, in the master, the
# secret read and the code's time step written durably (replay guard).
# Goal (issue 11): key + TOTP costs at most 1.2x a key-only login.
#
#   bench/login_bench.sh
#
# Environment: top_builddir (default ./), CONC (8), LOGINS (160 a round),
# ROUNDS (3). Every TOTP login is a user of its own (a code is accepted
# once per user), so ROUNDS x LOGINS users are enrolled first.
set -euo pipefail
builddir=${top_builddir:-$PWD}
srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
relgated=$builddir/relgated relgate=$builddir/relgate
[ -x "$relgated" ] || { echo "no relgated in $builddir (build first)" >&2; exit 2; }
conc=${CONC:-8} logins=${LOGINS:-160} rounds=${ROUNDS:-3}
users=$((logins * rounds))
PY=/usr/bin/python3
work=$(mktemp -d "${TMPDIR:-/tmp}/relgate-login-bench.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || :; done
	sleep 0.5; rm -rf "$work"
}
trap cleanup EXIT
port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "login_bench: $conc clients at once, $logins logins a round, $rounds rounds"
mkdir -p "$work/keys" "$work/secrets"
for i in $(seq 0 $((users - 1))); do
	u=$(printf 'u%05d' "$i")
	ssh-keygen -q -t ed25519 -N '' -C "$u" -f "$work/keys/$u"
done
# setup NAME AUTH: a config dir NAME with every user, auth roles as given
setup() {
	local d=$work/$1
	mkdir -p "$d/etc/users" "$d/etc/contracts" "$d/etc/keys/pgp"
	P[$1]=$(port)
	cat > "$d/etc/relgate.yaml" <<CFG
listen: 127.0.0.1
port: ${P[$1]}
state_dir: $d/state
log: stderr
max_sessions: 512
auth_failures: {per_source: 1000, per_user: 1000, window: 60, ban: 1}
auth:
  staff: $2
CFG
	for k in "$work"/keys/*.pub; do
		printf 'roles: [staff]\norganisation: bench\nssh_keys:\n  - %s\n' \
			"$(cat "$k")" > "$d/etc/users/$(basename "$k" .pub).yaml"
	done
	"$relgated" -c "$d/etc" -f 2> "$d/relgated.log" &
	pids+=($!)
	PID[$1]=$!
	for _ in $(seq 100); do
		$PY -c "import socket; socket.create_connection(('127.0.0.1',${P[$1]}),0.2)" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "relgated ($1) did not start"; cat "$d/relgated.log"; exit 1
}
declare -A P PID
setup key "[publickey]"
setup totp "[publickey, totp]"
for i in $(seq 0 $((users - 1))); do
	u=$(printf 'u%05d' "$i")
	"$relgate" -c "$work/totp/etc" totp enroll "$u" 2>/dev/null |
		sed -n 's/.*secret=\([A-Z2-7]*\).*/\1/p' | head -1 > "$work/secrets/$u"
done

# CPU seconds of a daemon: the master and its finished sessions
cpu() {
	$PY -c "import os; f=open('/proc/$1/stat').read().rsplit(')',1)[1].split(); print(sum(int(x) for x in f[11:15])/os.sysconf('SC_CLK_TCK'))"
}
declare -A PID
run() { # run NAME SECRETS FIRST: one round; prints "logins/s server-ms/login"
	local c0 c1 r
	c0=$(cpu "${PID[$1]}")
	r=$($PY "$srcdir/bench/login_bench.py" "${P[$1]}" "$work/keys" "$2" "$conc" \
		"$3" "$logins" | $PY -c 'import json,sys; r=json.load(sys.stdin); print("%.1f" % r["per_second"])')
	sleep 0.5; c1=$(cpu "${PID[$1]}")
	echo "$r $($PY -c "print('%.1f' % (($c1 - $c0) * 1000 / $logins))")"
}
K=() T=() KC=() TC=()
for r in $(seq 0 $((rounds - 1))); do
	# who goes first alternates
	if [ $((r % 2)) -eq 0 ]; then
		k=$(run key - $((r * logins))); t=$(run totp "$work/secrets" $((r * logins)))
	else
		t=$(run totp "$work/secrets" $((r * logins))); k=$(run key - $((r * logins)))
	fi
	K+=("${k% *}") KC+=("${k#* }") T+=("${t% *}") TC+=("${t#* }")
	echo "  round $((r + 1)): key only ${k% *} logins/s (server ${k#* } CPU-ms each)," \
		"key + TOTP ${t% *} logins/s (server ${t#* } CPU-ms each)"
done
$PY - "${K[*]}" "${T[*]}" "${KC[*]}" "${TC[*]}" <<'PYEOF'
import statistics, sys
k, t, kc, tc = ([float(x) for x in a.split()] for a in sys.argv[1:5])
mk, mt = statistics.median(k), statistics.median(t)
print("key only:     %.1f logins/s, server %.1f CPU-ms a login (medians of %d rounds)"
      % (mk, statistics.median(kc), len(k)))
print("key + TOTP:   %.1f logins/s, server %.1f CPU-ms a login" % (mt, statistics.median(tc)))
print("cost ratio (key + TOTP / key only, time per login): %.2fx (goal <= 1.20x)" % (mk / mt))
print("worst round: %.2fx; server CPU ratio: %.2fx"
      % (max(a / b for a, b in zip(k, t)), statistics.median(tc) / statistics.median(kc)))
PYEOF
