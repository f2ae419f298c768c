#!/bin/sh
# relgated --demo: makes the documented setup, serves it on 127.0.0.1 and
# prints the sftp command lines; then the whole story with real clients:
# staff-ann submits the sample, iam-jo approves, acme-ana downloads the
# release and decrypts it with the demo GnuPG home; beta-bo sees nothing of
# it; sec-oli reads the audit view. Every user signs in as the demo says:
# the key, then a verification code from client/USER/totp.secret (the
# askpass of mfa_lib.sh runs oathtool); a user who signs in again waits
# for the next code, as a person would (each code is taken once).
. "$top_srcdir/tests/integration/ssh_lib.sh"

D=$T/demo
"$RELGATED" --demo "$D" --port "$PORT" > "$T/demo.out" 2>>"$LOG" &
PID=$!
for _ in $(seq 300); do
	$PY -c "import socket; socket.create_connection(('127.0.0.1',$PORT),0.2)" 2>/dev/null && break
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.1
done
sleep 0.5
ETC=$D/etc	# audit_has

for f in etc/relgate.yaml etc/users/staff-ann.yaml etc/users/staff-ben.yaml \
    etc/users/iam-jo.yaml etc/users/acme-ana.yaml etc/users/beta-bo.yaml \
    etc/users/sec-oli.yaml etc/contracts/DEMO-2026-0001.yaml \
    etc/contracts/DEMO-2026-0002.yaml etc/keys/pgp/acme-ana.asc \
    etc/keys/pgp/beta-bo.asc client/acme-ana/id_ed25519 \
    client/sec-oli/id_ed25519 sample/claims_sample.csv sample/request.yaml; do
	check "the demo made $f" [ -s "$D/$f" ]
done
check "the contractors' GnuPG homes are owner-only" sh -c "[ \$(stat -c %a '$D/client/acme-ana/gnupg') = 700 ] && [ \$(stat -c %a '$D/client/beta-bo/gnupg') = 700 ]"
check "the demo relgate.yaml listens on loopback and logs to stderr" sh -c "grep -q '^listen: 127.0.0.1' '$D/etc/relgate.yaml' && grep -q '^log: stderr' '$D/etc/relgate.yaml' && grep -q '^state_dir: $D/state' '$D/etc/relgate.yaml'"
check "no private key is in the config directory" sh -c "! grep -rl 'PRIVATE KEY' '$D/etc'"
check "relgate lint accepts the demo configuration" "$RELGATE" lint -c "$D/etc"
check "the sample passes relgate check" "$RELGATE" check -c "$D/etc" --contract DEMO-2026-0001 "$D/sample/claims_sample.csv"
for u in staff-ann staff-ben iam-jo acme-ana beta-bo sec-oli; do
	check "the printed usage has the sftp line for $u" grep -q "sftp -P $PORT -i $D/client/$u/id_ed25519 .*$u@127.0.0.1" "$T/demo.out"
	check "the printed usage has the code line for $u" grep -q "oathtool --totp -b \$(cat $D/client/$u/totp.secret)" "$T/demo.out"
	check "$u's TOTP secret is owner-only" [ "$(stat -c %a "$D/client/$u/totp.secret" 2>/dev/null)" = 600 ]
	cp "$D/client/$u/totp.secret" "$RG_TEST_TOTP_DIR/$u" 2>/dev/null || :
done

# BatchMode=no before -b: keyboard-interactive (the code) stays on
O="-q -P $PORT -o UserKnownHostsFile=$D/client/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=no -o LogLevel=ERROR"
as() { u=$1; shift; totp_wait "$u"; timeout 60 sftp $O -i "$D/client/$u/id_ed25519" -b "$1" "$u@127.0.0.1"; }

