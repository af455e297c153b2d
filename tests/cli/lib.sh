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
# rank_services N CONSORTIUM PARTY: N services on this machine for distributed jobs (each its
# own sim platform key, store and policy; the policy names PARTY, whose home is $WORK/PARTY,
# as party and recipient), the first one (the leader) with a mesh launcher that runs
# `mpirun --oversubscribe -np N mc2-rank` over all N. Service r's state is $WORK/nN-sR. Sets
# RANK_SVC (the services' addresses, rank order) and RANK_PLACE (them comma-separated, for
# --place); appends the state directories to RANK_DIRS (for a trap to stop them). 1 (with a
# failed check) if a service does not start.
RANK_DIRS=()
rank_services() {
  local n=$1 cons=$2 party=$3 keys=() dirs="" r
  RANK_SVC=()
  for ((r = 0; r < n; r++)); do
    keys+=(--sim-platform-key "$("$MC2" service init --dir "$WORK/n$n-s$r")")
    dirs+="${dirs:+,}$WORK/n$n-s$r"
  done
  "$MC2" policy init --out "$WORK/c$n.yaml" --consortium "$cons" \
    --party "$party=$WORK/$party/identity.crt" --recipient "$party" \
    --enclave "$MC2_BUILD/mc2-enclave" --allow-simulation "${keys[@]}" >/dev/null
  cp "$WORK/c$n.yaml" "$WORK/$party/consortium.yaml"
  for ((r = 0; r < n; r++)); do cp "$WORK/c$n.yaml" "$WORK/n$n-s$r/policy.yaml"; done
  cat >"$WORK/launch$n.sh" <<EOF
#!/bin/sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
exec mpirun --oversubscribe --bind-to none --mca btl_vader_single_copy_mechanism none \\
  -np "\$1" "$MC2_BUILD/mc2-rank" --leader "\$2" --dirs "$dirs"
EOF
  chmod +x "$WORK/launch$n.sh"
  for ((r = 0; r < n; r++)); do
    local extra=()
    [[ $r -eq 0 ]] && extra=(--mesh-launcher "$WORK/launch$n.sh")
    if start_service "$WORK/n$n-s$r" "$WORK/c$n.yaml" "$MC2" "${extra[@]}"; then ok; else
      bad "N=$n: start host $r: $(cat "$WORK/err")"
      return 1
    fi
    RANK_DIRS+=("$WORK/n$n-s$r")
    RANK_SVC+=("$MC2_SERVICE")
  done
  RANK_PLACE=$(IFS=,; echo "${RANK_SVC[*]}")
}
# start_swtpm DIR: a software TPM (swtpm) on two free loopback ports with its state in DIR;
# SWTPM_PORT is its TPM port (control: SWTPM_PORT+1), SWTPM_PID its process, killed by the
# caller (stop_swtpm). Returns 77 if swtpm is not installed, 1 if it does not come up.
start_swtpm() {
  command -v swtpm >/dev/null 2>&1 || return 77
  mkdir -p "$1"
  for _ in 1 2 3 4 5; do
    SWTPM_PORT=$(free_port)
    swtpm socket --tpm2 --server type=tcp,port="$SWTPM_PORT",bindaddr=127.0.0.1 \
      --ctrl type=tcp,port=$((SWTPM_PORT + 1)),bindaddr=127.0.0.1 --tpmstate dir="$1" \
      --flags not-need-init,startup-clear >"$1/swtpm.log" 2>&1 &
    SWTPM_PID=$!
    for _ in $(seq 50); do
      kill -0 "$SWTPM_PID" 2>/dev/null || break
      (exec 3<>"/dev/tcp/127.0.0.1/$SWTPM_PORT") 2>/dev/null && return 0
      sleep 0.1
    done
    kill "$SWTPM_PID" 2>/dev/null
    wait "$SWTPM_PID" 2>/dev/null
  done
  return 1
}
stop_swtpm() {
  [[ -n "${SWTPM_PID:-}" ]] && kill "$SWTPM_PID" 2>/dev/null && wait "$SWTPM_PID" 2>/dev/null
  SWTPM_PID=
}
finish() {
  echo "$(basename "$0"): $T_CHECKS checks, $T_FAILS failed"
  [[ $T_CHECKS -gt 0 && $T_FAILS -eq 0 ]]
  exit $?
}
