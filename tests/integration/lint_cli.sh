#!/bin/sh
# relgate lint against the example configuration (keys made at run time by
# make-keys.sh), then against broken copies: exit status and the
# file:line:col messages a user sees.
set -u

: "${top_srcdir:?}" "${top_builddir:?}"
RELGATE="$top_builddir/relgate"
T=$(mktemp -d "${TMPDIR:-/tmp}/rg-lint.XXXXXX")
GH="$T/gnupg"
cleanup() {
	gpgconf --homedir "$GH" --kill all >/dev/null 2>&1 || :
	rm -rf "$T"
}
trap cleanup EXIT INT TERM
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# run NAME EXPECTED-STATUS ARGS...: output in $T/out, stderr in $T/err
run() {
	name=$1 want=$2
	shift 2
	"$RELGATE" "$@" >"$T/out" 2>"$T/err"
	got=$?
	if [ "$got" -ne "$want" ]; then
		fail "$name: exit $got, want $want"
		sed 's/^/  out: /' "$T/out"
		sed 's/^/  err: /' "$T/err"
	fi
}
# expect NAME TEXT: a line of the output equals TEXT
expect() {
	grep -qxF -- "$2" "$T/out" || {
		fail "$1: no line '$2'"
		sed 's/^/  out: /' "$T/out"
	}
}

D="$T/etc"
sh "$top_srcdir/contracts/examples/make-keys.sh" "$D" >/dev/null ||
	{ echo "make-keys.sh failed"; exit 1; }

# The examples lint clean; -c may stand before or after the subcommand.
run clean 0 -c "$D" lint
# (warnings, e.g. once the example contracts' dates have passed, are fine)
grep -v ': warning: ' "$T/out" && fail "clean: problems reported"
grep -q "7 users, 2 contracts loaded; 0 problems, " "$T/err" ||
	fail "clean: summary: $(cat "$T/err")"
run clean-after 0 lint -c "$D"

# An unknown key in a user file.
cp -R "$D" "$T/e1"
printf 'shell: /bin/sh\n' >> "$T/e1/users/acme-ana.yaml"
run unknown-key 1 lint -c "$T/e1"
expect unknown-key "$T/e1/users/acme-ana.yaml:7:1: user: unknown key 'shell'"
# acme-ana is then no user, so the contract naming her fails too.
expect unknown-key "$T/e1/contracts/DWP-2026-0042.yaml:14:10: person 'acme-ana' is not a user (no valid users/acme-ana.yaml)"
grep -q "6 users, 1 contract loaded; 2 problems" "$T/err" ||
	fail "unknown-key: summary: $(cat "$T/err")"

# An approver who is not staff; a wrong type; a bad date.
cp -R "$D" "$T/e2"
sed -i 's/^roles: \[staff, approver\]/roles: [approver]/' \
	"$T/e2/users/iam-sam.yaml"
sed -i 's/^version: 1$/version: one/' "$T/e2/contracts/DWP-2026-0051.yaml"
sed -i 's/^valid_until: 2030-12-31/valid_until: 2030-02-30/' \
	"$T/e2/users/acme-raj.yaml"
run mixed 1 -c "$T/e2" lint
# (an approver must be staff: the user file is bad, named at its roles:
# line, and the contract naming iam-sam fails with it)
expect mixed "$T/e2/users/iam-sam.yaml:2:8: an approver must also hold the staff role (roles: [staff, approver])"
expect mixed "$T/e2/contracts/DWP-2026-0042.yaml:15:21: approver 'iam-sam' is not a user (no valid users/iam-sam.yaml)"
expect mixed "$T/e2/contracts/DWP-2026-0051.yaml:6:10: 'version' must be a whole number"
expect mixed "$T/e2/users/acme-raj.yaml:6:14: 'valid_until' is not a valid date (YYYY-MM-DD): '2030-02-30'"
n=$(grep -vc ': warning: ' "$T/out")
[ "$n" -eq 5 ] || fail "mixed: want 5 problems, got $n"
grep -q "5 users, 0 contracts loaded; 5 problems" "$T/err" ||
	fail "mixed: summary: $(cat "$T/err")"
expect mixed "$T/e2/contracts/DWP-2026-0042.yaml:14:20: person 'acme-raj' is not a user (no valid users/acme-raj.yaml)"

# A person of another organisation; a recipient whose key was removed.
cp -R "$D" "$T/e3"
sed -i 's/^people: \[beta-bo\]/people: [beta-bo, acme-ana]/' \
	"$T/e3/contracts/DWP-2026-0051.yaml"
rm "$T/e3/keys/pgp/acme-research.asc"
run org-and-key 1 lint -c "$T/e3"
expect org-and-key "$T/e3/contracts/DWP-2026-0051.yaml:17:19: person 'acme-ana' belongs to organisation 'acme-research', not the contractor 'beta-analytics'"
fpr=$(sed -n 's/^  - \([0-9A-F]\{40\}\)$/\1/p' "$T/e3/contracts/DWP-2026-0042.yaml")
expect org-and-key "$T/e3/contracts/DWP-2026-0042.yaml:18:5: recipient $fpr has no key in keys/pgp"

