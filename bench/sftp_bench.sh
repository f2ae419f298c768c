#!/usr/bin/env bash
# SFTP throughput of relgated against OpenSSH's sshd + internal-sftp, both
# on loopback in the same run, with the OpenSSH sftp client and the same
# cipher: one get and one put of a SIZE_MB file each, then CONC sessions at
# once each downloading a 16 MiB file (aggregate MB/s), with the resident
# memory of each server's per-connection processes sampled during that run.
#
#   bench/sftp_bench.sh            (1 GiB; SIZE_MB=256 CONC=16 for a quick look)
#
# Environment: top_builddir (default: ./ when run from a build folder),
# SIZE_MB (1024), CONC (64), CIPHER (aes128-gcm@openssh.com), REPS (1),
# VERBOSE (set: print every timed run).
# Ratios are relgated / OpenSSH: >= 1.0 means relgated is as fast or faster.
# Each timed transfer starts after sync(1); the order alternates per REP and
# the best of the REPs counts (with REPS > 1 the median ratios are shown
# too). Every put makes a new file. relgated fsyncs an upload before it answers
# CLOSE (internal-sftp does not), so its put carries that cost.
set -euo pipefail
builddir=${top_builddir:-$PWD}
relgated=$builddir/relgated
[ -x "$relgated" ] || { echo "no relgated in $builddir (build first)" >&2; exit 2; }
size_mb=${SIZE_MB:-1024}; conc=${CONC:-64}; cipher=${CIPHER:-aes128-gcm@openssh.com}
reps=${REPS:-1}
work=$(mktemp -d "${TMPDIR:-/tmp}/relgate-bench.XXXXXX")
rpid= spid=
cleanup() {
	[ -n "$rpid" ] && kill "$rpid" 2>/dev/null || :
	[ -n "$spid" ] && kill "$spid" 2>/dev/null || :
	sleep 0.5; rm -rf "$work"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }

echo "sftp_bench: ${size_mb} MiB get/put, ${conc} x 16 MiB concurrent gets, cipher $cipher"
head -c $((size_mb * 1048576)) /dev/urandom > "$work/big"
head -c $((16 * 1048576)) /dev/urandom > "$work/f16"
ssh-keygen -q -t ed25519 -N '' -f "$work/user"

# ---- OpenSSH sshd + internal-sftp (the peer) -------------------------------
sport=$(port)
ssh-keygen -q -t ed25519 -N '' -f "$work/host"
cp "$work/user.pub" "$work/authorized_keys"
mkdir -p "$work/ossh"
cat > "$work/sshd_config" <<CFG
Port $sport
ListenAddress 127.0.0.1
HostKey $work/host
AuthorizedKeysFile $work/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
PidFile $work/sshd.pid
UsePAM no
StrictModes no
MaxStartups 200
MaxSessions 200
CFG
mkdir -p /run/sshd 2>/dev/null || :
"$(command -v sshd || echo /usr/sbin/sshd)" -f "$work/sshd_config" -E "$work/sshd.log"
for _ in $(seq 50); do [ -s "$work/sshd.pid" ] && break; sleep 0.1; done
spid=$(cat "$work/sshd.pid")

# ---- relgated ---------------------------------------------------------------
# The key alone for every role, as for the sshd above: this bench measures
# transfers, and a TOTP code is taken once per user (CONC sessions of one
# user could not all sign in). What the second factors cost at login is
# measured by bench/login_bench.sh.
rport=$(port)
mkdir -p "$work/etc/users" "$work/etc/contracts" "$work/etc/keys/pgp"
cat > "$work/etc/relgate.yaml" <<CFG
listen: 127.0.0.1
port: $rport
state_dir: $work/state
log: stderr
max_sessions: 256
max_sessions_per_user: 256
auth:
  staff: [publickey]
  approver: [publickey]
  contractor: [publickey]
  officer: [publickey]
CFG
printf 'roles: [staff]\norganisation: bench\nssh_keys:\n  - %s\n' "$(cat "$work/user.pub")" \
	> "$work/etc/users/bench.yaml"
"$relgated" -c "$work/etc" -f 2> "$work/relgated.log" &
rpid=$!
for _ in $(seq 100); do
	python3 -c "import socket; socket.create_connection(('127.0.0.1',$rport),0.2)" 2>/dev/null && break
	sleep 0.1
