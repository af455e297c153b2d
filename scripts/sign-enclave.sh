#!/bin/sh
# sign-enclave.sh MC2 ENCLAVE - build step, run in the build directory: signs the enclave
# (ENCLAVE.sig) with the enclave signer key in $MC2_SIGNER_KEY, else with this user's
# development key ${XDG_CONFIG_HOME:-$HOME/.config}/mc2/enclave-signer.pem (created 0600 on
# first use). The key never lives in the build directory, nor in the service's state: whoever
# holds it can sign an enclave of their own, which every policy that trusts this signer
# (`mc2 policy init --trust-signer`) then accepts. mc2d and `make install` never need it.
# Production builds sign with the consortium's release signer (MC2_SIGNER_KEY).
set -eu
mc2=$1
enclave=$2
if [ -n "${MC2_SIGNER_KEY:-}" ]; then
  key=$MC2_SIGNER_KEY
  [ -f "$key" ] || { echo "sign-enclave.sh: MC2_SIGNER_KEY names '$key', which does not exist" >&2; exit 1; }
else
  [ -n "${HOME:-}" ] || { echo "sign-enclave.sh: set MC2_SIGNER_KEY (the enclave signer key) or HOME" >&2; exit 1; }
  dir=${XDG_CONFIG_HOME:-$HOME/.config}/mc2
  key=$dir/enclave-signer.pem
  if [ ! -f "$key" ]; then
    (umask 077 && mkdir -p "$dir")
    "$mc2" enclave keygen --out "$key" >/dev/null
    echo "sign-enclave.sh: created the development enclave signer key $key (0600)"
  fi
fi
build=$(pwd -P)
keydir=$(cd "$(dirname "$key")" && pwd -P)
case "$keydir/" in
"$build"/*)
  echo "sign-enclave.sh: refusing to sign with '$key': the signer key must live outside the build directory (the tree the service runs from)" >&2
  exit 1
  ;;
esac
# Older builds kept their development key here: it must not stay beside the service.
if [ -f enclave-signer.pem ]; then
  rm -f enclave-signer.pem
  echo "sign-enclave.sh: removed the signer key an older build left in $build"
fi
"$mc2" enclave sign --key "$key" --enclave "$enclave" >/dev/null
