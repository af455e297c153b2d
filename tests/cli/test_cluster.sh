#!/usr/bin/env bash
# test_cluster.sh - `mc2 cluster` over real SSH to three "hosts": network namespaces made by
# netns_hosts.sh (a bridge in the root namespace, one veth pair per host, private 10.x.y.z
# addresses chosen from this run's pid so that parallel runs do not collide), each running its
# own sshd (host key, config and authorized key generated there) and its own store directory.
# The hosts run the mc2 binaries of this build directory (namespaces share the filesystem; a
# real cluster installs mc2 on each host). Checks: `cluster init` prints each host's sim platform key; `up`
# refuses a policy missing a host's key, naming the host; `up` starts three services, `status`
# shows them with their enclaves, a client in the root namespace attests each one with
# `mc2 attest --service ADDR:PORT`; a port taken on one host fails `up` naming that host and
# stops the hosts already started; `down` stops all, a second `down` is a no-op; a host whose
# sshd is stopped, or which lacks mc2, gives an error naming it. Everything (namespaces,
# sshd and mc2d processes, the bridge) is torn down on exit, also on failure.
# Needs root, `ip netns` and sshd (openssh-server): otherwise it SKIPs (exit 77).
source "$(dirname "$0")/lib.sh"
B=${MC2_BUILD:?MC2_BUILD must point at the build directory}
skip() {
  echo "SKIP: $* (test_cluster needs root, iproute2's ip netns and openssh-server's sshd)"
  rm -rf "$WORK"
  exit 77
}
source "$(dirname "$0")/netns_hosts.sh"

# expect_rc DESC CODE CMD...: exits with CODE (stdout in $WORK/out).
expect_rc() {
  local d=$1 code=$2
  shift 2
  "$@" >"$WORK/out" 2>"$WORK/err"
  local rc=$?
  if [[ $rc -eq $code ]]; then ok; else bad "$d: exit $rc, wanted $code: $(cat "$WORK/err")"; fi
}
cleanup() {
  [[ -f $WORK/state/cluster.conf ]] && "$MC2" cluster down --dir "$WORK/state" >/dev/null 2>&1
  netns_cleanup
  rm -rf "$WORK"
}
trap cleanup EXIT
netns_setup
expect_ok "ssh logs in to the three hosts" ssh -F "$K/config" -o BatchMode=yes "${ADDR[2]}" true

# ---- the cluster ----
cat >"$WORK/hosts" <<EOF
# three hosts; Open MPI's hostfile format, mc2's own settings in '# mc2:' comments
${ADDR[0]} slots=1   # mc2: dir=$WORK/h1
${ADDR[1]} slots=2   # mc2: dir=$WORK/h2 port=7401

${ADDR[2]}           # mc2: dir=$WORK/h3
EOF
PORT=(7350 7401 7350)
RM=(--remote-mc2 "$B/mc2" --ssh-config "$K/config")
S=$WORK/state

expect_ok "mc2 cluster --help" "$MC2" cluster --help
check "cluster help names the hostfile format" grep -q "mpirun --hostfile" "$WORK/out"
expect_ok "mc2 cluster up --help" "$MC2" cluster up --help
expect_fail "cluster up without --hostfile" 2 "hostfile" "$MC2" cluster up --dir "$S"
expect_fail "cluster status without a cluster" 1 "no cluster recorded" "$MC2" cluster status --dir "$WORK/none"

expect_ok "mc2 cluster init" "$MC2" cluster init --hostfile "$WORK/hosts" "${RM[@]}"
KEYS=()
for a in "${ADDR[@]}"; do KEYS+=("$(awk -v a="$a" '$1 == a {print $2}' "$WORK/out")"); done
check "cluster init prints three distinct 64-hex keys" \
  bash -c '[[ ${#1} -eq 64 && ${#2} -eq 64 && ${#3} -eq 64 && $1 != "$2" && $2 != "$3" ]]' _ "${KEYS[@]}"
check "each host keeps its platform key in its own store" test -f "$WORK/h2/platform.key"

"$MC2" init --name alice --home "$WORK/alice" >/dev/null
CERT=$WORK/alice/identity.crt
POL=$WORK/policy.yaml
"$MC2" policy init --out "$WORK/policy-one-key.yaml" --consortium c --party "alice=$CERT" \
  --enclave "$B/mc2-enclave" --allow-simulation --sim-platform-key "${KEYS[0]}" >/dev/null