done

opts=(-q -c "$cipher" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
      -o BatchMode=yes -o LogLevel=ERROR -i "$work/user")
me=$(id -un)
# run_batch SERVER BATCH: sftp to the named server
run_batch() {
	if [ "$1" = openssh ]; then sftp "${opts[@]}" -P "$sport" -b "$2" "$me@127.0.0.1" >/dev/null
	else sftp "${opts[@]}" -P "$rport" -b "$2" "bench@127.0.0.1" >/dev/null; fi
}
# Where each server keeps the files (relgated: the staff view).
printf 'mkdir /requests/b\n' > "$work/mk.b"; run_batch relgated "$work/mk.b"
o_dir=$work/ossh; r_dir=/requests/b

# CPU seconds the server's finished connection processes used (cutime +
# cstime of the listening process): a load-independent cost per transfer.
cpu_children() {
	python3 -c "import os; f=open('/proc/$1/stat').read().rsplit(')',1)[1].split(); print((int(f[13])+int(f[14]))/os.sysconf('SC_CLK_TCK'))"
}
declare -A T C A
measure() { # measure KEY SERVER BATCH
	local t0 t1 c0 c1 p
	if [ "$2" = openssh ]; then p=$spid; else p=$rpid; fi
	# Every put makes a new file (truncating a 1 GiB one costs the
	# filesystem time that would count against whoever overwrites).
	case $1 in
	o_put*) rm -f "$work/ossh/big" ;;
	r_put) rm -f "$work/state/spool/staff/bench/b/big" ;;
	esac
	# Whatever is read is read from memory for both: this machine's
	# memory manager pages out cold page cache within seconds, which
	# made either server's get read the disk at random.
	case $1 in
	*_put*) cat "$work/big" > /dev/null ;;
	o_get) cat "$work/ossh/big" > /dev/null ;;
	r_get) cat "$work/state/spool/staff/bench/b/big" > /dev/null ;;
	esac
	# Start each transfer with no dirty pages left by the one before (a
	# 1 GiB write still being flushed throttles the next writer).
	sync; sleep 0.2
	c0=$(cpu_children "$p"); t0=$(now); run_batch "$2" "$3"; t1=$(now)
	sleep 0.3; c1=$(cpu_children "$p")
	[ -z "${VERBOSE:-}" ] || echo "  $1: $(python3 -c "print(round($t1 - $t0, 2))") s, server CPU $(python3 -c "print(round($c1 - $c0, 2))") s" >&2
	T[$1]=$(python3 -c "print(min(${T[$1]:-1e9}, $t1 - $t0))")
	A[$1]="${A[$1]:-} $(python3 -c "print($t1 - $t0)")"
	C[$1]=$(python3 -c "print(min(${C[$1]:-1e9}, $c1 - $c0))")
}
echo "put $work/big $o_dir/big" > "$work/op.b"
echo "put $work/big $r_dir/big" > "$work/rp.b"
echo "put -f $work/big $o_dir/big" > "$work/opf.b"	# fsync@openssh.com after
echo "get $o_dir/big $work/o_got" > "$work/og.b"
echo "get $r_dir/big $work/r_got" > "$work/rg.b"
for rep in $(seq "$reps"); do
	# who goes first alternates from one repetition to the next
	if [ $((rep % 2)) -eq 1 ]; then
		measure o_putf openssh "$work/opf.b"
		measure o_put openssh "$work/op.b"; measure r_put relgated "$work/rp.b"
		measure o_get openssh "$work/og.b"; measure r_get relgated "$work/rg.b"
	else
		measure o_putf openssh "$work/opf.b"
		measure r_put relgated "$work/rp.b"; measure o_put openssh "$work/op.b"
		measure r_get relgated "$work/rg.b"; measure o_get openssh "$work/og.b"
	fi
	cmp -s "$work/big" "$work/o_got" && cmp -s "$work/big" "$work/r_got" &&
	    cmp -s "$work/big" "$work/state/spool/staff/bench/b/big" ||
	    { echo "sftp_bench: a transfer was not byte for byte" >&2; exit 1; }
	rm -f "$work/o_got" "$work/r_got" "$work/ossh/big"
done
rm -f "$work/state/spool/staff/bench/b/big"

