#!/usr/bin/env bash
# test.sh - everything `make test` runs: bootstrap, format check, the release build and its
# tests, the ASan+UBSan build and its tests, and short libFuzzer runs. Ends with the line
# "N passed, M failed" and exits non-zero if anything failed.
#   MC2_TEST_QUICK=1   skip the sanitizer build and the fuzz runs (local iteration only)
#   MC2_FUZZ_SECONDS   seconds per fuzz target (default 10)
set -uo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc)
passed=0
failed=0
failures=()
skipped=() # tests ctest did not run (a missing capability: exit 77); not counted as passed

pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); failures+=("$1"); echo "FAILED: $1"; }

bash scripts/bootstrap.sh || { echo "bootstrap failed"; echo "0 passed, 1 failed"; exit 1; }

echo "== format check"
if bash scripts/format-check.sh; then pass; else fail "clang-format"; fi

# run_suite NAME BUILD_DIR CMAKE_ARGS...: configure, build, ctest; adds ctest's counts.
run_suite() {
  local name=$1 dir=$2
  shift 2
  echo "== $name: configure and build ($dir)"
  mkdir -p "$dir"
  if ! cmake -S . -B "$dir" "$@" >"$dir/configure.log" 2>&1; then
    cat "$dir/configure.log"
    fail "$name: configure"
    return
  fi
  if ! cmake --build "$dir" -j "$JOBS" >"$dir/build.log" 2>&1; then
    tail -n 60 "$dir/build.log"
    fail "$name: build"
    return
  fi
  echo "== $name: tests"
  local log="$dir/ctest.log"
  (cd "$dir" && ctest --output-on-failure -j "$JOBS" --timeout 900) 2>&1 | tee "$log"
  local line total nfail
  line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
  if [[ -z "$line" ]]; then fail "$name: ctest produced no summary"; return; fi
  nfail=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
  # ctest counts a skipped test (SKIP_RETURN_CODE) among the passed ones: take it out.
  local skip
  mapfile -t skip < <(grep -E '^[[:space:]]*[0-9]+ - .* \(Skipped\)' "$log" |
    sed -E 's/^[[:space:]]*[0-9]+ - ([^ ]+).*/\1/')
  skipped+=("${skip[@]/#/$name: }")
  passed=$((passed + total - nfail - ${#skip[@]}))
  failed=$((failed + nfail))
  if ((nfail > 0)); then failures+=("$name: $nfail ctest test(s)"); fi
}

run_suite release build -DCMAKE_BUILD_TYPE=Release
if [[ -z "${MC2_TEST_QUICK:-}" ]]; then
  run_suite asan+ubsan build-asan -DCMAKE_BUILD_TYPE=Debug -DMC2_SANITIZE=ON \
    -DCMAKE_C_FLAGS=-O1
  echo "== fuzz: short runs"
  mkdir -p build-fuzz
  if bash scripts/fuzz.sh "${MC2_FUZZ_SECONDS:-10}" >build-fuzz/fuzz.log 2>&1; then
    grep -E '^fuzz:' build-fuzz/fuzz.log
    n=$(grep -c '^fuzz: ok' build-fuzz/fuzz.log)
    passed=$((passed + n))
  else
    grep -E '^fuzz:' build-fuzz/fuzz.log
    tail -n 60 build-fuzz/fuzz.log
    n=$(grep -c '^fuzz: ok' build-fuzz/fuzz.log)
    passed=$((passed + n))
    fail "fuzz"
  fi
fi

echo
if ((${#skipped[@]})); then
  echo "Skipped (not counted as passed; each says why above):"
  printf '  %s\n' "${skipped[@]}"
fi
if ((${#failures[@]})); then
  echo "Failures:"
  printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
((failed == 0))
