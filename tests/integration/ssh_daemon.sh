#!/bin/sh
# Operating relgated: --help/--version, a relgate.yaml that does not load
# stops it before it binds or makes its state directory, relgated -t, the
# pid file, a bad user file (one giving approver without staff too) is
# rejected (audited) while the others load, SIGHUP via `relgate reload`
# reloads without dropping sessions (a bad relgate.yaml then keeps the
# settings in force), SIGTERM stops cleanly, and the daemonised mode
# (no -f) detaches.
. "$top_srcdir/tests/integration/ssh_lib.sh"

out=$("$RELGATED" --help) && rc=0 || rc=$?
check "--help exits 0 and shows the usage" sh -c "[ $rc -eq 0 ] && echo \"\$1\" | grep -q 'usage: relgated'" _ "$out"
out=$("$RELGATED" --version) && rc=0 || rc=$?
check "--version names relgated and its version ($out)" sh -c "[ $rc -eq 0 ] && echo '$out' | grep -Eq '^relgated [0-9]+\.[0-9]+'"
"$RELGATED" --bogus >/dev/null 2>&1 && rc=0 || rc=$?
check "an unknown option exits 2" [ "$rc" -eq 2 ]
"$RELGATE" -c "$ETC" reload >/dev/null 2>&1 && rc=0 || rc=$?
check "relgate reload with no daemon running exits 1" [ "$rc" -eq 1 ]

port_closed() { ! $PY -c "import socket; socket.create_connection(('127.0.0.1',$PORT),0.5).close()" 2>/dev/null; }

# A relgate.yaml that does not load (a typo'd key, line 5) stops relgated
# with file:line:col before it binds or makes its state directory; it
# never falls back to the defaults. -f or not, and relgated -t says so.
write_config "max_sesions: 4"
add_user staff-ann "[staff]" dwp
timeout 60 "$RELGATED" -c "$ETC" -f >"$T/bad.out" 2>"$T/bad.err" && rc=0 || rc=$?
check "a typo'd key in relgate.yaml stops relgated -f with status 1 ($rc)" [ "$rc" -eq 1 ]
check "its stderr names relgate.yaml:5:1 and the key ($(cat "$T/bad.err"))" \
	grep -qxF "relgated: $ETC/relgate.yaml:5:1: relgate.yaml: unknown key 'max_sesions'" "$T/bad.err"
check "nothing listens on the port" port_closed
check "the state directory was not made" [ ! -e "$STATE" ]
timeout 60 "$RELGATED" -c "$ETC" >"$T/bad.out" 2>"$T/bad.err" && rc=0 || rc=$?
check "without -f too: status 1 before detaching, the error on stderr ($rc)" sh -c \
	"[ $rc -eq 1 ] && grep -qF 'relgate.yaml:5:1: ' '$T/bad.err' && [ ! -e '$STATE' ]"
"$RELGATED" -t -c "$ETC" >"$T/t.out" 2>"$T/t.err" && rc=0 || rc=$?
check "relgated -t on it: status 1, relgate.yaml:5:1 on stderr ($rc)" sh -c \
	"[ $rc -eq 1 ] && grep -qxF \"relgated: $ETC/relgate.yaml:5:1: relgate.yaml: unknown key 'max_sesions'\" '$T/t.err'"
printf 'port: [\n' > "$ETC/relgate.yaml"
"$RELGATED" -t -c "$ETC" >"$T/t.out" 2>"$T/t.err" && rc=0 || rc=$?
check "relgated -t on malformed YAML: status 1, file:line:col ($(cat "$T/t.err"))" sh -c \
	"[ $rc -eq 1 ] && grep -q '^relgated: $ETC/relgate.yaml:[0-9]*:[0-9]*: ' '$T/t.err'"
write_config
"$RELGATED" -t -c "$ETC" >"$T/t.out" 2>"$T/t.err" && rc=0 || rc=$?
check "relgated -t on a good directory: status 0, silent ($rc)" sh -c \
	"[ $rc -eq 0 ] && [ ! -s '$T/t.out' ] && [ ! -s '$T/t.err' ]"