# ---- concurrent downloads ---------------------------------------------------
echo "put $work/f16 $o_dir/f16" > "$work/o16.b"; run_batch openssh "$work/o16.b"
echo "put $work/f16 $r_dir/f16" > "$work/r16.b"; run_batch relgated "$work/r16.b"
rss_sample() { # rss_sample PARENT-PID: KiB of each direct child, one a line
	for c in $(ps -o pid= --ppid "$1"); do
		awk '/^VmRSS:/ {print $2}' "/proc/$c/status" 2>/dev/null || :
	done
}
concurrent() { # concurrent SERVER SRC PARENT-PID -> seconds; RSS into $work/rss.SERVER
	local t0 t1 i pids=()
	t0=$(now)
	for i in $(seq "$conc"); do
		echo "get $2 $work/c.$1.$i" > "$work/c.$1.$i.b"
		run_batch "$1" "$work/c.$1.$i.b" & pids+=($!)
	done
	sleep 1; rss_sample "$3" > "$work/rss.$1"
	wait "${pids[@]}"
	t1=$(now)
	for i in $(seq "$conc"); do cmp -s "$work/f16" "$work/c.$1.$i" ||
	    { echo "sftp_bench: concurrent $1 get $i differs" >&2; exit 1; }; rm -f "$work/c.$1.$i"; done
	python3 -c "print($t1 - $t0)"
}
o_conc=$(concurrent openssh "$o_dir/f16" "$spid")
r_conc=$(concurrent relgated "$r_dir/f16" "$rpid")

python3 - "$size_mb" "$conc" "${T[o_get]}" "${T[r_get]}" "${T[o_put]}" "${T[r_put]}" \
    "$o_conc" "$r_conc" "$work/rss.openssh" "$work/rss.relgated" \
    "${C[o_get]}" "${C[r_get]}" "${C[o_put]}" "${C[r_put]}" "${T[o_putf]}" \
    "${A[o_get]}" "${A[r_get]}" "${A[o_put]}" "${A[r_put]}" <<'PY'
import statistics, sys
size, conc, og, rg, op, rp, oc, rc = sys.argv[1:9]
cog, crg, cop, crp = map(float, sys.argv[11:15])
opf = float(sys.argv[15])
size, conc = float(size) * 1.048576, int(conc)
og, rg, op, rp, oc, rc = map(float, (og, rg, op, rp, oc, rc))
def rss(path):
    v = [int(x) for x in open(path).read().split() if x.strip()]
    return (sum(v) / len(v) / 1024, max(v) / 1024, len(v)) if v else (0, 0, 0)
agg = conc * 16 * 1.048576
print(f"get  {size:.0f} MB: openssh {og:.2f} s ({size/og:.0f} MB/s)  relgated {rg:.2f} s ({size/rg:.0f} MB/s)  ratio {og/rg:.2f}x")
print(f"put  {size:.0f} MB: openssh {op:.2f} s ({size/op:.0f} MB/s)  relgated {rp:.2f} s ({size/rp:.0f} MB/s)  ratio {op/rp:.2f}x")
if len(sys.argv[16].split()) > 1:
    med = [statistics.median(map(float, a.split())) for a in sys.argv[16:20]]
    print(f"median of {len(sys.argv[16].split())} runs: get ratio {med[0]/med[1]:.2f}x, put ratio {med[2]/med[3]:.2f}x")
print(f"put  {size:.0f} MB, OpenSSH durable too (put -f: fsync before done): openssh {opf:.2f} s ({size/opf:.0f} MB/s)  relgated {rp:.2f} s  ratio {opf/rp:.2f}x")
print(f"server CPU per transfer (user+sys of the connection processes): get openssh {cog:.2f} s relgated {crg:.2f} s; put openssh {cop:.2f} s relgated {crp:.2f} s")
print(f"{conc} x 16 MiB gets: openssh {oc:.2f} s ({agg/oc:.0f} MB/s)  relgated {rc:.2f} s ({agg/rc:.0f} MB/s)  ratio {oc/rc:.2f}x")
for name, p in (("openssh sshd", sys.argv[9]), ("relgated", sys.argv[10])):
    a, m, n = rss(p)
    print(f"memory per connection process ({name}): mean {a:.1f} MiB, max {m:.1f} MiB over {n} processes")
PY
