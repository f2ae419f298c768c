#!/bin/sh
# Load and brute force together (security_load.py): 200 sessions of 20
# staff users logged in at the same time from 127.0.0.1, each uploading and
# downloading its own bytes, while clients from 127.0.0.2 and 127.0.0.3 try
# wrong keys. The ban engages for those sources (auth.failed records, then
# auth.banned, then connections closed before the banner; a burst of 20 at
# once from 127.0.0.4 is banned too, and the number of guesses it got is
# printed); every legitimate session succeeds. Layered authentication is
# on: each session signs in with its key and the run's password (a TOTP
# code is taken once per user, and each user here logs in 10 times); a
# wrong key is refused at the key, before any prompt. Bounded: the client
# gives up after 110 s (on 2 cores about 6 s natively, 15 s under ASan, 30 s
# for make check-valgrind's 40 sessions).
. "$top_srcdir/tests/integration/ssh_lib.sh"

NSESS=${LOAD_SESSIONS:-200}
NUSERS=20
PER_SOURCE=5
write_config "max_sessions: 400" "max_sessions_per_user: 64" \
	"auth_failures: {per_source: $PER_SOURCE, per_user: 1000, window: 60, ban: 600}"
i=0
while [ "$i" -lt "$NUSERS" ]; do
	add_user "$(printf 'load-%02d' "$i")" "[staff]" dwp
	i=$((i + 1))
done
add_user victim "[staff]" dwp
ssh-keygen -q -t ed25519 -N '' -C intruder -f "$T/keys/intruder"
start_relgated

ATTEMPTS=15
# 127.0.0.4 also sends 20 wrong-key logins at once (figure only, plus the ban).
BURST_SOURCE=127.0.0.4 timeout 110 $PY "$top_srcdir/tests/integration/security_load.py" "$PORT" \
	"$T/keys" "$NSESS" "$NUSERS" "$T/keys/intruder" "$ATTEMPTS" \
	127.0.0.2 127.0.0.3 > "$T/load.json" 2>"$T/load.err" && rc=0 || rc=$?
cat "$T/load.err"
check "the load client finished in time (rc $rc)" [ "$rc" -eq 0 ]
$PY - "$T/load.json" "$NSESS" "$PER_SOURCE" "$ATTEMPTS" > "$T/verdict" <<'PYEOF' || :
import json, sys
r = json.load(open(sys.argv[1]))
n, per, att = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
print("summary: %d/%d sessions ok, %d at once, %.1f s" % (
    r["ok"], n, r["max_concurrent"], r["elapsed"]))
for f in r["failed"][:20]:
    print("  " + f)
print("ALL_OK" if r["ok"] == n and not r["failed"] else "SESSIONS_FAILED")
print("CONCURRENT" if r["max_concurrent"] == n else "NOT_CONCURRENT")
burst = r["brute"].pop("burst 127.0.0.4", [])
print("burst 127.0.0.4 (20 at once, then one): %d refused (guesses), %d "
      "closed; the last one %s" % (burst.count("refused"),
                                   burst.count("closed"),
                                   burst[-1] if burst else "-"))
print("BURST %s" % ("OK" if burst and burst[-1] == "closed" and
                    "IN" not in burst else "BAD"))
for src, res in sorted(r["brute"].items()):
    print("brute %s: %s" % (src, " ".join(res)))
    refused = res.count("refused")
    first_closed = res.index("closed") if "closed" in res else len(res)
    # A failure is counted when its session has ended, so a client that
    # reconnects at once may get one more try before the ban is in place.
    good = ("IN" not in res and len(res) == att and
            per <= refused <= per + 1 and
            all(x == "closed" for x in res[first_closed:]) and
            res[first_closed:])
    print("BAN_%s %s" % (src, "OK" if good else "BAD"))
PYEOF
cat "$T/verdict"
check "all $NSESS sessions put and got their own bytes back" grep -qx ALL_OK "$T/verdict"
check "all $NSESS sessions were logged in at the same time" grep -qx CONCURRENT "$T/verdict"
for src in 127.0.0.2 127.0.0.3; do
	check "$src: refused with a wrong key $PER_SOURCE (or one more) times, then closed before the banner" \
		grep -qx "BAN_$src OK" "$T/verdict"
	check "audit: auth.banned for source $src" audit_has auth.banned denied "" "source $src banned"
	check "audit: auth.failed records from $src" sh -c "
		'$RELGATE' -c '$ETC' audit list --json --type auth.failed |
		$PY -c 'import json,sys; sys.exit(0 if sum(1 for l in sys.stdin if (json.loads(l)[\"source\"] or \"\").startswith(\"$src:\")) >= 1 else 1)'"
done
check "127.0.0.4's burst of 20 wrong keys at once is banned afterwards" grep -qx "BURST OK" "$T/verdict"
check "audit: auth.banned for source 127.0.0.4" audit_has auth.banned denied "" "source 127.0.0.4 banned"
check "audit: 127.0.0.1 was never banned" sh -c "! '$RELGATE' -c '$ETC' audit list --json --type auth.banned | grep -q 'source 127.0.0.1 '"
check "audit: every session logged in with key and password (auth.login ok >= $NSESS)" sh -c "
	[ \$('$RELGATE' -c '$ETC' audit list --json --type auth.login --outcome ok | grep -c 'publickey,password') -ge $NSESS ]"
check "relgated is still running" kill -0 "$PID"
finish