check "relgated -t made no state directory" [ ! -e "$STATE" ]
# a missing relgate.yaml is the defaults (every key is optional)
mkdir -p "$T/etc-none/users"
"$RELGATED" -t -c "$T/etc-none" >"$T/t.out" 2>"$T/t.err" && rc=0 || rc=$?
check "relgated -t without relgate.yaml: status 0, the defaults said ($rc)" sh -c \
	"[ $rc -eq 0 ] && grep -qF 'relgate.yaml: none, so every setting is its default' '$T/t.err'"

# Bad user files leave themselves out; relgated starts. An approver who
# is not staff is such a file.
printf 'roles: [staff]\norganisation: dwp\ncolour: blue\nssh_keys: []\n' > "$ETC/users/bad-bob.yaml"
add_user iam-max "[approver]" dwp
"$RELGATED" -t -c "$ETC" >"$T/t.out" 2>"$T/t.err" && rc=0 || rc=$?
check "relgated -t with bad user files: status 0, each named ($rc)" sh -c \
	"[ $rc -eq 0 ] && grep -qF '$ETC/users/iam-max.yaml:1:8: an approver must also hold the staff role' '$T/t.err' && grep -qF '$ETC/users/bad-bob.yaml:3:1: ' '$T/t.err'"
start_relgated
wait_audit() { for _ in $(seq 30); do audit_has "$@" && return 0; sleep 0.2; done; return 1; }

check "the pid file holds the daemon's pid" [ "$(cat "$STATE/relgated.pid")" = "$PID" ]
# relgated re-executes itself once with glibc's rep-movsb threshold raised
# (relgated(8), ENVIRONMENT); the pid stays the one started. Not under
# valgrind, where memcpy is valgrind's own.
if [ "$(uname -m)" = x86_64 ] && [ -z "${RG_VALGRIND:-}" ]; then
	check "the daemon runs with glibc.cpu.x86_rep_movsb_threshold raised" \
	    sh -c "tr '\\0' '\\n' < /proc/$PID/environ | grep -qx 'GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=0x40000000'"
fi
check "host keys were made owner-only" sh -c "[ \$(stat -c %a '$STATE/ssh/ssh_host_ed25519_key') = 600 ] && [ \$(stat -c %a '$STATE/ssh/ssh_host_ecdsa_key') = 600 ] && [ \$(stat -c %a '$STATE/ssh') = 700 ]"
check "audit: config.loaded" wait_audit config.loaded ok "" ""
check "audit: config.rejected names the bad user file" wait_audit config.rejected failed "" "bad-bob.yaml"
check "audit: config.rejected names iam-max.yaml:1:8 (approver without staff)" wait_audit config.rejected failed "" "iam-max.yaml:1:8: an approver must also hold the staff role"
check "the good user still logs in" [ "$($PY "$CLIENT" login "$PORT" staff-ann "$T/keys/staff-ann" >/dev/null 2>&1; echo $?)" -eq 0 ]
out=$($PY "$CLIENT" login "$PORT" iam-max "$T/keys/iam-max" 2>&1) && rc=0 || rc=$?
check "iam-max (approver, not staff) cannot log in ($rc: $out)" [ "$rc" -eq 3 ]

# a session that stays open across the reload
$PY "$CLIENT" hold "$PORT" staff-ann "$T/keys/staff-ann" 4 > "$T/hold" 2>&1 &
holder=$!
for _ in $(seq 50); do grep -q in "$T/hold" && break; sleep 0.1; done
add_user iam-jo "[staff, approver]" dwp
out=$($PY "$CLIENT" login "$PORT" iam-jo "$T/keys/iam-jo" 2>&1) && rc=0 || rc=$?
check "iam-jo cannot log in before the reload ($rc: $out)" [ "$rc" -eq 3 ]
out=$("$RELGATE" -c "$ETC" reload 2>&1) && rc=0 || rc=$?
check "relgate reload exits 0 ($out)" [ "$rc" -eq 0 ]
check "audit: config.reloaded" wait_audit config.reloaded ok "" ""
check "iam-jo logs in after the reload" [ "$($PY "$CLIENT" login "$PORT" iam-jo "$T/keys/iam-jo" >/dev/null 2>&1; echo $?)" -eq 0 ]
wait "$holder" && rc=0 || rc=$?
check "the session open across the reload stayed usable ($(tail -1 "$T/hold"))" [ "$rc" -eq 0 ]

