#!/usr/bin/env bash
# dev-pki.sh [DIR] — a development CA and signing key for RAUC bundles (default DIR:
# build/fourcast-dev-pki, where the layer looks by default). Development boards trust this
# CA; a release is signed with the release key, kept offline, never with this one.
set -euo pipefail
dir=${1:-build/fourcast-dev-pki}
mkdir -p "$dir"
cd "$dir"
[ -f ca.cert.pem ] && { echo "$dir already has a CA"; exit 0; }
openssl req -x509 -newkey rsa:4096 -nodes -days 3650 -subj "/O=Fourcast/CN=Fourcast development CA" \
  -keyout ca.key.pem -out ca.cert.pem
openssl req -newkey rsa:4096 -nodes -subj "/O=Fourcast/CN=Fourcast development-1" \
  -keyout development-1.key.pem -out development-1.csr.pem
openssl x509 -req -in development-1.csr.pem -CA ca.cert.pem -CAkey ca.key.pem \
  -CAcreateserial -days 3650 -out development-1.cert.pem
echo "development CA and key in $dir"
