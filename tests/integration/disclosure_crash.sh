#!/usr/bin/env bash
# Crash test of the release history (disclosure.cumulative): the release
# worker, running as relgated runs it (waiting on its queue), is SIGKILLed
# at random moments while releases of one contract with one_row_per are
# submitted, approved (and now and then withdrawn, or failing cumulatively),
# at least 20 times, and started again. After each restart every request
# reaches a final state and the history is the published releases' and
# theirs only:
# - history_heads names the contract's highest-numbered published release;
# - that history file holds as many people (its header: u64 at bytes 8..15
#   after the magic "RGHIST01") as there are distinct person ids across the
#   published releases' extracts;
# - no history.next, history.base or trace file is left for a request that
#   is published (or failed, or withdrawn);
# - history/CONTRACT holds the current file and no other.
set -euo pipefail
. "$top_srcdir/tests/integration/release_lib.sh"
# the system's interpreter: a version manager's shim costs a second a call
[ -x /usr/bin/python3 ] && python3() { /usr/bin/python3 "$@"; }
KILLS=${DISCLOSURE_CRASH_KILLS:-22}
T=$(mktemp -d "${TMPDIR:-/tmp}/rg-dcrash.XXXXXX")
PGID=
kills=0
stop_worker() {
	if [ -n "$PGID" ]; then
		kills=$((kills + 1))
		kill -KILL -- "-$PGID" 2>/dev/null || :
		for _ in $(seq 50); do kill -0 -- "-$PGID" 2>/dev/null || break; sleep 0.1; done
		wait "$PGID" 2>/dev/null || :
		PGID=
	fi
}
cleanup() { stop_worker; rl_cleanup_gpg; [ -n "${KEEP:-}" ] || rm -rf "$T"; }
trap cleanup EXIT
rl_setup "$(rl_free_port)"
S=$T/state C=$T/etc
K=TEST-2026-0030
cat > "$C/contracts/$K.yaml" <<EOF
id: $K
version: 1
title: History crash test
purpose: Exercise the release history across crashes.
status: active
valid_from: 2026-01-01
valid_until: 2030-12-31
contractor:
  organisation: acme-research
  assurance: {scheme: ISO27001, ref: "T-1", expires: 2030-12-31}
people: [acme-ana]
approvers: [iam-jo, staff-ben]
approvals_required: 1
recipients: [$fa]
retention: {download_days: 14, max_downloads: 2}
datasets:
  p:
    max_rows: 100000
    one_row_per: person_id
    columns:
      person_id: {masking: hmac-sha256, masking_mode: apply}
      age_band: {allowed: ["25-34","35-44","45-54"]}
      sex: {allowed: [F, M]}
    quasi_identifiers: [age_band, sex]
    k_anonymity: 600
  q:
    max_rows: 100000
    one_row_per: person_id
    columns:
      person_id: {masking: hmac-sha256, masking_mode: apply}
      age_band: {allowed: ["25-34","35-44","45-54"]}
      region: {}
    quasi_identifiers: [age_band, region]
    k_anonymity: 600
EOF
"$RELGATE" -c "$C" lint >/dev/null 2>&1 || { "$RELGATE" -c "$C" lint >&2; rl_fail "the test contract does not lint"; }

start_worker() {
	setsid "$WORKER" -c "$C" -s "$S" >>"$T/worker.log" 2>&1 &
	PGID=$!
	disown "$PGID" 2>/dev/null || :
}
db() { sqlite3 -cmd ".timeout 10000" "$S/state.db" "$1"; }
queue_empty() { [ -z "$(find "$S/queue" -maxdepth 1 -type f ! -name '.*' 2>/dev/null)" ]; }
settle() {
	for _ in $(seq $((600 * SLOW))); do
		if queue_empty && [ "$(db "SELECT COUNT(*) FROM requests WHERE state IN ('submitted','checking','approved')")" = 0 ]; then
			return 0
		fi
		sleep 0.1
	done
	tail -30 "$T/worker.log" >&2
	rl_fail "requests did not reach a final state after the restart"
}

