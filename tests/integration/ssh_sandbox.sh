#!/bin/sh
# Session sandbox (sandbox/sandbox*.c): an authenticated session process
# runs under a seccomp filter with no_new_privs, Landlock is entered when
# the kernel offers it (the release worker too), uploads and downloads still work byte for byte,
# and no system call was refused on the way; RELGATE_SANDBOX=none turns it
# off with a warning.
. "$top_srcdir/tests/integration/ssh_lib.sh"

write_config
add_user staff-ann "[staff]" dwp
head -c 300000 /dev/urandom > "$T/data.bin"

# held_session: an sftp session that stays open ~4 s; prints the status
# lines of its session process (Seccomp, NoNewPrivs) into $T/status
held_session() {
	before=$(ps -o pid= --ppid "$PID" | tr '\n' ' ')
	{ echo "mkdir /requests/r$1"; echo "put $T/data.bin /requests/r$1/d.bin";
	  sleep 4; echo "get /requests/r$1/d.bin $T/back$1.bin"; } |
	    timeout 60 sftp -q $SSH_OPTS -P "$PORT" -i "$T/keys/staff-ann" -b - \
	    staff-ann@127.0.0.1 >/dev/null 2>&1 &
	cl=$!
	sleep 2
	: > "$T/status"
	for c in $(ps -o pid= --ppid "$PID"); do
		case " $before " in *" $c "*) ;; *)
			grep -E '^(Seccomp|NoNewPrivs):' "/proc/$c/status" \
			    >> "$T/status" 2>/dev/null || : ;;
		esac
	done
	wait "$cl" || :
}

# make check-valgrind runs the suite with RELGATE_SANDBOX=none (valgrind
# cannot run under the seccomp filter): only the unconfined half here.
if [ "${RELGATE_SANDBOX:-}" = none ]; then
	echo "skip - the confined half: RELGATE_SANDBOX=none in the environment"
else
	"$RELGATED" -c "$ETC" -f -d >>"$LOG" 2>&1 &
	PID=$!
	for _ in $(seq 100); do
		grep -q listening "$LOG" 2>/dev/null && break
		sleep 0.1
	done
	held_session 1
	check "a session runs under a seccomp filter ($(tr '\n' ' ' < "$T/status"))" \
		grep -qE '^Seccomp:[[:space:]]+2' "$T/status"
	check "and with no_new_privs" grep -qE '^NoNewPrivs:[[:space:]]+1' "$T/status"
	check "upload and download byte for byte inside the sandbox" \
		cmp -s "$T/data.bin" "$T/back1.bin"
	if $PY -c 'import ctypes,sys; l=ctypes.CDLL(None,use_errno=True); sys.exit(0 if l.syscall(444,None,0,1)>=1 else 1)'; then
		check "Landlock entered" grep -q "sandbox: Landlock ABI" "$LOG"
	else
		check "no Landlock: said so" grep -q "Landlock not offered" "$LOG"
	fi
	helpers=$(for c in $(ps -o pid= --ppid "$PID"); do
		grep -c '^NoNewPrivs:[[:space:]]*1' "/proc/$c/status" 2>/dev/null || :; done | grep -c '^1$' || :)
	check "the release worker confined itself too (no_new_privs helpers: $helpers)" \
		[ "$helpers" -ge 1 ]
	check "the release worker runs" grep -q "release worker started" "$LOG"
	check "inside its sandbox" grep -q "sandbox: release worker confined" "$LOG"
	check "and did not fail to confine itself" sh -c "! grep -q 'cannot confine itself' '$LOG'"
	check "no system call refused" sh -c "! grep -q 'not allowed: session killed' '$LOG'"
	check "no session failed to confine itself" sh -c "! grep -q 'cannot confine' '$LOG'"
	check "session.open audited" audit_has session.open ok staff-ann ""
	# A session appends through the audit writer only (its sandbox grants
	# nothing under audit/): with the writer's socket gone a login is
	# refused, and no record is written behind the writer's back.
	ls_as() { echo "ls /" | timeout 30 sftp -q $SSH_OPTS -P "$PORT" \
	    -i "$T/keys/staff-ann" -b - staff-ann@127.0.0.1 >/dev/null 2>&1; }
	n_before=$(audit_json | wc -l)
	mv "$STATE/audit/audit.sock" "$STATE/audit/audit.sock.away"
	if ls_as; then fail "no audit writer, yet the login went in"
	else pass "no audit writer: the session is refused"; fi
	mv "$STATE/audit/audit.sock.away" "$STATE/audit/audit.sock"
	check "and it wrote nothing to the log itself" \
		[ "$(audit_json | wc -l)" -eq "$n_before" ]
	check "the log says why" grep -q "audit log unavailable, refusing" "$LOG"
	check "writer back: logins work again" ls_as
	# A session that dies of a signal wrote no session.close: the master
	# records it (SIGSYS is how the filter kills; sent from outside here).
	before=$(ps -o pid= --ppid "$PID" | tr '\n' ' ')
	{ echo "ls /"; sleep 6; echo "ls /"; } | timeout 60 sftp -q $SSH_OPTS \
	    -P "$PORT" -i "$T/keys/staff-ann" -b - staff-ann@127.0.0.1 \
	    >/dev/null 2>&1 &
	cl=$!
	victim=
	for _ in $(seq 100); do
		for c in $(ps -o pid= --ppid "$PID"); do
			case " $before " in *" $c "*) ;; *)
				grep -qE '^Seccomp:[[:space:]]+2' "/proc/$c/status" \
				    2>/dev/null && victim=$c ;;
			esac
		done
		[ -n "$victim" ] && break
		sleep 0.1
	done
	[ -n "$victim" ] && kill -SYS "$victim"
	wait "$cl" || :
	killed_audited() {
		for _ in $(seq 50); do
			audit_has session.close failed staff-ann \
			    "the sandbox refused a system call" && return 0
			sleep 0.1
		done
		return 1
	}
	check "a session killed by SIGSYS ($victim): session.close failed, audited" \
		killed_audited
	check "and logged with the reason" grep -q "the sandbox refused a system call" "$LOG"
	kill -TERM "$PID"; wait "$PID" || :
	PID=
fi

started=$(grep -c listening "$LOG" 2>/dev/null) || started=0
RELGATE_SANDBOX=none "$RELGATED" -c "$ETC" -f >>"$LOG" 2>&1 &
PID=$!
for _ in $(seq 100); do
	[ "$(grep -c listening "$LOG")" -gt "$started" ] && break
	sleep 0.1
done
held_session 2
check "RELGATE_SANDBOX=none: no filter" grep -qE '^Seccomp:[[:space:]]+0' "$T/status"
check "RELGATE_SANDBOX=none: warned" grep -q "RELGATE_SANDBOX=none: session NOT confined" "$LOG"
check "RELGATE_SANDBOX=none: transfers work" cmp -s "$T/data.bin" "$T/back2.bin"
finish
