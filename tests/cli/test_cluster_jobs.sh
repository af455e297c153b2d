#!/usr/bin/env bash
# test_cluster_jobs.sh - distributed jobs on a cluster started by `mc2 cluster up` over SSH: three
# "hosts" (network namespaces with their own sshd, netns_hosts.sh), the leader's mesh launcher
# written by `cluster up` (mpirun over the same SSH set-up, one mc2-rank per host). A client in
# the root namespace: places a table with `mc2 upload --cluster STATE` (each host stores only
# its part); runs a two-party SQL join on the leader (both parties' whole tables uploaded there,
# one enclave, the other owner approves); runs rowcount and GBDT train with `param ranks 3`
# over the placed table and checks the count, and the model against one-enclave training of
# the same data (docs/gbdt.md's tolerance, with xgboost; without it: the number of trees);
# runs a two-party SQL join on 3 ranks over both parties' placed tables (`mc2 sql --ranks 3`,
# the other owner approves) and checks its count and sum.
# Then `cluster down`. Everything is torn down on exit, also on failure.
# Needs root, ip netns, sshd, Open MPI and a build with mc2-rank: otherwise it SKIPs (exit 77).
source "$(dirname "$0")/lib.sh"
B=${MC2_BUILD:?MC2_BUILD must point at the build directory}
PY=/usr/bin/python3
skip() {
  echo "SKIP: $* (test_cluster_jobs needs root, ip netns, sshd, Open MPI and mc2-rank)"
  rm -rf "$WORK"
  exit 77
}
command -v mpirun >/dev/null || skip "no mpirun (apt install openmpi-bin libopenmpi-dev)"
[[ -x $B/mc2-rank ]] || skip "this build found no MPI (no mc2-rank)"
source "$(dirname "$0")/netns_hosts.sh"
S=$WORK/state
# Host 2's state directory is relative (to the ssh login's home): `cluster up` makes it absolute.
H2REL=.mc2-cluster-jobs-$$
H2=$(getent passwd "$(id -un)" | cut -d: -f6)/$H2REL
cleanup() {
  [[ -f $S/cluster.conf ]] && "$MC2" cluster down --dir "$S" >/dev/null 2>&1
  netns_cleanup
  rm -rf "$WORK" "$H2"
}
trap cleanup EXIT
netns_setup
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}

cat >"$WORK/hosts" <<EOF
${ADDR[0]} slots=1   # mc2: dir=$WORK/h1
${ADDR[1]} slots=1   # mc2: dir=$H2REL
${ADDR[2]} slots=1   # mc2: dir=$WORK/h3
EOF
RM=(--remote-mc2 "$B/mc2" --ssh-config "$K/config")
expect_ok "mc2 cluster init" "$MC2" cluster init --hostfile "$WORK/hosts" "${RM[@]}"
KEYS=()
for a in "${ADDR[@]}"; do KEYS+=(--sim-platform-key "$(awk -v a="$a" '$1 == a {print $2}' "$WORK/out")"); done
for p in bank-a bank-b; do "$MC2" init --name "$p" --home "$WORK/$p" >/dev/null; done
"$MC2" policy init --out "$WORK/c.yaml" --consortium cj --party "bank-a=$WORK/bank-a/identity.crt" \
  --party "bank-b=$WORK/bank-b/identity.crt" --recipient bank-a --enclave "$B/mc2-enclave" \
  --allow-simulation "${KEYS[@]}" >/dev/null
for p in bank-a bank-b; do cp "$WORK/c.yaml" "$WORK/$p/consortium.yaml"; done
sed "s|dir=$WORK/h3|dir=$WORK/h,3|" "$WORK/hosts" >"$WORK/hosts-comma"
echo "${ADDR[0]} # mc2: port=7399 dir=$WORK/h1b" >>"$WORK/hosts-comma"
expect_fail "cluster up refuses a state directory with ',' (mc2-rank's --dirs list)" 1 \
  "host ${ADDR[2]}: its state directory '$WORK/h,3' contains ','" \
  "$MC2" cluster up --hostfile "$WORK/hosts-comma" --policy "$WORK/c.yaml" --dir "$S" "${RM[@]}"
check "a host named twice gets a note (one rank per host)" \
  grep -q "note: host ${ADDR[0]} is named twice" "$WORK/err"
expect_ok "mc2 cluster up" "$MC2" cluster up --hostfile "$WORK/hosts" --policy "$WORK/c.yaml" --dir "$S" "${RM[@]}"
echo "--- the leader's mesh launcher:"; cat "$WORK/h1/mesh-launch.sh"
check "the leader got the launcher, the state keeps a copy" cmp -s "$S/mesh-launch.sh" "$WORK/h1/mesh-launch.sh"
check "the leader got the hostfile" cmp -s "$WORK/hosts" "$WORK/h1/cluster-hosts"
check "only the leader has a launcher" test ! -e "$H2/mesh-launch.sh"
check "the launcher names host 2's relative state directory by its absolute path" \
  grep -q ",$H2," "$WORK/h1/mesh-launch.sh"