# a relgate.yaml broken on reload: rejected and audited, settings kept
# (the defaults would ask staff-ann for a TOTP code she has not got: her
# login below is made with the key and password of the file in force)
cp "$ETC/relgate.yaml" "$T/good.yaml"
write_config "max_sessions: many"
"$RELGATED" -t -c "$ETC" >/dev/null 2>"$T/t.err" && rc=0 || rc=$?
check "relgated -t on the broken file while the daemon runs: status 1 ($rc)" sh -c \
	"[ $rc -eq 1 ] && grep -qF '$ETC/relgate.yaml:5:15: ' '$T/t.err'"
out=$("$RELGATE" -c "$ETC" reload 2>&1) && rc=0 || rc=$?
check "relgate reload refuses a broken relgate.yaml, naming it (status $rc)" sh -c \
	"[ $rc -eq 2 ] && echo \"\$1\" | grep -q 'relgate.yaml:'" _ "$out"
kill -HUP "$PID"
for _ in $(seq 50); do grep -q "relgate.yaml rejected" "$LOG" && break; sleep 0.1; done
check "the daemon goes on serving with the settings in force" [ "$($PY "$CLIENT" login "$PORT" staff-ann "$T/keys/staff-ann" >/dev/null 2>&1; echo $?)" -eq 0 ]
check "the daemon is still the one started" kill -0 "$PID"
cp "$T/good.yaml" "$ETC/relgate.yaml"	# (relgate audit needs it too)
check "audit: the broken relgate.yaml was rejected on reload" wait_audit config.rejected failed "" "relgate.yaml"

# SIGTERM: clean stop, pid file gone, no process of ours left, open
# sessions closed and audited
$PY "$CLIENT" hold "$PORT" staff-ann "$T/keys/staff-ann" 5 > "$T/hold2" 2>&1 &
holder=$!
for _ in $(seq 50); do grep -q in "$T/hold2" && break; sleep 0.1; done
kids=$(ps -o pid= --ppid "$PID" | tr '\n' ' ')
kill -TERM "$PID"
wait "$PID" && rc=0 || rc=$?
check "SIGTERM stops relgated with status 0" [ "$rc" -eq 0 ]
PID=
check "the pid file is removed" [ ! -e "$STATE/relgated.pid" ]
left=0
for k in $kids; do kill -0 "$k" 2>/dev/null && left=$((left + 1)); done
check "no helper or session process is left ($left)" [ "$left" -eq 0 ]
check "audit: the audit writer closed with a checkpoint" audit_has log.checkpoint "" "" ""
check "audit: the open session was closed as relgated stopped" audit_has session.close ok staff-ann "relgated stopping"
wait "$holder" && rc=0 || rc=$?
check "the client saw its session end ($rc)" [ "$rc" -eq 4 ]

# daemonised: returns at once, then serves
"$RELGATED" -c "$ETC" && rc=0 || rc=$?
check "relgated without -f returns 0 after detaching" [ "$rc" -eq 0 ]
for _ in $(seq 50); do [ -s "$STATE/relgated.pid" ] && break; sleep 0.1; done
PID=$(cat "$STATE/relgated.pid" 2>/dev/null || echo)
for _ in $(seq 50); do $PY -c "import socket; socket.create_connection(('127.0.0.1',$PORT),0.2)" 2>/dev/null && break; sleep 0.1; done
check "the detached daemon serves" [ "$($PY "$CLIENT" login "$PORT" staff-ann "$T/keys/staff-ann" >/dev/null 2>&1; echo $?)" -eq 0 ]
"$RELGATED" -c "$ETC" -f >/dev/null 2>&1 && rc=0 || rc=$?
check "a second relgated on the same state refuses to start" [ "$rc" -ne 0 ]
finish
