# dist_lib.sh - sourced by bench_dist.sh and bench_dist_sql.sh: N services on this machine
# for distributed jobs. Needs B (the build), MC2, WORK, DIRS (an array), and die().
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# bench_services N CONSORTIUM LAUNCHER_TOO: services $WORK/nN-s0..N-1, each with its own sim
# platform key, store and policy naming party alice ($WORK/alice); if LAUNCHER_TOO is 1 the
# first (the leader) gets a mesh launcher running `mpirun --oversubscribe -np N mc2-rank`.
# Sets SVC (addresses in rank order) and PLACE (comma-separated, for --place).
bench_services() {
  local n=$1 cons=$2 launcher=$3 keys=() dirs="" r d s extra
  SVC=()
  for ((r = 0; r < n; r++)); do
    d=$WORK/n$n-s$r
    DIRS+=("$d")
    keys+=(--sim-platform-key "$("$MC2" service init --dir "$d")")
    dirs+="${dirs:+,}$d"
  done
  "$MC2" policy init --out "$WORK/c$n.yaml" --consortium "$cons" \
    --party "alice=$WORK/alice/identity.crt" --recipient alice --enclave "$B/mc2-enclave" \
    --allow-simulation "${keys[@]}" >/dev/null || die "policy"
  cp "$WORK/c$n.yaml" "$WORK/alice/consortium.yaml"
  cat >"$WORK/launch$n.sh" <<EOF
#!/bin/sh
exec mpirun --oversubscribe --bind-to none -np "\$1" "$B/mc2-rank" --leader "\$2" --dirs "$dirs"
EOF
  chmod +x "$WORK/launch$n.sh"
  for ((r = 0; r < n; r++)); do
    d=$WORK/n$n-s$r
    cp "$WORK/c$n.yaml" "$d/policy.yaml"
    extra=()
    [[ $r -eq 0 && $launcher -eq 1 ]] && extra=(--mesh-launcher "$WORK/launch$n.sh")
    s=127.0.0.1:$("$B/hostscan" port)
    "$MC2" start --policy "$WORK/c$n.yaml" --dir "$d" --listen "$s" --idle-timeout 0 \
      "${extra[@]}" >/dev/null 2>"$WORK/err" || die "start: $(cat "$WORK/err")"
    SVC+=("$s")
  done
  PLACE=$(IFS=,; echo "${SVC[*]}")
}
