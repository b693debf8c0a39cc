#!/usr/bin/env bash
# Regenerates the TEST-ONLY certificates in test-certs/ (a throwaway CA, a wildcard server
# certificate for *.shop.example and an upstream client certificate). They are committed so that
# `tern validate --config examples/production/tern.yaml` works on a fresh clone; their private
# keys are public. Never use them for anything but trying tern out.
set -euo pipefail
cd "$(dirname "$0")/test-certs"
days=3650
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$days" \
  -subj "/CN=tern example TEST CA (do not trust)" -keyout ca.key -out ca.crt \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
leaf() {  # name, subject CN, SAN list, extended key usage
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$2" \
    -keyout "$1.key" -out "$1.csr"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days "$days" -out "$1.crt" \
    -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=%s\n' "$3" "$4")
  rm -f "$1.csr"
}
leaf shop "shop.example" "DNS:shop.example,DNS:*.shop.example" serverAuth
leaf gateway-client "edge gateway" "URI:spiffe://shop.example/gateway/edge" clientAuth
rm -f ca.srl
# The CA key is not needed to run the example.
rm -f ca.key
