# Shared set-up for the release pipeline tests (sourced, not run).
# Makes, under $T (a temp dir the caller owns):
#   $T/etc/            config dir: relgate.yaml, users/, contracts/, keys/pgp/
#   $T/state/          state dir
#   $T/client/USER/    each user's SSH key (id_ed25519)
#   $T/gpg/ORG/        each contractor organisation's GnuPG home (secret key,
#                      to decrypt), made at run time; never committed
# Contracts: TEST-2026-0001 (acme-research: person_id verify mode, 1
# approver of iam-jo/staff-ben), TEST-2026-0002 (beta-analytics: person_id
# masked by the gateway, 2 approvers).
# Layered authentication (mfa_lib.sh): every role signs in with its key and
# the run's password, which the users' files hold; the askpass in $T
# answers OpenSSH's prompt.

: "${top_builddir:?}" "${top_srcdir:?}"
RELGATE=$top_builddir/relgate
RELGATED=$top_builddir/relgated
WORKER=$top_builddir/release/relgate-worker
# Waits are tuned for native speed; make check-valgrind sets RG_SLOW (a
# factor) and the polling loops wait that many times longer.
SLOW=${RG_SLOW:-1}
. "$top_srcdir/tests/integration/mfa_lib.sh"

rl_fail() { echo "FAIL: $*" >&2; exit 1; }
rl_ok() { echo "ok - $*"; }