expect_ok "policy init with three sim platform keys" "$MC2" policy init --out "$POL" \
  --consortium c --party "alice=$CERT" --recipient alice --enclave "$B/mc2-enclave" \
  --allow-simulation --sim-platform-key "${KEYS[0]}" --sim-platform-key "${KEYS[1]}" \
  --sim-platform-key "${KEYS[2]}"

expect_fail "cluster up refuses a policy missing host 2's key, naming it" 1 \
  "host ${ADDR[1]}: its sim platform key ${KEYS[1]} is not in the policy" \
  "$MC2" cluster up --hostfile "$WORK/hosts" --policy "$WORK/policy-one-key.yaml" --dir "$S" "${RM[@]}"
expect_fail "cluster up: mc2 missing on the hosts" 1 "host ${ADDR[0]}: mc2 is not installed" \
  "$MC2" cluster up --hostfile "$WORK/hosts" --policy "$POL" --dir "$S" \
  --remote-mc2 /nonexistent/mc2 --ssh-config "$K/config"

expect_ok "mc2 cluster up (three hosts)" "$MC2" cluster up --hostfile "$WORK/hosts" --policy "$POL" --dir "$S" "${RM[@]}"
check "cluster up reports three running services" test "$(grep -c 'mc2d running on' "$WORK/out")" -eq 3
expect_ok "mc2 cluster status" "$MC2" cluster status --dir "$S"
cp "$WORK/out" "$WORK/status.txt"
for i in 0 1 2; do
  check "status: host ${ADDR[$i]} runs mc2d with its enclave" \
    grep -Eq "^${ADDR[$i]} +${ADDR[$i]}:${PORT[$i]} +mc2d \(pid [0-9]+\) +0 +running, backend sim; measurement" "$WORK/status.txt"
  expect_ok "attest host ${ADDR[$i]}'s enclave from the root namespace" "$MC2" attest \
    --service "${ADDR[$i]}:${PORT[$i]}" --home "$WORK/alice" --policy "$POL"
  check "attestation of ${ADDR[$i]} verified with its own platform key" \
    grep -q "platform key: ${KEYS[$i]}" "$WORK/out"
done
echo "--- mc2 cluster status:"; cat "$WORK/status.txt"
check "status: 3 of 3 answer" grep -q "^3 of 3 host(s) answer" "$WORK/status.txt"
check "each host got the policy, no secret copied" cmp -s "$POL" "$WORK/h3/cluster-policy.yaml"

expect_ok "mc2 cluster down" "$MC2" cluster down --dir "$S"
check "down stopped three services" test "$(grep -c 'mc2d stopped' "$WORK/out")" -eq 3
expect_ok "a second cluster down is a no-op" "$MC2" cluster down --dir "$S"
check "second down: three hosts not running" test "$(grep -c 'was not running' "$WORK/out")" -eq 3
expect_rc "status after down: exit 1, hosts DOWN" 1 "$MC2" cluster status --dir "$S"
check "status after down shows DOWN" test "$(grep -c ' DOWN ' "$WORK/out")" -eq 3

# A port already taken on host 3: up fails naming it, and hosts 1 and 2 are stopped again.
ip netns exec "${NS[2]}" "$MC2" start --policy "$POL" --dir "$WORK/squatter" --listen "${ADDR[2]}:7350" >/dev/null 2>&1
expect_fail "cluster up: port in use on host 3" 1 "host ${ADDR[2]}: mc2d did not start on ${ADDR[2]}:7350: .*(listen|in use)" \
  "$MC2" cluster up --hostfile "$WORK/hosts" --policy "$POL" --dir "$S" "${RM[@]}"
echo "--- port in use:"; cat "$WORK/err"
ip netns exec "${NS[2]}" "$MC2" stop --dir "$WORK/squatter" >/dev/null 2>&1
expect_rc "after a failed up no host is left running" 1 "$MC2" cluster status --dir "$S"
check "after a failed up: hosts 1 and 2 DOWN" test "$(grep -c ' DOWN ' "$WORK/out")" -eq 3

# A host whose sshd is stopped: up and down name it.
P1=$(cat "$K/sshd1.bgpid")
kill "$P1" 2>/dev/null
for _ in $(seq 50); do kill -0 "$P1" 2>/dev/null || break; sleep 0.1; done
expect_fail "cluster up with host 2's sshd stopped names it" 1 "host ${ADDR[1]}: ssh failed" \
  "$MC2" cluster up --hostfile "$WORK/hosts" --policy "$POL" --dir "$S" "${RM[@]}"
expect_fail "cluster down with host 2's sshd stopped names it" 1 "host ${ADDR[1]}: ssh failed" \
  "$MC2" cluster down --dir "$S"
echo "--- sshd stopped:"; cat "$WORK/err"
finish
