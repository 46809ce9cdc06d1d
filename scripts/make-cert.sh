#!/usr/bin/env bash
# Makes a self-signed certificate for local TLS and wss (CN and SAN localhost, 127.0.0.1) with
# the openssl CLI, unless DIR already holds one:
#
#   scripts/make-cert.sh DIR [--container]
#
# Writes DIR/cert.pem and DIR/key.pem (EC P-256, 365 days). The key is 0600; with --container
# it is 0644, so the gateway's non-root user in the image (uid 10001) can read it from a
# bind mount (docker-compose.yml). For anything public use a real certificate.
set -euo pipefail
dir=${1:?usage: make-cert.sh DIR [--container]}
mode=600
[[ ${2:-} == --container ]] && mode=644
if [[ -s $dir/cert.pem && -s $dir/key.pem ]]; then
  chmod "$mode" "$dir/key.pem"
  exit 0
fi
mkdir -p "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
  -keyout "$dir/key.pem" -out "$dir/cert.pem" -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1
chmod "$mode" "$dir/key.pem"
echo "make-cert.sh: self-signed certificate for localhost in $dir/cert.pem (key $dir/key.pem)" >&2
