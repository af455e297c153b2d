# lib.sh - helpers for the CLI tests (sourced). Counts checks; `finish` prints a summary
# and exits 1 if any check failed or none ran.
set -u
MC2=${MC2_BIN:?MC2_BIN must point at the mc2 binary}
T_CHECKS=0
T_FAILS=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mc2-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# stop_on_exit DIR: on exit (also on failure), stop the service whose state is in DIR, then
# remove $WORK.
stop_on_exit() {
  # shellcheck disable=SC2064
  trap "'$MC2' stop --dir '$1' >/dev/null 2>&1; rm -rf '$WORK'" EXIT
}

ok() { T_CHECKS=$((T_CHECKS + 1)); }
bad() {
  T_CHECKS=$((T_CHECKS + 1))
  T_FAILS=$((T_FAILS + 1))
  echo "FAIL: $*" >&2
}
# expect_ok DESC CMD...: the command exits 0.
expect_ok() {
  local d=$1
  shift
  if "$@" >"$WORK/out" 2>"$WORK/err"; then ok; else
    bad "$d (exit $?): $(cat "$WORK/err")"
  fi
}
# expect_fail DESC CODE PATTERN CMD...: exits with CODE and stderr matches PATTERN (grep -E).
expect_fail() {
  local d=$1 code=$2 pat=$3
  shift 3
  "$@" >"$WORK/out" 2>"$WORK/err"
  local rc=$?
  if [[ $rc -ne $code ]]; then
    bad "$d: exit $rc, wanted $code; stderr: $(cat "$WORK/err")"
  elif ! grep -Eq -- "$pat" "$WORK/err"; then
    bad "$d: stderr does not match /$pat/: $(cat "$WORK/err")"
  else ok; fi
}
check() { # check DESC CONDITION-COMMAND...
  local d=$1
  shift
  if "$@"; then ok; else bad "$d"; fi
}
# free_port: a free loopback TCP port (the OS picks it; another process may still take it).
free_port() { "${MC2_BUILD:?MC2_BUILD must point at the build directory}/hostscan" port; }
# start_service DIR POLICY [MC2 [ARG...]]: `mc2 start` (with the ARGs) on a free port, exported
# as MC2_SERVICE; tries another port when the one picked was taken meanwhile (tests run in
# parallel). Returns mc2 start's exit code; its stderr is in $WORK/err.
start_service() {
  local dir=$1 pol=$2 mc2=${3:-$MC2} rc=1
  shift $(($# < 3 ? $# : 3))
  for _ in 1 2 3 4 5; do
    MC2_SERVICE=127.0.0.1:$(free_port)
    export MC2_SERVICE
    "$mc2" start --policy "$pol" --dir "$dir" --listen "$MC2_SERVICE" "$@" >"$WORK/out" 2>"$WORK/err"
    rc=$?
    [[ $rc -ne 0 ]] && grep -q "cannot listen" "$WORK/err" || break
  done
  return $rc
}
finish() {
  echo "$(basename "$0"): $T_CHECKS checks, $T_FAILS failed"
  [[ $T_CHECKS -gt 0 && $T_FAILS -eq 0 ]]
  exit $?
}
