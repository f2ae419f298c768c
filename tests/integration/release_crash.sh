#!/usr/bin/env bash
# Crash test: SIGKILL the whole gateway (relgated, its release worker, audit
# writer and sessions: the process group) at random points while requests
# are checked, packaged, signed, encrypted and published; at least 20 times.
# After each restart: no partial package is visible (every .gpg in releases/
# has its sidecar, matches it and decrypts whole; no temporary file is
# left), every request reaches a definite state (status.json agrees with the
# worker's state), and the audit log verifies.
set -euo pipefail
. "$top_srcdir/tests/integration/release_lib.sh"
KILLS=${RELEASE_CRASH_KILLS:-22}
T=$(mktemp -d "${TMPDIR:-/tmp}/rg-crash.XXXXXX")
PGID=
stop_gateway() {
	if [ -n "$PGID" ]; then
		kill -KILL -- "-$PGID" 2>/dev/null || :
		for _ in $(seq 50); do kill -0 -- "-$PGID" 2>/dev/null || break; sleep 0.1; done
		PGID=
	fi
}
cleanup() { stop_gateway; rl_cleanup_gpg; [ -n "${KEEP:-}" ] || rm -rf "$T"; }
trap cleanup EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
rl_setup "$PORT"
S=$T/state C=$T/etc

start_gateway() {
	rl_start_relgated setsid
	PGID=$RL_PID
	disown "$PGID" 2>/dev/null || :
}
db() { sqlite3 -cmd ".timeout 10000" "$S/state.db" "$1"; }
queue_empty() { [ -z "$(find "$S/queue" -maxdepth 1 -type f ! -name '.*' 2>/dev/null)" ]; }
settle() {
	for _ in $(seq 600); do
		if queue_empty && [ "$(db "SELECT COUNT(*) FROM requests WHERE state IN ('submitted','checking','approved')")" = 0 ]; then
			return 0
		fi
		sleep 0.1
	done
	tail -30 "$T/relgated.log"; rl_fail "requests did not settle after restart"
}

# What a contractor could see must be whole.
check_releases() {
	for d in "$S"/releases/*/; do
		[ -d "$d" ] || continue
		for f in "$d".* "$d"*; do
			case $(basename "$f") in
			.|..|'*'|'.*') ;;
			.tmp.*) rl_fail "temporary file left visible: $f" ;;
			*.tar.zst.gpg)
				[ -f "$f.sha256" ] || rl_fail "package without sidecar: $f"
				(cd "$d" && sha256sum --quiet -c "$(basename "$f").sha256") || rl_fail "sidecar mismatch: $f"
				# a package that decrypted whole once is unchanged
				# while its sidecar matches: decrypt each one once
				grep -qxF "$(cat "$f.sha256")" "$T/verified" 2>/dev/null && continue
				org=acme-research; case $f in *TEST-2026-0002*) org=beta-analytics ;; esac
				GNUPGHOME=$T/gpg/$org gpg --batch -q --decrypt "$f" 2>/dev/null | zstd -q -d | tar -t >/dev/null ||
					rl_fail "package does not decrypt whole: $f"
				cat "$f.sha256" >> "$T/verified"
				;;
			*.tar.zst.gpg.sha256) [ -f "${f%.sha256}" ] || rl_fail "sidecar without package: $f" ;;
			*) rl_fail "unexpected file in releases: $f" ;;
			esac
		done
	done
}

# Every request: a definite state, shown the same in its status.json.
check_requests() {
	db "SELECT id, submitter, folder, state FROM requests" | while IFS='|' read -r id sub folder state; do
		case $state in
		awaiting_approval|failed|published|rejected|withdrawn|expired) ;;
		*) rl_fail "$id in state $state after settling" ;;
		esac
		shown=$(rl_json "$S/spool/staff/$sub/$folder/status.json" state)
		[ "$shown" = "$state" ] || rl_fail "$id: status.json says $shown, worker says $state"
		if [ "$state" = published ]; then
			rel=$(db "SELECT release FROM requests WHERE id='$id'")
			c=${rel%-*}
			[ -f "$S/releases/$c/$rel.tar.zst.gpg" ] || rl_fail "$id published without $rel"
		fi
	done
}

rl_gen_csv 20000 21 > "$T/a.csv"
rl_gen_raw 8000 22 > "$T/b.csv"
n=0
add_request() { # CONTRACT FILE
	n=$((n + 1))
	rl_spool staff-ann "c$n" "$1" "$2"
	"$WORKER" -s "$S" --enqueue submit staff-ann "c$n"
}
approve_waiting() {
	db "SELECT id, contract FROM requests WHERE state='awaiting_approval'" | while IFS='|' read -r id c; do
		mkdir -p "$S/requests/$id/decisions"
		for a in staff-ben iam-jo; do
			[ -f "$S/requests/$id/decisions/$a.yaml" ] && continue
			printf 'decision: approve\nreason: crash test\n' > "$S/requests/$id/decisions/$a.yaml"
			"$WORKER" -s "$S" --enqueue decision "$id" "$a"
			[ "$c" = TEST-2026-0002 ] || break
		done
	done
}

start_gateway
for _ in $(seq 100); do [ -s "$S/releases/gateway.asc" ] && break; sleep 0.1; done
for org in acme-research beta-analytics; do
	GNUPGHOME=$T/gpg/$org gpg --batch -q --import "$S/releases/gateway.asc" 2>/dev/null
done
for i in $(seq "$KILLS"); do
	# keep the worker busy: a new request, approvals for waiting ones,
	# now and then a withdrawal and a failing extract
	add_request TEST-2026-0001 "$T/a.csv"
	[ $((i % 3)) = 0 ] && add_request TEST-2026-0002 "$T/b.csv"
	if [ $((i % 5)) = 0 ]; then
		rm -f "$S/spool/staff/staff-ann/c$n/request.yaml"
		"$WORKER" -s "$S" --enqueue withdraw staff-ann "c$n"
	fi
	approve_waiting
	sleep "$(python3 -c 'import random; print(round(random.uniform(0.05, 1.2), 2))')"
	stop_gateway
	start_gateway
	settle
	check_releases
	check_requests
	"$RELGATE" -c "$C" audit verify >/dev/null 2>&1 || { "$RELGATE" -c "$C" audit verify; rl_fail "audit does not verify after kill $i"; }
	echo "ok - kill $i: packages whole, requests definite, audit verifies"
done
approve_waiting
settle
check_releases
check_requests
pub=$(db "SELECT COUNT(*) FROM requests WHERE state='published'")
[ "$pub" -ge 3 ] || rl_fail "only $pub releases published during the crash test"
echo "ok - $KILLS kills; $(db "SELECT COUNT(*) FROM requests") requests, $pub published"
