#!/usr/bin/env bash
# test_install.sh - `make install PREFIX=...` gives a working mc2, mc2d, mc2-enclave (+sig),
# libmc2.so with headers, the TPC-H schemas (which the installed `mc2 gen --help` cites),
# and an mc2.pc that a program can build against; no signer key.
source "$(dirname "$0")/lib.sh"
P=$WORK/prefix
expect_ok "cmake --install" cmake --install "$MC2_BUILD" --prefix "$P"
for f in bin/mc2 bin/mc2d bin/mc2-enclave bin/mc2-enclave.sig include/mc2/table.h \
  include/mc2/crypto.h; do
  check "installed $f" test -e "$P/$f"
done
check "libmc2.so installed" bash -c "ls '$P'/lib*/libmc2.so* >/dev/null 2>&1"
# The TPC-H schemas `mc2 gen --help` cites are installed, and the installed mc2 finds them.
for t in region nation supplier customer part partsupp orders lineitem; do
  check "installed share/mc2/schemas/tpch/$t.yaml" test -s "$P/share/mc2/schemas/tpch/$t.yaml"
done
expect_ok "installed mc2 gen --help" "$P/bin/mc2" gen --help
check "mc2 gen --help cites the installed schemas" grep -q -- "--schema $(realpath "$P")/share/mc2/schemas/tpch/lineitem.yaml" "$WORK/out"
pc=$(dirname "$(ls "$P"/lib*/pkgconfig/mc2.pc)")
cat >"$WORK/use.c" <<'C'
#include <mc2/crypto.h>
#include <stdio.h>
int main(void)
{
    unsigned char h[32];
    mc2_err e;
    if (mc2_sha256("abc", 3, h, &e)) return 1;
    printf("%02x%02x%02x%02x\n", h[0], h[1], h[2], h[3]);
    return 0;
}
C
# A sanitizer build of libmc2.so needs its runtime in the program too.
san=""
if nm -D "$(dirname "$pc")/libmc2.so" 2>/dev/null | grep -q __asan_init; then
  san="-fsanitize=address,undefined"
fi
expect_ok "build against mc2.pc" bash -c "cc $san '$WORK/use.c' \$(PKG_CONFIG_PATH='$pc' pkg-config --cflags --libs mc2) -o '$WORK/use'"
expect_ok "run against libmc2.so" env LD_LIBRARY_PATH="$(dirname "$pc")" "$WORK/use"
check "SHA-256 through libmc2" grep -qx ba7816bf "$WORK/out"
expect_ok "installed enclave signature verifies" "$P/bin/mc2" enclave info
check "signature valid" grep -q "signature:   valid" "$WORK/out"
# The signer key stays with whoever signs: nothing installed holds a key.
keys=$(find "$P" -name '*.pem' | head -3)
check "no *.pem installed (found: $keys)" test -z "$keys"
finish