# Person i: age band, sex and region fixed. A p extract is 20000 people of
# a window moving through 60000 (k = 600 holds alone and joined, the classes
# being the same); a q extract is people 0..5999 by age band and region: 6
# classes of 1000 alone, but 12 of 500 joined with p's sex (release 1 holds
# them): it fails, at its checks or at its approval. The extracts are big
# enough for the checks and the publication to take a while to kill.
n=0
add_request() { # p|q
	n=$((n + 1))
	python3 - "$1" "$n" > "$T/c$n.csv" <<'PY'
import sys
kind, n = sys.argv[1], int(sys.argv[2])
bands = ["25-34", "35-44", "45-54"]
if kind == "p":
    start = ((n - 1) * 5300) % 40000
    rows = range(start, start + 20000)
    head, third = "sex", lambda i: "FM"[(i // 3) % 2]
else:
    rows = range(6000)
    head, third = "region", lambda i: ["Tynedale", "Wansbeck"][(i // 6) % 2]
sys.stdout.write(f"person_id,age_band,{head}\n" + "".join(f"P{i:05d},{bands[i % 3]},{third(i)}\n" for i in rows))
PY
	d=$S/spool/staff/staff-ann/c$n
	mkdir -p "$d"
	cp "$T/c$n.csv" "$d/x.csv"
	printf 'contract: %s\ndataset: %s\nfiles: [x.csv]\nnote: crash test\n' "$K" "$1" > "$d/request.yaml"
	"$WORKER" -s "$S" --enqueue submit staff-ann "c$n"
}
approve_waiting() {
	db "SELECT id FROM requests WHERE state='awaiting_approval' ORDER BY id" | while read -r id; do
		[ -f "$S/requests/$id/decisions/staff-ben.yaml" ] && continue
		mkdir -p "$S/requests/$id/decisions"
		printf 'decision: approve\nreason: crash test\n' > "$S/requests/$id/decisions/staff-ben.yaml"
		"$WORKER" -s "$S" --enqueue decision "$id" staff-ben
	done
}

# The invariants of the history, after the requests have settled.
hfail() { tail -12 "$T/worker.log" >&2; rl_fail "$@"; }
check_history() {
	local id sub folder state rel head hpath want got f
	db "SELECT id, submitter, folder, state FROM requests" | while IFS='|' read -r id sub folder state; do
		case $state in
		awaiting_approval|failed|published|withdrawn) ;;
		*) hfail "$id in state $state after settling" ;;
		esac
		[ "$(rl_json "$S/spool/staff/$sub/$folder/status.json" state)" = "$state" ] ||
			hfail "$id: status.json does not say $state"
		[ "$state" = awaiting_approval ] && continue
		for f in "$S/requests/$id/"history.* "$S/requests/$id/"trace.*; do
			if [ -e "$f" ]; then hfail "$id ($state) keeps $(basename "$f")"; fi
		done
	done
	rel=$(db "SELECT release FROM requests WHERE contract='$K' AND state='published' ORDER BY release DESC LIMIT 1")
	[ -n "$rel" ] || hfail "nothing published"
	head=$(db "SELECT release FROM history_heads WHERE contract='$K'")
	hpath=$(db "SELECT path FROM history_heads WHERE contract='$K'")
	[ "$head" = "$rel" ] || hfail "history_heads names $head, the highest published release is $rel"
	[ -f "$S/$hpath" ] || hfail "the history file $hpath is missing"
	[ "$(ls -A "$S/history/$K")" = "$(basename "$hpath")" ] ||
		hfail "history/$K holds $(ls -A "$S/history/$K" | tr '\n' ' ')besides the current $(basename "$hpath")"
	want=$(db "SELECT folder FROM requests WHERE contract='$K' AND state='published'" |
		sed "s|^|$T/|; s|$|.csv|" | xargs cat | grep -v '^person_id,' | cut -d, -f1 | sort -u | wc -l)
	got=$(python3 -c 'import struct,sys; b=open(sys.argv[1],"rb").read(16); assert b[:8]==b"RGHIST01", b[:8]; print(struct.unpack("<Q", b[8:16])[0])' "$S/$hpath") ||
		hfail "$hpath is not a history file"
	[ "$got" = "$want" ] || hfail "$hpath holds $got people, the published extracts $want"
}

rand_ms() { printf '0.%03d' $((RANDOM % window)); }
# what the worker was doing when it was killed
busy_with() {
	local s
	s=$(db "SELECT group_concat(state, ',') FROM requests WHERE state IN ('checking','approved')")
	queue_empty || s="${s:+$s,}queued"
	echo "${s:-idle}"
}

start_worker
for _ in $(seq $((100 * SLOW))); do [ -s "$S/releases/gateway.asc" ] && break; sleep 0.1; done
# release 1 first: the q extracts are to fail against it
add_request p
settle
# how long a publication takes here, from its decision in the queue to
# its state shown: the kills fall at random moments of up to that much
# after the iteration's last queue entry (30 to 300 ms)
approve_waiting
t0=${EPOCHREALTIME/./}
for _ in $(seq $((6000 * SLOW))); do
	[[ $(<"$S/spool/staff/staff-ann/c1/status.json") == *'"state": "published"'* ]] && break
	sleep 0.005
done
[ "$(db "SELECT state FROM requests WHERE folder='c1'")" = published ] || rl_fail "the first release was not published"
window=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
[ "$window" -ge 30 ] || window=30
[ "$window" -le 300 ] || window=300
kinds=
for i in $(seq "$KILLS"); do
	# every other time the approvals go last (the kill falls among the
	# publications), else the new requests (among their checks)
	[ $((i % 2)) = 0 ] || approve_waiting
	add_request p
	[ $((i % 4)) = 0 ] && add_request q
	if [ $((i % 5)) = 0 ]; then
		rm -f "$S/spool/staff/staff-ann/c$n/request.yaml"
		"$WORKER" -s "$S" --enqueue withdraw staff-ann "c$n"
	fi
	[ $((i % 2)) = 1 ] || approve_waiting
	# a random moment of the work just asked for
	sleep "$(rand_ms)"
	stop_worker
	at=$(busy_with)
	start_worker
	if [ $((i % 3)) = 0 ]; then
		# and again while the new one recovers what the first left
		sleep "$(rand_ms)"
		stop_worker
		at="$at; in recovery: $(busy_with)"
		start_worker
	fi
	kinds="$kinds;$at"
	settle
	check_history
	echo "ok - kill $i (during: $at): requests final, history = published releases"
done
settle
approve_waiting
settle
check_history
left=$(db "SELECT COUNT(*) FROM requests WHERE state NOT IN ('published','failed','withdrawn')")
[ "$left" = 0 ] || rl_fail "$left requests did not reach published, failed or withdrawn"
pub=$(db "SELECT COUNT(*) FROM requests WHERE contract='$K' AND state='published'")
[ "$pub" -ge 5 ] || rl_fail "only $pub releases published during the crash test"
interrupted=$(echo "$kinds" | grep -o approved | wc -l)
echo "ok - $kills kills at random moments of up to $window ms ($interrupted during a publication); $(db "SELECT COUNT(*) FROM requests") requests, $pub published, $(db "SELECT COUNT(*) FROM requests WHERE state='failed'") failed; history holds the published releases only"
"$RELGATE" -c "$C" audit verify >/dev/null 2>&1 || rl_fail "audit does not verify"
echo "ok - audit trail verifies"
