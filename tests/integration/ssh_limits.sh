#!/bin/sh
# relgated limits: failed logins per source address and per user lead to a
# ban (a connection that ends without authenticating counts as one), while
# other sources and users still get in; max_sessions_per_user; idle_timeout.
# Sources 127.0.0.2 and 127.0.0.3 are other loopback addresses.
. "$top_srcdir/tests/integration/ssh_lib.sh"

write_config "auth_failures: {per_source: 3, per_user: 100, window: 60, ban: 60}" \
	"max_sessions_per_user: 2"
add_user staff-ann "[staff]" dwp
add_user iam-jo "[staff, approver]" dwp
start_relgated

login() { $PY "$CLIENT" login "$PORT" "$@" >/dev/null 2>&1 && echo 0 || echo $?; }
wait_audit() { for _ in $(seq 30); do audit_has "$@" && return 0; sleep 0.2; done; return 1; }
wait_log() { # the master counts a failure when the session has gone
	for _ in $(seq 100); do grep -q "$1" "$LOG" && return 0; sleep 0.1; done
	return 1
}
bare_connect() { # connect, say nothing, leave
	$PY -c "import socket; s=socket.create_connection(('127.0.0.1',$PORT),5,source_address=('$1',0)); s.close()"
}

# ---- per source ------------------------------------------------------------
check "a wrong key from 127.0.0.2 is refused" [ "$(login staff-ann "$T/keys/iam-jo" --source 127.0.0.2)" -eq 3 ]
check "again" [ "$(login staff-ann "$T/keys/iam-jo" --source 127.0.0.2)" -eq 3 ]
bare_connect 127.0.0.2
wait_log "source 127.0.0.2 banned"
check "after 3 failures (one a bare connection) 127.0.0.2 is banned, even with the right key" \
	[ "$(login staff-ann "$T/keys/staff-ann" --source 127.0.0.2)" -eq 3 ]
check "the banned source's connection is closed before any SSH banner" sh -c \
	"$PY -c \"import socket; s=socket.create_connection(('127.0.0.1',$PORT),5,source_address=('127.0.0.2',0)); s.settimeout(5); assert s.recv(100) == b''\""
check "127.0.0.1 still gets in" [ "$(login staff-ann "$T/keys/staff-ann" --source 127.0.0.1)" -eq 0 ]
check "audit: the source ban is recorded" wait_audit auth.banned denied "" "source 127.0.0.2 banned"

# ---- per user (new connections use the reloaded config) --------------------
write_config "auth_failures: {per_source: 100, per_user: 3, window: 60, ban: 60}" \
	"max_sessions_per_user: 2" "idle_timeout: 3"
kill -HUP "$PID"
check "audit: config.reloaded" wait_audit config.reloaded ok "" ""
for i in 1 2 3; do
	login iam-jo "$T/keys/staff-ann" --source 127.0.0.3 >/dev/null
done
wait_log "user iam-jo banned"
check "after 3 failures iam-jo is banned, even with the right key from elsewhere" \
	[ "$(login iam-jo "$T/keys/iam-jo" --source 127.0.0.1)" -eq 3 ]
check "staff-ann still gets in from the same source 127.0.0.3" \
	[ "$(login staff-ann "$T/keys/staff-ann" --source 127.0.0.3)" -eq 0 ]
check "audit: the user ban is recorded" wait_audit auth.banned denied iam-jo "user iam-jo banned"

# ---- max_sessions_per_user and idle_timeout --------------------------------
$PY "$CLIENT" hold "$PORT" staff-ann "$T/keys/staff-ann" 4 > "$T/h1" 2>&1 &
h1=$!
$PY "$CLIENT" hold "$PORT" staff-ann "$T/keys/staff-ann" 4 > "$T/h2" 2>&1 &
h2=$!
for _ in $(seq 50); do grep -q in "$T/h1" && grep -q in "$T/h2" && break; sleep 0.1; done
check "a third session of staff-ann is refused (max_sessions_per_user 2)" \
	[ "$(login staff-ann "$T/keys/staff-ann")" -eq 3 ]
check "audit: the refusal names the limit" wait_audit auth.failed denied staff-ann "too many sessions"
wait "$h1" || :
wait "$h2" || :
sleep 0.5
check "once they end staff-ann gets in again" [ "$(login staff-ann "$T/keys/staff-ann")" -eq 0 ]

$PY "$CLIENT" hold "$PORT" staff-ann "$T/keys/staff-ann" 5 > "$T/idle" 2>&1 && rc=0 || rc=$?
check "an idle session is ended after idle_timeout ($(tail -1 "$T/idle"))" [ "$rc" -eq 4 ]
check "audit: session.close says idle timeout" wait_audit session.close ok staff-ann "idle timeout"

# ---- max_sessions (connections at once, authenticated or not) --------------
write_config "auth_failures: {per_source: 100, per_user: 100, window: 60, ban: 60}" \
	"max_sessions: 2" "max_sessions_per_user: 2"
kill -HUP "$PID"
for _ in $(seq 50); do [ "$(grep -c 'configuration reloaded' "$LOG")" -ge 2 ] && break; sleep 0.1; done
$PY "$CLIENT" hold "$PORT" staff-ann "$T/keys/staff-ann" 4 > "$T/m1" 2>&1 &
m1=$!
$PY "$CLIENT" hold "$PORT" staff-ann "$T/keys/staff-ann" 4 > "$T/m2" 2>&1 &
m2=$!
for _ in $(seq 50); do grep -q in "$T/m1" && grep -q in "$T/m2" && break; sleep 0.1; done
check "a third connection past max_sessions 2 is closed before any SSH banner" sh -c \
	"$PY -c \"import socket; s=socket.create_connection(('127.0.0.1',$PORT),5); s.settimeout(5); assert s.recv(100) == b''\""
wait "$m1" || :
wait "$m2" || :
sleep 0.5
check "with the others gone a connection is served again" [ "$(login staff-ann "$T/keys/staff-ann")" -eq 0 ]

# ---- a burst of parallel guesses from one source ---------------------------
write_config "auth_failures: {per_source: 3, per_user: 100, window: 60, ban: 60}" \
	"max_sessions: 64" "max_sessions_per_user: 8"
kill -HUP "$PID"
for _ in $(seq 50); do [ "$(grep -c 'configuration reloaded' "$LOG")" -ge 3 ] && break; sleep 0.1; done
# 12 connections finish their key exchange, then all guess at once.
# Attempts that could reach the ban wait until those being decided are:
# no more keys are checked than auth_failures allows, however parallel.
burst=$($PY "$CLIENT" burst "$PORT" staff-ann "$T/keys/iam-jo" 12 --source 127.0.0.4 2>&1)
guessed=$(grep -c '127\.0\.0\.4:.*authentication refused.*key not authorised' "$LOG" || :)
check "12 simultaneous guesses from one source ($burst): $guessed keys checked (per_source 3)" \
	[ "$guessed" -le 3 ]
check "none got in" sh -c "echo '$burst' | grep -q '^in 0 '"
check "and the source is banned" wait_log "source 127.0.0.4 banned"
finish
