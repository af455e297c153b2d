#!/usr/bin/env bash
# test_python_example.sh - the mc2 Python package as a user gets it: `make install` (cmake
# --install) puts it beside libmc2.so, and `pip install ./python` (offline, into a venv that
# sees Debian's pandas) installs it too; examples/python/two_banks.py then runs against a live
# service with each: two banks upload DataFrames, a joint query equals pandas' merge, a model
# trained over both banks predicts in the enclave what its xgboost Booster predicts locally.
# docs/api.md's C example builds against the installed header and runs.
source "$(dirname "$0")/lib.sh"
B=${MC2_BUILD:?}
SRC=${MC2_SRC:?}
PY=/usr/bin/python3
S=$WORK/service
stop_on_exit "$S"
for p in bank-a bank-b; do "$MC2" init --name "$p" --home "$WORK/$p" >/dev/null; done
PK=$("$MC2" service init --dir "$S")
"$MC2" policy init --out "$WORK/consortium.yaml" --consortium py-example \
  --party "bank-a=$WORK/bank-a/identity.crt" --party "bank-b=$WORK/bank-b/identity.crt" \
  --recipient bank-a --enclave "$B/mc2-enclave" --allow-simulation --sim-platform-key "$PK" \
  >/dev/null || bad "policy init"
for p in bank-a bank-b; do cp "$WORK/consortium.yaml" "$WORK/$p/consortium.yaml"; done
if start_service "$S" "$WORK/consortium.yaml"; then ok; else
  bad "mc2 start: $(cat "$WORK/err")"
  finish
fi
unset MC2_LIB PYTHONPATH # only the installed package and library

# `make install`: the package finds the installed libmc2.so by itself.
expect_ok "cmake --install" cmake --install "$B" --prefix "$WORK/prefix"
site=$(ls -d "$WORK"/prefix/lib/python3*/dist-packages 2>/dev/null | head -1)
check "package installed under PREFIX/lib/python3.X/dist-packages" test -f "$site/mc2/__init__.py"
expect_ok "example with the installed package" env PYTHONPATH="$site" PYTHONDONTWRITEBYTECODE=1 \
  "$PY" "$SRC/examples/python/two_banks.py" --home-a "$WORK/bank-a" --home-b "$WORK/bank-b"
check "example: joint query equals pandas" grep -q "joint query equals pandas' merge" "$WORK/out"
check "example: xgboost equals mc2" grep -q "^two_banks: ok" "$WORK/out"
check "the installed library was used" env PYTHONPATH="$site" "$PY" -c \
  "import mc2._lib as l; l.lib(); import sys; sys.exit(0 if l._find().startswith('$WORK/prefix') else 1)"

# docs/api.md's C example, built against the installed header and mc2.pc, as bank-a.
sed -n '/^```c$/,/^```$/p' "$SRC/docs/api.md" | sed '1d;$d' >"$WORK/api.c"
pc=$(dirname "$(ls "$WORK"/prefix/lib*/pkgconfig/mc2.pc)")
san=""
if nm -D "$(dirname "$pc")/libmc2.so" 2>/dev/null | grep -q __asan_init; then
  san="-fsanitize=address,undefined"
fi
expect_ok "docs/api.md example builds against mc2.pc" bash -c \
  "cc $san -Wall -Werror '$WORK/api.c' \$(PKG_CONFIG_PATH='$pc' pkg-config --cflags --libs mc2) -o '$WORK/api'"
expect_ok "docs/api.md example runs" env LD_LIBRARY_PATH="$(dirname "$pc")" MC2_HOME="$WORK/bank-a" \
  "$WORK/api"
check "docs/api.md example prints its result" test "$(cat "$WORK/out")" = "$(printf 's\n3')"

# `pip install ./python`, offline, into a venv that sees the system's pandas and xgboost.
if "$PY" -m venv --system-site-packages --without-pip "$WORK/venv" >/dev/null 2>&1; then
  cp -r "$SRC/python" "$WORK/pysrc" # pip builds in the source tree: keep the checkout clean
  expect_ok "pip install ./python (no network)" "$PY" -m pip --python "$WORK/venv/bin/python" \
    install --no-index --no-cache-dir "$WORK/pysrc"
  expect_ok "example with the pip-installed package" env MC2_LIB="$B/libmc2.so" \
    "$WORK/venv/bin/python" "$SRC/examples/python/two_banks.py" --home-a "$WORK/bank-a" \
    --home-b "$WORK/bank-b"
  check "pip-installed example ran" grep -q "^two_banks: ok" "$WORK/out"
else
  bad "python3 -m venv is missing (Debian: python3-venv)"
fi
finish
