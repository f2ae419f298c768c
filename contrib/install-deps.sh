#!/bin/sh
# Install what relgate needs to build, test and run on Debian 12 (as root).
set -e
if [ "$(id -u)" != 0 ]; then
	echo "install-deps.sh: run as root (apt-get)" >&2
	exit 1
fi
pkgs="build-essential autoconf automake libtool pkg-config clang
 libssh-dev libarchive-dev libgpgme-dev libyaml-dev libsqlite3-dev
 libssl-dev libpcre2-dev libseccomp-dev libcmocka-dev
 libcrypt-dev libqrencode-dev oathtool zbar-tools
 gnupg gpg-agent openssh-client openssh-server sqlite3 zstd
 lftp curl python3 python3-paramiko libcurl4-openssl-dev python3-aiosmtpd sq valgrind chromium"
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $missing
fi
