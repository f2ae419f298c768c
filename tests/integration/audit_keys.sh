#!/bin/sh
# key.added and key.expired: relgated records each contractor OpenPGP key in
# keys/pgp when it first loads it, records nothing new for an unchanged key
# on reload, and records key.expired for a key whose expiry has passed
# (the contract that names it becomes unavailable: config.rejected).
. "$top_srcdir/tests/integration/ssh_lib.sh"

G=$T/gnupg
mkdir -m 700 "$G"
mkkey() { # mkkey UID EXPIRE [FAKETIME]
	ft=${3:+--faked-system-time $3!}
	GNUPGHOME=$G gpg -q --batch --pinentry-mode loopback --passphrase '' $ft \
	    --quick-gen-key "$1" ed25519 cert,sign "$2" 2>/dev/null
	f=$(GNUPGHOME=$G gpg --list-keys --with-colons "$1" | awk -F: '/^fpr/{print $10; exit}')
	GNUPGHOME=$G gpg -q --batch --pinentry-mode loopback --passphrase '' $ft \
	    --quick-add-key "$f" cv25519 encr "$2" 2>/dev/null
	GNUPGHOME=$G gpg -q --armor --export "$f" > "$ETC/keys/pgp/$4.asc"
	echo "$f"
}
FPR_OK=$(mkkey 'Ok Contractor <ok@example.invalid>' 2y '' ok)
write_config
add_user ana "[contractor]" acme
add_user jo "[staff, approver]" dwp
start_relgated
sleep 1

check "key.added is recorded for the key on first load" audit_has key.added ok "" "$FPR_OK"
n_before=$(audit_json | grep -c '"key.added"' || :)

# A key that expired yesterday (made two days ago, valid for one day).
past=$(date -u -d '2 days ago' +%Y%m%dT%H%M%S)
FPR_OLD=$(mkkey 'Old Contractor <old@example.invalid>' 1d "$past" old)
cat > "$ETC/contracts/OLD-1.yaml" <<Y
id: OLD-1
version: 1
title: t
purpose: p
status: active
valid_from: 2020-01-01
valid_until: 2099-01-01
contractor: {organisation: acme, assurance: {scheme: ISO27001, ref: X, expires: 2099-01-01}}
people: [ana]
approvers: [jo]
approvals_required: 1
recipients: [$FPR_OLD]
retention: {download_days: 1, max_downloads: 1}
datasets:
  d: {max_rows: 10, columns: {a: {}}}
Y
kill -HUP "$PID"
for _ in $(seq 50); do audit_has config.reloaded ok "" "" && break; sleep 0.1; done
sleep 0.5
check "key.expired is recorded for the expired key on reload" audit_has key.expired failed "" "$FPR_OLD"
check "the contract naming the expired key is rejected" audit_has config.rejected failed "" "expired"
n_after=$(audit_json | grep -c '"key.added"' || :)
check "an unchanged key is not recorded again on reload" [ "$n_before" = "$n_after" ]
check "the audit chain verifies" "$RELGATE" -c "$ETC" audit verify
gpgconf --homedir "$G" --kill all >/dev/null 2>&1 || :
finish