export MC2_SERVICE=${ADDR[0]}:7350
A=(--home "$WORK/bank-a")

# ---- a two-party SQL join on the leader (one enclave) ----
EX=$MC2_SRC/examples
expect_ok "bank-a uploads to the leader" "$MC2" upload "${A[@]}" --schema "$EX/accounts.yaml" --in "$EX/accounts.csv" --as accounts
expect_ok "bank-b uploads to the leader" "$MC2" upload --home "$WORK/bank-b" --schema "$EX/accounts.yaml" --in "$EX/accounts-b.csv" --as accounts
expect_ok "two-owner join submitted" "$MC2" sql "${A[@]}" --recipient bank-a \
  --input a=bank-a/accounts --input b=bank-b/accounts \
  "SELECT a.holder, b.balance FROM a JOIN b ON a.holder = b.holder"
job=$(sed -n 's/^job \([0-9]*\) is waiting.*/\1/p' "$WORK/out")
expect_ok "bank-b approves" "$MC2" approve "${job:-0}" --home "$WORK/bank-b"
expect_ok "bank-a downloads the join" "$MC2" download --job "${job:-0}" "${A[@]}" --out "$WORK/j.csv"
check "join result" grep -qx "Ada Lovelace,250.00" "$WORK/j.csv"

# ---- a table placed on the three hosts; rowcount and train on 3 ranks ----
awk 'BEGIN { print "age,income,debt,defaulted"; srand(11);
  for (i = 0; i < 30000; i++) { a = 20 + int(rand() * 50); inc = 1000 + rand() * 5000;
    d = rand() * 4000; y = (d / inc + rand() * 0.3 > 0.9) ? 1 : 0;
    printf "%d,%.2f,%.2f,%d\n", a, inc, d, y } }' >"$WORK/loans.csv"
expect_ok "upload --cluster (each host gets its part)" "$MC2" upload "${A[@]}" \
  --schema "$EX/loans.yaml" --in "$WORK/loans.csv" --as loans --cluster "$S"
for d in "$WORK/h1" "$H2" "$WORK/h3"; do
  check "$d stores its part" test -s "$d/store/tables/bank-a/loans.mc2t"
done
expect_ok "a whole copy on the leader" "$MC2" upload "${A[@]}" --schema "$EX/loans.yaml" \
  --in "$WORK/loans.csv" --as whole

# wait_job ID: until the job is done or failed; its `mc2 job` output in $WORK/job
wait_job() {
  for _ in $(seq 1 600); do
    "$MC2" job "$1" "${A[@]}" >"$WORK/job" 2>&1
    grep -Eq "^status: (done|failed)" "$WORK/job" && return 0
    sleep 0.2
  done
  return 1
}
submit_job() { # submit_job ARGS...: prints the job id
  "$MC2" submit "${A[@]}" "$@" --recipient bank-a 2>"$WORK/err" | grep -Eo '[0-9]+' | head -1
}
id=$(submit_job --kind rowcount --input bank-a/loans --param ranks=3)
wait_job "${id:-0}"
check "rowcount on 3 ranks is done: $(grep -E "^status" "$WORK/job") $(tail -3 "$WORK/h1/mesh.log" 2>/dev/null)" \
  grep -q "^status: done" "$WORK/job"
expect_ok "rowcount result" "$MC2" download "${A[@]}" --job "${id:-0}" --out "$WORK/rc.csv"
check "rowcount = 30000 ($(tr '\n' ' ' <"$WORK/rc.csv"))" grep -q "30000" "$WORK/rc.csv"

TP=(--param label=defaulted --param objective=binary:logistic --param num_round=5 --param max_depth=4)
tid=$(submit_job --kind train --input bank-a/loans "${TP[@]}" --param ranks=3)
sid=$(submit_job --kind train --input bank-a/whole "${TP[@]}")
wait_job "${tid:-0}"
check "train on 3 ranks is done: $(grep -E "^status" "$WORK/job")" grep -q "^status: done" "$WORK/job"
wait_job "${sid:-0}"
expect_ok "model get (3 ranks)" "$MC2" model get "${A[@]}" --job "${tid:-0}" --out "$WORK/d.mc2m"
expect_ok "model get (one enclave)" "$MC2" model get "${A[@]}" --job "${sid:-0}" --out "$WORK/s.mc2m"
expect_ok "model export (3 ranks)" "$MC2" model export --in "$WORK/d.mc2m" --out "$WORK/d.json"
"$MC2" model export --in "$WORK/s.mc2m" --out "$WORK/s.json" >/dev/null 2>&1
check "the 3-rank model has 5 trees" test "$($PY -c 'import json, sys
m = json.load(open(sys.argv[1]))["learner"]["gradient_booster"]["model"]
print(len(m["trees"]))' "$WORK/d.json" 2>&1)" = 5
if $PY -c 'import xgboost, numpy' 2>/dev/null; then
  $PY "$MC2_SRC/tests/cli/gbdt_cmp.py" "$WORK/d.json" "$WORK/s.json" "$WORK/loans.csv" >"$WORK/cmp" 2>&1
  cmp_rc=$?
  echo "3 ranks over SSH: $(cat "$WORK/cmp")"
  check "the model equals one-enclave training within tolerance: $(cat "$WORK/cmp")" test $cmp_rc -eq 0
