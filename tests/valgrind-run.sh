#!/bin/sh
# tests/valgrind-run.sh — automake's LOG_COMPILER and SH_LOG_COMPILER for
# make check-valgrind (tests/valgrind.inc): runs ONE test of TESTS with
# every relgate-owned program it starts under valgrind memcheck.
#
#   valgrind-run.sh ENVFILE TEST [ARGS...]
#
# A test program (tests/unit/*, tests/fuzz/replay_*) is started under
# valgrind. A test script (*.sh) is run with top_builddir pointing at
# $RG_VG_TOP, a stand-in build folder whose relgate, relgated,
# release/relgate-worker and audit/rg-audit-tool are scripts that exec
# valgrind on the real programs (made by tests/valgrind.inc), so every
# relgated, session process, audit writer, release worker and CLI run the
# script starts is checked. Processes forked without exec are followed by
# valgrind itself (each gets its own log: --log-file=...%p); programs they
# exec (gpg, gpgconf, gpg-agent, ...) are not ours and run natively
# (--trace-children=no: no relgate program execs another relgate program).
#
# The test fails when it fails by itself, or when any of its processes'
# valgrind logs reports an error (memory error or definitely lost block:
# --errors-for-leak-kinds=definite). Logs: $RG_VG_LOGS/TESTNAME/*.log.
#
# ENVFILE (written by tests/valgrind.inc) sets RG_VG_TOP, RG_VG_LOGS,
# RG_VG_CMD (valgrind with its flags), top_srcdir, and exports what the
# tests read (RG_SLOW, RELGATE_SANDBOX).
set -u
. "$1"
: "${RG_VG_TOP:?}" "${RG_VG_LOGS:?}" "${RG_VG_CMD:?}" "${top_srcdir:?}"

t=$2
shift 2
name=$(basename "$t" .sh)
logs=$RG_VG_LOGS/$name
rm -rf "$logs"
mkdir -p "$logs"
# Session processes may have dropped privileges (run_as) when they fork:
# a forked child re-opens its own log file, so anyone may create one here.
chmod 1777 "$logs"
export RG_VG_LOGDIR="$logs"

case " ${RG_VG_NATIVE:-} " in
*" $name "*)
	echo "valgrind: $t runs natively (RG_VG_NATIVE, see tests/valgrind.inc)"
	env -u RELGATE_SANDBOX -u RG_SLOW -u RG_VALGRIND "$t" "$@"
	exit $?
	;;
esac

case $t in
*.sh)
	top_builddir=$RG_VG_TOP
	export top_builddir top_srcdir
	${RG_VG_SHELL:-/bin/sh} "$t" "$@"
	rc=$?
	;;
*)
	# shellcheck disable=SC2086
	$RG_VG_CMD --log-file="$logs/$(basename "$t").%p.log" "$t" "$@"
	rc=$?
	;;
esac

# Processes still running under valgrind (a daemon's children finishing
# their leak check after the test script returned): wait for them, up to
# a minute. A log without "ERROR SUMMARY" whose process is gone was
# either a child that exec'd a program not traced (gpg) or a process killed
# with SIGKILL (release_crash.sh does so on purpose): nothing to check.
waited=0
while :; do
	busy=
	for f in "$logs"/*.log; do
		[ -f "$f" ] || continue
		grep -q 'ERROR SUMMARY:' "$f" && continue
		p=${f%.log}
		p=${p##*.}
		case $(readlink "/proc/$p/exe" 2>/dev/null) in
		*valgrind*|*memcheck*) busy="$busy $p" ;;
		esac
	done
	[ -z "$busy" ] && break
	if [ "$waited" -ge 60 ]; then
		echo "valgrind: processes still running after the test:$busy"
		break
	fi
	sleep 1
	waited=$((waited + 1))
done

checked=0 bad=0 other=0
for f in "$logs"/*.log; do
	[ -f "$f" ] || continue
	if ! grep -q 'ERROR SUMMARY:' "$f"; then
		other=$((other + 1))
		continue
	fi
	checked=$((checked + 1))
	if grep -qE 'ERROR SUMMARY: [1-9]' "$f"; then
		bad=$((bad + 1))
		echo "==== valgrind: errors in $f"
		grep -E '^==[0-9]+== Command:' "$f" | head -1
		# each error with its stack
		awk '/^==[0-9]+== (Invalid|Conditional|Use of|Syscall param|Mismatched|Source and destination|Argument|[0-9,]+ (\([0-9,]+ direct, [0-9,]+ indirect\) )?bytes in [0-9,]+ blocks are definitely lost)/{p=1}
		     p&&/^==[0-9]+== *$/{p=0; print "--"}
		     p' "$f" | head -200
	fi
done
echo "valgrind: $checked process(es) checked, $bad with errors," \
    "$other exec'd or killed (logs in $logs)"
[ "$bad" -ne 0 ] && exit 1
exit "$rc"
