#!/bin/sh
# relgated channels: the sftp subsystem with OpenSSH sftp and scp, several
# channels on one connection, exec/shell/forwarding refused fast, and
# connections dropped mid-handshake leave the daemon serving.
. "$top_srcdir/tests/integration/ssh_lib.sh"

write_config
add_user staff-ann "[staff]" dwp
start_relgated
refused_fast() { [ "$1" -ne 0 ] && [ "$1" -ne 124 ]; }

head -c 3000000 /dev/urandom > "$T/data.csv"
cat > "$T/put.b" <<B
mkdir /requests/r1
put $T/data.csv /requests/r1/data.csv
get /requests/r1/data.csv $T/back.csv
ls -l /requests/r1
B
check "sftp put and get" sftp_as staff-ann "$T/put.b"
check "the file came back byte for byte" cmp -s "$T/data.csv" "$T/back.csv"
check "the upload is on disk in the spool" cmp -s "$T/data.csv" "$STATE/spool/staff/staff-ann/r1/data.csv"

# scp (SFTP protocol since OpenSSH 9): exit 0 needs exit-status 0 and EOF
head -c 200000 /dev/urandom > "$T/small.csv"
check "scp upload exits 0" timeout 60 scp -q $SSH_OPTS -P "$PORT" -i "$T/keys/staff-ann" "$T/small.csv" "staff-ann@127.0.0.1:/requests/r1/small.csv"
check "scp download exits 0" timeout 60 scp -q $SSH_OPTS -P "$PORT" -i "$T/keys/staff-ann" "staff-ann@127.0.0.1:/requests/r1/small.csv" "$T/small.back"
check "scp round trip is byte for byte" cmp -s "$T/small.csv" "$T/small.back"

# exec (ssh host cmd, legacy scp -O, rclone's probes) fails fast
start=$(date +%s)
timeout 20 ssh $SSH_OPTS -p "$PORT" -i "$T/keys/staff-ann" staff-ann@127.0.0.1 echo hello > "$T/exec.out" 2>&1 && rc=0 || rc=$?
took=$(( $(date +%s) - start ))
check "ssh host cmd fails (status $rc)" refused_fast "$rc"
check "ssh host cmd fails fast (${took}s)" [ "$took" -le 10 ]
check "nothing was executed" sh -c "! grep -q hello '$T/exec.out'"
timeout 20 scp -O -q $SSH_OPTS -P "$PORT" -i "$T/keys/staff-ann" "$T/small.csv" "staff-ann@127.0.0.1:/requests/r1/legacy.csv" >/dev/null 2>&1 && rc=0 || rc=$?
check "legacy scp -O is refused (status $rc)" refused_fast "$rc"
timeout 20 ssh -tt $SSH_OPTS -p "$PORT" -i "$T/keys/staff-ann" staff-ann@127.0.0.1 </dev/null >/dev/null 2>&1 && rc=0 || rc=$?
check "an interactive shell is refused (status $rc)" refused_fast "$rc"
timeout 20 ssh $SSH_OPTS -W 127.0.0.1:$PORT -p "$PORT" -i "$T/keys/staff-ann" staff-ann@127.0.0.1 </dev/null >/dev/null 2>&1 && rc=0 || rc=$?
check "direct-tcpip forwarding (ssh -W) is refused (status $rc)" refused_fast "$rc"
timeout 20 ssh $SSH_OPTS -o ExitOnForwardFailure=yes -N -R 127.0.0.1:0:127.0.0.1:22 -p "$PORT" -i "$T/keys/staff-ann" staff-ann@127.0.0.1 </dev/null >/dev/null 2>&1 && rc=0 || rc=$?
check "remote forwarding (ssh -R) is refused (status $rc)" refused_fast "$rc"

out=$($PY "$CLIENT" login "$PORT" staff-ann "$T/keys/staff-ann" --channels 4) && rc=0 || rc=$?
check "four sftp channels on one connection ($out)" [ "$rc" -eq 0 ]

# requests far ahead of the replies: back-pressure, nothing lost or reordered
out=$(timeout 120 $PY "$CLIENT" flood "$PORT" staff-ann "$T/keys/staff-ann" /requests/r1/data.csv 200 160000 "$T/data.csv" 2>&1) && rc=0 || rc=$?
check "160200 READs sent before reading any reply all come back in order ($out)" [ "$rc" -eq 0 ]
out=$(timeout 60 $PY "$CLIENT" garbage "$PORT" staff-ann "$T/keys/staff-ann" 2>&1) && rc=0 || rc=$?
check "oversized packets (256 MiB prefix; a whole 3 MiB packet) close only their channel ($out)" [ "$rc" -eq 0 ]

# connections that stop mid-handshake
$PY - "$PORT" <<'P'
import socket, sys, time
port = int(sys.argv[1])
for payload in (b"", b"SSH-2.0-half", b"SSH-2.0-x\r\n", b"SSH-2.0-x\r\n" + b"\x00\x00\xff\xff" + b"A" * 64,
                b"GET / HTTP/1.0\r\n\r\n", b"\xff" * 4096):
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.sendall(payload)
    time.sleep(0.05)
    s.close()
P
printf 'ls /requests\n' > "$T/ls.b"
check "the daemon still serves after dropped handshakes" sftp_as staff-ann "$T/ls.b"
finish
