#!/usr/bin/env bash
# fuzz.sh SECONDS - build the libFuzzer targets with clang (ASan+UBSan) and run each for
# SECONDS, starting from its seed corpus in fuzz/corpus/NAME. Prints "fuzz: ok NAME" or
# "fuzz: FAILED NAME" per target; exits non-zero if any target crashed.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-300}
dir=build-fuzz
CC=clang cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DMC2_FUZZ=ON -DCMAKE_C_FLAGS="-O1 -g" \
  >/dev/null || { echo "fuzz: FAILED configure"; exit 1; }
cmake --build "$dir" -j "$(nproc)" || { echo "fuzz: FAILED build"; exit 1; }
rc=0
for f in fuzz/fuzz_*.c; do
  name=$(basename "$f" .c)
  work=$dir/corpus/$name
  mkdir -p "$work" "$dir/artifacts"
  seeds=()
  [[ -d fuzz/corpus/$name ]] && seeds=(fuzz/corpus/$name)
  if "$dir/$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$dir/artifacts/$name-" "$work" "${seeds[@]}" >"$dir/$name.log" 2>&1; then
    echo "fuzz: ok $name ($(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$dir/$name.log" | tail -n 1) runs)"
  else
    echo "fuzz: FAILED $name (see $dir/$name.log)"
    tail -n 40 "$dir/$name.log"
    rc=1
  fi
done
exit $rc
