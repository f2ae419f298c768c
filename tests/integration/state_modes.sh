# tests/integration/state_modes.sh — sourced: what relgated makes under a
# state directory when it runs without run_as (the demo, a non-root run).
#
# state_not_owner_only DIR: prints every folder under DIR (DIR too) that is
# not 0700 and every file that is not 0600; sockets and the like are
# skipped (their folder's mode is what guards them).
state_not_owner_only() {
	find "$1" \( -type d ! -perm 700 \) -printf '%m %p\n' -o \
	    \( -type f ! -perm 600 \) -printf '%m %p\n'
}

# state_read_by_other DIR: as root, tries to read every file under DIR as
# nobody (another unprivileged account, as other services run); prints each
# one it could read. Needs root and setpriv; prints "cannot test" otherwise.
state_read_by_other() {
	if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null 2>&1 ||
	    ! id nobody >/dev/null 2>&1; then
		echo "cannot test: needs root, setpriv and nobody"
		return 0
	fi
	find "$1" -type f | while read -r f; do
		if setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
		    cat "$f" >/dev/null 2>&1; then
			echo "$f"
		fi
	done
}
