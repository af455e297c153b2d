#!/usr/bin/env bash
# bench_gbdt.sh - GBDT training benchmark (not run by `make test`): synthetic 1,000,000 x 28
# binary classification, 100 rounds, max_depth 6, max_bin 256, 2 threads; mc2's training
# time and test AUC against xgboost 1.7.4 hist (nthread=2) on the same data in the same run.
# Goals: mc2 time <= 1.2x xgboost's, |dAUC| <= 0.002. Then oblivious mode on a reduced
# workload (see the end).  Usage: bench/bench_gbdt.sh [BUILD_DIR]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-${MC2_BUILD:-$SRC/build}}
if [[ ! -x $BUILD/gbdt_tool ]]; then
  cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" --target gbdt_tool -j "$(nproc)" >/dev/null
fi
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 "$SRC/tests/gbdt/parity.py" --tool "$BUILD/gbdt_tool" --workdir "$W" --bench
# Oblivious mode: the same 1M x 28 data, depth 6 and max_bin 256, but 10 rounds (100 take
# about 15 minutes; docs/gbdt.md "Oblivious mode"); override with MC2_OBLIV_ROWS /
# MC2_OBLIV_ROUNDS / MC2_OBLIV_BINS. The script prints what ran and the ratios against
# mc2-normal and xgboost on the same workload.
/usr/bin/python3 "$SRC/tests/gbdt/parity.py" --tool "$BUILD/gbdt_tool" --workdir "$W" --bench-obliv \
  --obliv-rows "${MC2_OBLIV_ROWS:-1000000}" --obliv-rounds "${MC2_OBLIV_ROUNDS:-10}" \
  --obliv-bins "${MC2_OBLIV_BINS:-256}"