cat > "$T/submit.b" <<B
mkdir /requests/sample1
put $D/sample/claims_sample.csv /requests/sample1/
put $D/sample/request.yaml /requests/sample1/
B
# In the same session staff-ann then reads status.json once the checks
# are done: polling with a login each time would need a new code each
# time. The wait is on the host (the status.json the worker writes into
# the spool, which the view serves).
st() { $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["state"])' "$1" 2>/dev/null || :; }
then_status() {
	cat "$T/submit.b"
	for _ in $(seq $((100 * SLOW))); do
		[ "$(st "$D/state/spool/staff/staff-ann/sample1/status.json")" = awaiting_approval ] && break
		sleep 0.3
	done
	printf 'get /requests/sample1/status.json %s/status.json\n' "$T"
}
then_status | as staff-ann - > "$T/submit.out" 2>&1 && rc=0 || rc=$?
check "staff-ann submits the sample (the printed known_hosts matches)" [ "$rc" -eq 0 ]
check "audit: staff-ann signed in with the key and a code" audit_has auth.login ok staff-ann "publickey,totp"
state=$(st "$T/status.json")
check "the request passes its checks and awaits approval ($state)" [ "$state" = awaiting_approval ]
req=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["request"])' "$T/status.json" 2>/dev/null || echo none)
printf 'decision: approve\nreason: Demo test.\n' > "$T/decision.yaml"
printf 'put %s/decision.yaml /approvals/%s/decision.yaml\n' "$T" "$req" > "$T/approve.b"
check "iam-jo approves $req" as iam-jo "$T/approve.b"
rel=
for _ in $(seq 100); do
	rel=$(ls "$D/state/releases/DEMO-2026-0001" 2>/dev/null | grep '\.tar\.zst\.gpg$' || :)
	[ -n "$rel" ] && break
	sleep 0.3
done
check "a release is published ($rel)" [ -n "$rel" ]
mkdir -p "$T/dl"
printf 'get /releases/DEMO-2026-0001/%s %s/dl/\n' "$rel" "$T" > "$T/get.b"
check "acme-ana downloads it" as acme-ana "$T/get.b"
check "acme-ana decrypts it with the demo GnuPG home and the checksums hold" sh -c "
	cd '$T/dl' && GNUPGHOME='$D/client/acme-ana/gnupg' gpg -q --batch -d '$rel' 2>/dev/null | tar --zstd -x &&
	cd '${rel%.tar.zst.gpg}' && sha256sum -c --quiet SHA256SUMS"
check "gpg names the gateway's good signature in the demo GnuPG home" sh -c "
	GNUPGHOME='$D/client/acme-ana/gnupg' gpg --batch -d '$T/dl/$rel' 2>&1 >/dev/null |
	grep -q 'Good signature from \"relgate gateway'"
gpgconf --homedir "$D/client/acme-ana/gnupg" --kill all 2>/dev/null || :
printf 'ls /releases/DEMO-2026-0001\n' > "$T/peek.b"
check "beta-bo cannot see DEMO-2026-0001's releases" sh -c "! timeout 60 sftp $O -i '$D/client/beta-bo/id_ed25519' -b '$T/peek.b' beta-bo@127.0.0.1 >/dev/null 2>&1"
check "audit: beta-bo did sign in (so the refusal was the view's)" audit_has auth.login ok beta-bo "publickey,totp"
printf 'ls /audit\n' > "$T/audit.b"
check "sec-oli lists the audit view" as sec-oli "$T/audit.b"

kill -TERM "$PID"; wait "$PID" || :; PID=
"$RELGATED" --demo "$D" --port "$PORT" > "$T/demo2.out" 2>&1 &
PID=$!
for _ in $(seq 100); do $PY -c "import socket; socket.create_connection(('127.0.0.1',$PORT),0.2)" 2>/dev/null && break; sleep 0.1; done
check "a second --demo on the same folder reuses it (the release is still there)" [ -s "$D/state/releases/DEMO-2026-0001/$rel" ]
check "and serves it" as acme-ana "$T/peek.b"
finish