# An expired recipient key (made in the past with a frozen clock).
cp -R "$D" "$T/e4"
mkdir -m 700 "$GH"
GNUPGHOME="$GH" gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
	--faked-system-time '20200101T000000!' --quick-gen-key \
	'Old <old@beta.example>' future-default default 1d >/dev/null 2>&1
old=$(GNUPGHOME="$GH" gpg --batch --with-colons --list-keys 2>/dev/null |
	awk -F: '$1 == "fpr" { print $10; exit }')
GNUPGHOME="$GH" gpg --batch --armor --export "$old" \
	> "$T/e4/keys/pgp/beta-analytics.asc" 2>/dev/null
sed -i "s/^  - [0-9A-F]\{40\}$/  - $old/" "$T/e4/contracts/DWP-2026-0051.yaml"
run expired 1 lint -c "$T/e4"
expect expired "$T/e4/contracts/DWP-2026-0051.yaml:21:5: recipient $old: key in beta-analytics.asc expired on 2020-01-02"

# Malformed YAML and a duplicate key.
cp -R "$D" "$T/e5"
printf 'roles: [officer\n' > "$T/e5/users/sec-oli.yaml"
sed -i 's/^title: \(.*\)/title: \1\ntitle: again/' \
	"$T/e5/contracts/DWP-2026-0042.yaml"
run malformed 1 lint -c "$T/e5"
grep -q "^$T/e5/users/sec-oli.yaml:2:1: YAML syntax error" "$T/out" ||
	fail "malformed: $(cat "$T/out")"
expect malformed "$T/e5/contracts/DWP-2026-0042.yaml:7:1: contract: duplicate key 'title' (first at line 6)"

# Warnings (an account that has ended) leave the exit status alone.
cp -R "$D" "$T/e6"
sed -i 's/^valid_until: 2030-12-31/valid_until: 2020-01-31/' \
	"$T/e6/users/acme-raj.yaml"
run warning 0 lint -c "$T/e6"
expect warning "$T/e6/users/acme-raj.yaml: warning: the account of 'acme-raj' ended on 2020-01-31 (valid_until): it cannot log in"
grep -q "7 users, 2 contracts loaded; 0 problems, [1-9][0-9]* warning" "$T/err" ||
	fail "warning: summary: $(cat "$T/err")"

# A typo under auth: in relgate.yaml is named where it is.
cp -R "$D" "$T/e7"
n=$(wc -l < "$T/e7/relgate.yaml")
printf 'auth:\n  staff: [publickey, totp]\n  aprover: [publickey, password]\n' \
	>> "$T/e7/relgate.yaml"
run auth-typo 1 lint -c "$T/e7"
expect auth-typo "$T/e7/relgate.yaml:$((n + 3)):3: auth: unknown key 'aprover'"
printf 'auth:\n  staff: [password, totp]\n' > "$T/e7/relgate.yaml"
run auth-nokey 1 lint -c "$T/e7"
expect auth-nokey "$T/e7/relgate.yaml:2:10: 'staff' must list publickey or security-key: the SSH key comes first, and relgate has no login without one"

# Roles that require a password: users without password_hash are warned
# about (they still load); one with a hash is not.
cp -R "$D" "$T/e8"
printf 'auth:\n  approver: [publickey, password, totp]\n' >> "$T/e8/relgate.yaml"
printf 'password_hash: $y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC7ntBwN7P33ohK5\n' \
	>> "$T/e8/users/iam-sam.yaml"
run password-warning 0 lint -c "$T/e8"
expect password-warning "$T/e8/users/iam-jo.yaml: warning: the roles of 'iam-jo' (approver) require a password, but the file has no password_hash: 'iam-jo' cannot log in until one from \`relgate passwd iam-jo\` is added"
grep -q "iam-sam" "$T/out" && fail "password-warning: iam-sam has a hash"
grep -q "7 users, 2 contracts loaded; 0 problems, " "$T/err" ||
	fail "password-warning: summary: $(cat "$T/err")"

# Key options: only verify-required / no-touch-required, on security keys.
cp -R "$D" "$T/e9"
sed -i 's/^  - ssh-ed25519/  - restrict,verify-required ssh-ed25519/' \
	"$T/e9/users/sec-oli.yaml"
sed -i 's/^  - ssh-ed25519/  - verify-required ssh-ed25519/' \
	"$T/e9/users/staff-ann.yaml"
run key-options 1 lint -c "$T/e9"
expect key-options "$T/e9/users/sec-oli.yaml:5:5: key option 'restrict' is not supported: relgate understands only verify-required and no-touch-required, on security keys (sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com)"
expect key-options "$T/e9/users/staff-ann.yaml:5:5: key option 'verify-required' applies only to security keys (sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com), not to this ssh-ed25519 key"

# A directory that cannot be read is exit 2.
run missing 2 -c "$T/nope" lint
grep -q "cannot read configuration directory" "$T/err" ||
	fail "missing: $(cat "$T/err")"
run usage 2 -c "$D" lint --bogus

[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "lint_cli: all passed"
