#!/bin/sh
# Make the example configuration usable: generate the contractors' test
# OpenPGP keys (public parts only are kept) into DEST/keys/pgp and write
# their fingerprints into DEST/contracts/*.yaml in place of the committed
# placeholders.
#
#   make-keys.sh [DEST]
#
# With DEST, the example relgate.yaml, users/ and contracts/ are copied
# there first; without it the examples folder itself is changed. Keys are
# made at run time in a temporary GnuPG home, which is removed afterwards:
# nothing secret is ever written into DEST or committed.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
dest=${1:-$here}

if [ "$dest" != "$here" ]; then
	mkdir -p "$dest"
	cp "$here/relgate.yaml" "$dest/"
	cp -R "$here/users" "$here/contracts" "$dest/"
fi
mkdir -p "$dest/keys/pgp"

GNUPGHOME=$(mktemp -d "${TMPDIR:-/tmp}/relgate-make-keys.XXXXXX")
export GNUPGHOME
cleanup() {
	gpgconf --homedir "$GNUPGHOME" --kill all >/dev/null 2>&1 || :
	rm -rf "$GNUPGHOME"
}
trap cleanup EXIT INT TERM

# organisation  placeholder fingerprint in the committed contracts
for pair in acme-research:AC3E00000000000000000000000000000000A0A1 \
    beta-analytics:BE7A00000000000000000000000000000000B0B1; do
	org=${pair%%:*}
	placeholder=${pair#*:}
	uid="$org releases <releases@$org.example>"
	gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
	    --quick-gen-key "$uid" future-default default 2y 2>/dev/null
	fpr=$(gpg --batch --with-colons --list-keys "=$uid" 2>/dev/null |
	    awk -F: '$1 == "fpr" { print $10; exit }')
	[ -n "$fpr" ] || { echo "make-keys.sh: no key made for $org" >&2; exit 1; }
	gpg --batch --armor --export "$fpr" > "$dest/keys/pgp/$org.asc"
	for f in "$dest"/contracts/*.yaml; do
		sed "s/$placeholder/$fpr/g" "$f" > "$f.tmp" && mv "$f.tmp" "$f"
	done
	echo "$org: $fpr -> keys/pgp/$org.asc"
done