else
  echo "note: no xgboost in $PY: the models' predictions are not compared"
fi

# ---- a two-party SQL join on 3 ranks over tables placed on the three hosts ----
# bank-a holds accounts h0..h19999 (balance i), bank-b h10000..h29999 (balance 2i): the join
# has 10000 rows and sum(b.balance) = 2 * (10000 + ... + 19999) = 299990000.
awk -v lo=0 -v hi=20000 -v k=1 -f - >"$WORK/acc-a.csv" <<'AWK'
BEGIN { print "id,holder,city,balance,opened,risk_score,active"
  for (i = lo; i < hi; i++) printf "%d,h%d,c%d,%d.00,2020-01-01,0.5,true\n", i, i, i % 7, k * i }
AWK
awk -v lo=10000 -v hi=30000 -v k=2 -f - >"$WORK/acc-b.csv" <<'AWK'
BEGIN { print "id,holder,city,balance,opened,risk_score,active"
  for (i = lo; i < hi; i++) printf "%d,h%d,c%d,%d.00,2020-01-01,0.5,true\n", i, i, i % 7, k * i }
AWK
expect_ok "bank-a places its accounts on the cluster" "$MC2" upload "${A[@]}" --schema "$EX/accounts.yaml" \
  --in "$WORK/acc-a.csv" --as big --cluster "$S"
expect_ok "bank-b places its accounts on the cluster" "$MC2" upload --home "$WORK/bank-b" \
  --schema "$EX/accounts.yaml" --in "$WORK/acc-b.csv" --as big --cluster "$S"
expect_ok "two-owner join on 3 ranks submitted" "$MC2" sql "${A[@]}" --recipient bank-a --ranks 3 \
  --input a=bank-a/big --input b=bank-b/big \
  "SELECT count(*) AS n, sum(b.balance) AS s FROM a JOIN b ON a.holder = b.holder"
job=$(sed -n 's/^job \([0-9]*\) is waiting.*/\1/p' "$WORK/out")
expect_ok "bank-b approves the join on 3 ranks" "$MC2" approve "${job:-0}" --home "$WORK/bank-b"
wait_job "${job:-0}"
check "the join on 3 ranks is done: $(grep -E "^status" "$WORK/job") $(tail -3 "$WORK/h1/mesh.log" 2>/dev/null)" \
  grep -q "^status: done" "$WORK/job"
expect_ok "bank-a downloads the join on 3 ranks" "$MC2" download --job "${job:-0}" "${A[@]}" --out "$WORK/j3.csv"
check "join on 3 ranks: 10000 rows, sum 299990000.00 ($(tr '\n' ' ' <"$WORK/j3.csv"))" \
  grep -qx "10000,299990000.00" "$WORK/j3.csv"

# mpirun on the leader reached the other hosts through their sshd (the cluster's own commands
# come from the root namespace's address, $NET.1).
for i in 1 2; do
  check "the leader (${ADDR[0]}) logged in to host $((i + 1))" \
    grep -q "Accepted publickey for .* from ${ADDR[0]} " "$K/sshd$i.log"
done
# A host that mpirun cannot reach: the job fails with the launcher's reason, nothing released.
P2=$(cat "$K/sshd2.bgpid")
kill "$P2" 2>/dev/null
for _ in $(seq 50); do kill -0 "$P2" 2>/dev/null || break; sleep 0.1; done
id=$(submit_job --kind rowcount --input bank-a/loans --param ranks=3)
wait_job "${id:-0}"
check "host 3 unreachable: the job fails, the launcher exited: $(grep -E "^status" "$WORK/job")" \
  grep -Eq "^status: failed.*mesh launcher exited" "$WORK/job"
"$MC2" download "${A[@]}" --job "${id:-0}" --out "$WORK/none" >/dev/null 2>&1
echo "--- host 3 unreachable: $(grep -E "^status" "$WORK/job")"
check "host 3 unreachable: nothing was released" test ! -s "$WORK/none"
netns_start_sshd 2
netns_wait_sshd 2
id=$(submit_job --kind rowcount --input bank-a/loans --param ranks=3)
wait_job "${id:-0}"
check "host 3 back: the next job is done: $(grep -E "^status" "$WORK/job")" grep -q "^status: done" "$WORK/job"

expect_ok "mc2 cluster down" "$MC2" cluster down --dir "$S"
check "down stopped three services" test "$(grep -c 'mc2d stopped' "$WORK/out")" -eq 3
finish