rl_cleanup_gpg() {
	for h in "$T"/gpg/* "$T"/state/gnupg; do
		[ -d "$h" ] && gpgconf --homedir "$h" --kill all >/dev/null 2>&1
	done
	return 0
}

# rl_gen_csv ROWS SEED [BAD] > FILE: an extract of the tests' dataset.
# BAD=nino puts a National Insurance number into one benefit_type cell.
rl_gen_csv() {
	python3 - "$@" <<'PY'
import hashlib, random, sys
rows = int(sys.argv[1]); seed = int(sys.argv[2]); bad = sys.argv[3] if len(sys.argv) > 3 else ""
rnd = random.Random(seed)
bands = ["16-24", "25-34", "35-44", "45-54", "55-64", "65+"]
out = ["person_id,age_band,sex,region,postcode_district,benefit_type,award_amount,claim_start,weeks_on_benefit"]
for i in range(rows):
    tok = hashlib.sha256(f"{seed}:{i}".encode()).hexdigest()
    bt = "Pension Credit"
    if bad == "nino" and i == rows // 2:
        bt = "JK 12 34 56 C"
    out.append(f"{tok},{bands[i % 6]},{'FM'[i % 2]},\"North East\",NE{1 + i % 9},{bt},"
               f"{rnd.randrange(0, 2000) * 5},20{15 + i % 10}-0{1 + i % 9},{rnd.randrange(1, 520)}")
sys.stdout.write("\n".join(out) + "\n")
PY
}

# rl_gen_raw ROWS SEED > FILE: respondent ids in the raw (to be masked).
rl_gen_raw() {
	python3 - "$@" <<'PY'
import sys
rows = int(sys.argv[1]); seed = int(sys.argv[2])
out = ["person_id,age_band,sex,region,postcode_district,benefit_type,award_amount,claim_start,weeks_on_benefit"]
bands = ["16-24", "25-34", "35-44", "45-54", "55-64", "65+"]
for i in range(rows):
    out.append(f"P{seed:03d}{i:07d},{bands[i % 6]},{'FM'[i % 2]},Wales,CF{1 + i % 9},ESA,{(i % 50) * 5},2020-0{1 + i % 9},{1 + i % 300}")
sys.stdout.write("\n".join(out) + "\n")
PY
}

rl_user() { # NAME ROLES ORG
	mkdir -p "$T/client/$1"
	ssh-keygen -q -t ed25519 -N '' -C "$1@test" -f "$T/client/$1/id_ed25519"
	{
		echo "roles: [$2]"
		echo "organisation: $3"
		echo "ssh_keys:"
		echo "  - $(cat "$T/client/$1/id_ed25519.pub")"
		mfa_user_yaml
	} > "$T/etc/users/$1.yaml"
}

rl_org_key() { # ORG -> prints fingerprint
	h=$T/gpg/$1
	mkdir -p -m 700 "$h"
	GNUPGHOME=$h gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
	    --quick-gen-key "$1 <releases@$1.example>" future-default default 2y 2>/dev/null
	GNUPGHOME=$h gpg --batch --armor --export > "$T/etc/keys/pgp/$1.asc"
	GNUPGHOME=$h gpg --batch --with-colons --list-keys | awk -F: '$1=="fpr"{print $10; exit}'
}

rl_contract() { # ID ORG FPR APPROVALS MODE PEOPLE
	cat > "$T/etc/contracts/$1.yaml" <<EOF
id: $1
version: 2
title: Release pipeline test $1
purpose: Exercise the release pipeline.
status: active
valid_from: 2026-01-01
valid_until: 2030-12-31
contractor:
  organisation: $2
  assurance: {scheme: ISO27001, ref: "T-1", expires: 2030-12-31}
people: [$6]
approvers: [iam-jo, staff-ben]
approvals_required: $4
recipients: [$3]
retention: {download_days: 14, max_downloads: 2}
datasets:
  claims:
    max_rows: 20000000
    max_rows_total: 100000000
    max_releases: 50
    columns:
      person_id: {masking: hmac-sha256, masking_mode: $5}
      age_band: {allowed: ["16-24","25-34","35-44","45-54","55-64","65+"]}
      sex: {allowed: [F, M]}
      region: {}
      postcode_district: {granularity: postcode-district}
      benefit_type: {}
      award_amount: {type: integer, min: 0, max: 100000, rounding: 5}
      claim_start: {type: year-month}
      weeks_on_benefit: {type: integer, min: 0}
    quasi_identifiers: [age_band, sex]
    k_anonymity: 2
EOF
}

# rl_setup PORT: the whole test configuration.
rl_setup() {
	mkdir -p "$T/etc/users" "$T/etc/contracts" "$T/etc/keys/pgp" "$T/state" "$T/gpg"
	chmod 700 "$T/state" "$T/gpg"
	mfa_setup "$T"
	cat > "$T/etc/relgate.yaml" <<EOF
listen: 127.0.0.1
port: ${1:-2222}
state_dir: $T/state
log: stderr
checkpoint_every: 50
$MFA_AUTH_YAML
EOF
	rl_user staff-ann staff dwp
	rl_user staff-ben "staff, approver" dwp
	rl_user iam-jo "staff, approver" dwp
	rl_user acme-ana contractor acme-research
	rl_user beta-bo contractor beta-analytics
	rl_user sec-oli officer dwp
	fa=$(rl_org_key acme-research)
	fb=$(rl_org_key beta-analytics)
	rl_contract TEST-2026-0001 acme-research "$fa" 1 verify acme-ana
	rl_contract TEST-2026-0002 beta-analytics "$fb" 2 apply beta-bo
	"$RELGATE" -c "$T/etc" lint >/dev/null 2>&1 || {
		"$RELGATE" -c "$T/etc" lint >&2; rl_fail "test config does not lint"; }
}

# rl_spool USER FOLDER CONTRACT FILE...: put a request into the staff spool
# as the SFTP layer would (used where no SFTP client is involved).
rl_spool() {
	u=$1 f=$2 c=$3; shift 3
	d=$T/state/spool/staff/$u/$f
	mkdir -p "$d"
	list=
	for x in "$@"; do cp "$x" "$d/"; list="$list${list:+, }$(basename "$x")"; done
	printf 'contract: %s\ndataset: claims\nfiles: [%s]\nnote: test\n' "$c" "$list" > "$d/request.yaml"
}

# rl_json FILE KEY: one top-level member of a JSON file.
rl_json() {
	python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]); print("" if v is None else v if not isinstance(v,(dict,list)) else json.dumps(v))' "$1" "$2"
}

# rl_verify_package GPGHOME PKG WORKDIR EXPECTED_CSV: decrypt with gpg,
# verify the signature with gateway.asc, sha256sum -c, compare the data.
rl_verify_package() {
	h=$1 pkg=$2 wd=$3 want=$4
	mkdir -p "$wd"
	GNUPGHOME=$h gpg --batch --quiet --import "$T/state/releases/gateway.asc" 2>/dev/null
	GNUPGHOME=$h gpg --batch --status-fd 3 --decrypt "$pkg" 3>"$wd/status" >"$wd/p.tar.zst" 2>"$wd/gpg.err" ||
		{ cat "$wd/gpg.err" >&2; rl_fail "gpg cannot decrypt $pkg"; }
	grep -q '^\[GNUPG:\] GOODSIG' "$wd/status" || rl_fail "no good signature on $pkg"
	grep -q '^\[GNUPG:\] DECRYPTION_OKAY' "$wd/status" || rl_fail "decryption not okay"
	(cd "$wd" && tar --zstd -xf p.tar.zst) || rl_fail "tar --zstd -x failed"
	rel=$(basename "$pkg" .tar.zst.gpg)
	[ -f "$wd/$rel/manifest.json" ] || rl_fail "no $rel/manifest.json"
	(cd "$wd/$rel" && sha256sum --quiet -c SHA256SUMS) || rl_fail "sha256sum -c failed in $rel"
	cmp -s "$wd/$rel/data/$(basename "$want")" "$want" || rl_fail "released data differs from the approved extract"
}

# rl_audit_has TYPE [PATTERN]: an audit record of TYPE (containing PATTERN)
# exists. The whole listing is read first (no SIGPIPE under pipefail).
rl_audit_has() {
	"$RELGATE" -c "$T/etc" audit list --type "$1" --json > "$T/audit.out" 2>/dev/null || return 1
	grep -q -- "${2:-\"type\"}" "$T/audit.out"
}

rl_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# rl_start_relgated [setsid]: start relgated on a free port (rewriting
# relgate.yaml), log in $T/relgated.log; sets RL_PID and PORT. Other
# programs on this machine may take a port between our choice and
# relgated's bind: then it is tried again on another port. Success is
# relgated's own "listening" line with its pid, not a connect that another
# server could answer.
rl_start_relgated() {
	local attempt
	for attempt in 1 2 3 4 5; do
		[ -n "${PORT:-}" ] && [ "$attempt" = 1 ] || PORT=$(rl_free_port)
		sed -i "s/^port: .*/port: $PORT/" "$T/etc/relgate.yaml"
		if [ "${1:-}" = setsid ]; then
			setsid "$RELGATED" -c "$T/etc" -f >>"$T/relgated.log" 2>&1 &
		else
			"$RELGATED" -c "$T/etc" -f >>"$T/relgated.log" 2>&1 &
		fi
		RL_PID=$!
		for _ in $(seq $((150 * SLOW))); do
			if grep -q "relgated\[$RL_PID\]: listening on" "$T/relgated.log"; then
				return 0
			fi
			kill -0 "$RL_PID" 2>/dev/null || break
			sleep 0.1
		done
		if [ "${1:-}" = setsid ]; then
			kill -KILL -- "-$RL_PID" 2>/dev/null || :
		else
			kill -KILL "$RL_PID" 2>/dev/null || :
		fi
		wait "$RL_PID" 2>/dev/null || :
	done
	tail -20 "$T/relgated.log" >&2
	rl_fail "relgated did not start"
}
