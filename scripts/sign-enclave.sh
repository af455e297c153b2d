#!/bin/sh
# sign-enclave.sh MC2 ENCLAVE - build step: sign the enclave with the development signer key
# kept in the build directory (created on first use). Production signs with its own key.
set -e
[ -f enclave-signer.pem ] || "$1" enclave keygen --out enclave-signer.pem >/dev/null
"$1" enclave sign --key enclave-signer.pem --enclave "$2" >/dev/null
