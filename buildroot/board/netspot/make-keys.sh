#!/bin/sh
#
# make-keys.sh DIR [NAME]: makes a certificate authority and a bundle
# signing key in DIR, for RAUC:
#
#   keyring.pem       the CA certificate: the box's keyring
#                     (/etc/rauc/keyring.pem); it installs only bundles
#                     signed by a key that this CA certified
#   ca.key.pem        the CA's private key (to certify more signing keys)
#   signing.cert.pem  the signing certificate, and
#   signing.key.pem   its private key: what make-bundle.sh signs with
#
# The image build calls it when its key directory is empty: such keys are
# development keys. Keep DIR (and keep it private): a box accepts the
# bundles signed with it, and no others.
#
# Needs openssl.
#

set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 DIR [NAME]" >&2
	exit 2
fi
dir=$1
name=${2:-netspot development}
mkdir -p "$dir"
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 36500 \
	-subj "/O=netspot/CN=$name CA" -keyout "$dir/ca.key.pem" -out "$dir/keyring.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj "/O=netspot/CN=$name bundle signing" -keyout "$dir/signing.key.pem" -out "$tmp/signing.csr" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n' >"$tmp/ext"
openssl x509 -req -in "$tmp/signing.csr" -CA "$dir/keyring.pem" -CAkey "$dir/ca.key.pem" \
	-CAcreateserial -CAserial "$tmp/serial" -days 36500 -extfile "$tmp/ext" \
	-out "$dir/signing.cert.pem" 2>/dev/null
chmod 0644 "$dir/keyring.pem" "$dir/signing.cert.pem"
echo "make-keys: CA and signing key for '$name' in $dir"
