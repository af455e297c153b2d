#!/usr/bin/env bash
# demo.sh - what `make demo` shows, on the embedded default (local mc2d, simulated TEE):
# three parties (two banks and an auditor) create identities; each bank encrypts a table
# and we see tampering rejected; the service starts with the sim enclave; every party attests
# it; the banks upload; bank-a submits a job over both tables, bank-b co-signs it, it runs;
# the auditor downloads and decrypts the result, and a bank cannot; the banks train a GBDT
# model for the auditor, who after a restart submits a predict job as the model's owner
# (granting its key for that job only) so that each bank scores its own new rows; the banks
# average a model update in a federated round (only the weighted mean leaves the enclave, for
# the auditor). The policy
# pins the enclave's measurement (`policy init --enclave`). Runs in a temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${MC2_BUILD:-$PWD/build}
MC2=$B/mc2
EX=$PWD/examples
D=$(mktemp -d "${TMPDIR:-/tmp}/mc2-demo.XXXXXX")
PORT=${MC2_DEMO_PORT:-7350}
export MC2_SERVICE=127.0.0.1:$PORT
cleanup() {
  "$MC2" stop --dir "$D/service" >/dev/null 2>&1 || true
  rm -rf "$D"
}
trap cleanup EXIT
start_time=$(date +%s)

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() {
  printf '$ %s\n' "$*" | sed "s|$D/||g; s|$EX/|examples/|g; s|$B/||g"
  "$@" 2>&1 | sed "s|$D/||g"
  return "${PIPESTATUS[0]}"
}
must_fail() {
  if run "$@"; then
    echo "ERROR: that should have been refused" >&2
    exit 1
  fi
  echo "(refused, as it must be)"
}

step "1. Three parties create their identities (Ed25519 key, X.509 certificate, data key)"
for p in bank-a bank-b auditor; do run "$MC2" init --name "$p" --home "$D/$p"; done
run "$MC2" whoami --home "$D/bank-a"

step "2. bank-a encrypts its table locally; the schema is sealed inside too"
run "$MC2" encrypt --home "$D/bank-a" --schema "$EX/accounts.yaml" --in "$EX/accounts.csv" --out "$D/accounts.mc2t"
echo "first bytes of what a host would store:"
od -A d -t x1 -N 48 "$D/accounts.mc2t"
if grep -q -e Lovelace -e holder "$D/accounts.mc2t"; then echo "ERROR: plaintext in file" >&2; exit 1; fi
echo "no value and no column name appears in the file"
run "$MC2" decrypt --home "$D/bank-a" --in "$D/accounts.mc2t" --out "$D/accounts.csv"
cmp "$EX/accounts.csv" "$D/accounts.csv" && echo "decrypted file is identical to the original"

step "3. Tampering: one flipped byte, a truncated file, another party's key"
cp "$D/accounts.mc2t" "$D/tampered.mc2t"
size=$(stat -c %s "$D/tampered.mc2t")
printf '\x01' | dd of="$D/tampered.mc2t" bs=1 seek=$((size - 40)) conv=notrunc status=none
must_fail "$MC2" decrypt --home "$D/bank-a" --in "$D/tampered.mc2t" --out "$D/t.csv"
head -c $((size - 100)) "$D/accounts.mc2t" >"$D/short.mc2t"
must_fail "$MC2" decrypt --home "$D/bank-a" --in "$D/short.mc2t" --out "$D/t.csv"
must_fail "$MC2" decrypt --home "$D/bank-b" --in "$D/accounts.mc2t" --out "$D/t.csv"
test ! -e "$D/t.csv" && echo "and no output file was ever written"

step "4. The service: a sim enclave, its signed identity, and the consortium policy"
run "$MC2" enclave info
PK=$("$MC2" service init --dir "$D/service")
echo "simulated platform key: $PK   (SIMULATION: protects nothing against the host's root)"
run "$MC2" policy init --out "$D/consortium.yaml" --consortium demo-banks \
  --party "bank-a=$D/bank-a/identity.crt" --party "bank-b=$D/bank-b/identity.crt" \
  --party "auditor=$D/auditor/identity.crt" --recipient auditor \
  --enclave "$B/mc2-enclave" --allow-simulation --sim-platform-key "$PK"
for p in bank-a bank-b auditor; do cp "$D/consortium.yaml" "$D/$p/consortium.yaml"; done
run "$MC2" start --policy "$D/consortium.yaml" --dir "$D/service" --listen "$MC2_SERVICE"
run "$MC2" status

step "5. Each party attests the enclave (fresh nonce, evidence bound to the TLS key and policy)"
for p in bank-a bank-b auditor; do run "$MC2" attest --home "$D/$p" | grep -E 'attestation|measurement|simulation|bound'; done

step "6. The banks upload: encrypted locally, only ciphertext leaves their machines"
run "$MC2" upload --home "$D/bank-a" --schema "$EX/accounts.yaml" --in "$EX/accounts.csv" --as accounts
run "$MC2" upload --home "$D/bank-b" --schema "$EX/accounts.yaml" --in "$EX/accounts-b.csv" --as accounts
run "$MC2" tables

step "7. bank-a submits a job over both banks' tables for the auditor; bank-b co-signs it"
run "$MC2" submit --home "$D/bank-a" --kind rowcount --input bank-a/accounts --input bank-b/accounts --recipient auditor
run "$MC2" jobs
run "$MC2" approve 1 --home "$D/bank-b"
run "$MC2" jobs

step "8. The auditor downloads and decrypts the result; a bank may not"
run "$MC2" download --job 1 --home "$D/auditor" --out "$D/result.csv"
cat "$D/result.csv"
must_fail "$MC2" download --job 1 --home "$D/bank-a" --out "$D/stolen.csv"

step "9. A SQL join across both banks: customers of both, for the auditor's eyes only"
run "$MC2" sql --home "$D/bank-a" --input a=bank-a/accounts --input b=bank-b/accounts \
  --recipient auditor \
  "SELECT a.holder, a.balance AS at_bank_a, b.balance AS at_bank_b FROM a JOIN b ON a.holder = b.holder"
run "$MC2" approve 2 --home "$D/bank-b"
run "$MC2" download --job 2 --home "$D/auditor" --out "$D/both.csv"
cat "$D/both.csv"
must_fail "$MC2" download --job 2 --home "$D/bank-a" --out "$D/stolen.csv"
must_fail "$MC2" download --job 2 --home "$D/bank-b" --out "$D/stolen.csv"

step "10. The banks train a gradient-boosted model on their joint rows; only the auditor gets it"
# Synthetic loan applications (income, debt, age, late payments -> default), made up here.
loans() { # loans N SEED LABEL(0/1)
  awk -v n="$1" -v seed="$2" -v lab="$3" 'BEGIN {
    srand(seed); printf "income,debt,age,late%s\n", lab ? ",default" : "";
    for (i = 0; i < n; i++) {
      inc = 20000 + rand() * 80000; debt = rand() * 50000; age = 18 + int(rand() * 60);
      late = int(rand() * 5); s = debt / inc * 2 + late * 0.4 - (age - 18) / 60 + rand() - 0.9;
      printf "%.2f,%.2f,%d,%d", inc, debt, age, late;
      if (lab) printf(",%d", (s > 0) ? 1 : 0);
      printf "\n" } }'
}
printf 'columns:\n  - {name: income, type: "DECIMAL(12,2)"}\n  - {name: debt, type: "DECIMAL(12,2)"}\n  - {name: age, type: INT64}\n  - {name: late, type: INT64}\n' >"$D/applicants.yaml"
{ cat "$D/applicants.yaml"; printf '  - {name: default, type: INT64}\n'; } >"$D/loans.yaml"
loans 600 11 1 >"$D/a-loans.csv"; loans 500 12 1 >"$D/b-loans.csv"; loans 300 13 1 >"$D/b-holdout.csv"
loans 8 14 0 >"$D/a-new.csv"; loans 6 15 0 >"$D/b-new.csv"
run "$MC2" upload --home "$D/bank-a" --schema "$D/loans.yaml" --in "$D/a-loans.csv" --as loans
run "$MC2" upload --home "$D/bank-b" --schema "$D/loans.yaml" --in "$D/b-loans.csv" --as loans
run "$MC2" upload --home "$D/bank-b" --schema "$D/loans.yaml" --in "$D/b-holdout.csv" --as holdout
cat >"$D/train.yaml" <<'YAML'
inputs: [bank-a/loans, bank-b/loans]
label: default
eval: bank-b/holdout          # used only for the per-round metrics
params: {objective: "binary:logistic", num_round: 20, max_depth: 4, eval_metric: [auc, logloss]}
recipients: [auditor]
YAML
echo "train.yaml:"; cat "$D/train.yaml"
run "$MC2" train "$D/train.yaml" --home "$D/bank-a" | tee "$D/out"
TJ=$(sed -n 's/^submitted train job \([0-9]*\)$/\1/p' "$D/out")
run "$MC2" approve "$TJ" --home "$D/bank-b" | tail -n 1
run "$MC2" model get --job "$TJ" --out "$D/model.mc2m" --home "$D/auditor"
run "$MC2" download --job "$TJ" --out "$D/metrics.csv" --home "$D/auditor"
echo "last round on bank-b's holdout:"; tail -n 2 "$D/metrics.csv"
must_fail "$MC2" model get --job "$TJ" --out "$D/stolen.mc2m" --home "$D/bank-a"
run "$MC2" model export --format xgboost-json --in "$D/model.mc2m" --out "$D/model.json"
run "$MC2" model info "$D/model.mc2m"   # the features keep their column names; importance as xgboost's

step "11. After a restart the auditor (the model's owner) grants its key to one predict job; each bank scores its new applicants"
run "$MC2" stop --dir "$D/service"
run "$MC2" start --policy "$D/consortium.yaml" --dir "$D/service" --listen "$MC2_SERVICE"
run "$MC2" upload --home "$D/bank-a" --schema "$D/applicants.yaml" --in "$D/a-new.csv" --as applicants
run "$MC2" upload --home "$D/bank-b" --schema "$D/applicants.yaml" --in "$D/b-new.csv" --as applicants
run "$MC2" predict --model "$D/model.mc2m" --table bank-a/applicants --table bank-b/applicants --home "$D/auditor" | tee "$D/out"
PJ=$(sed -n 's/^submitted predict job \([0-9]*\)$/\1/p' "$D/out")
run "$MC2" approve "$PJ" --home "$D/bank-a" | tail -n 1
run "$MC2" approve "$PJ" --home "$D/bank-b" | tail -n 1
run "$MC2" download --job "$PJ" --out "$D/a-preds.csv" --home "$D/bank-a"
cat "$D/a-preds.csv"
run "$MC2" download --job "$PJ" --out "$D/b-preds.csv" --home "$D/bank-b"
echo "(bank-b's file holds only bank-b's $(($(wc -l <"$D/b-preds.csv") - 1)) rows; the auditor gets none of them)"
must_fail "$MC2" download --job "$PJ" --out "$D/stolen.csv" --home "$D/auditor"

step "12. Federated averaging: each bank sends a model update; only their weighted mean leaves the enclave, for the auditor"
# Each bank's update (its local model minus the global one) as .npy files, one per tensor.
npy() { /usr/bin/python3 -c 'import sys, numpy as np
np.save(sys.argv[1], np.array(sys.argv[2:], dtype=np.float32))' "$@"; }
mkdir -p "$D/upd-a" "$D/upd-b"
npy "$D/upd-a/w.npy" 0.5 -1 0.25 2; npy "$D/upd-a/b.npy" 0.25
npy "$D/upd-b/w.npy" 1.5 1 -0.75 0; npy "$D/upd-b/b.npy" -0.75
run "$MC2" fl round start --home "$D/bank-a" --participants bank-a,bank-b --tensors w:4,b:1 \
  --round 1 --k 2 --deadline 120 | tee "$D/out"   # recipients: the policy's (the auditor)
FJ=$(sed -n 's/^submitted fedavg round 1 as job \([0-9]*\) .*/\1/p' "$D/out")
run "$MC2" fl round submit "$FJ" --update "$D/upd-a" --weight 300 --home "$D/bank-a"
run "$MC2" fl round status "$FJ" --home "$D/bank-b"   # a participant sees who is missing
must_fail "$MC2" fl round submit "$FJ" --update "$D/upd-a" --weight 300 --home "$D/bank-a"
must_fail "$MC2" fl round submit "$FJ" --update "$D/upd-b" --weight 100 --home "$D/auditor"
run "$MC2" fl round submit "$FJ" --update "$D/upd-b" --weight 100 --home "$D/bank-b"
run "$MC2" fl round get "$FJ" -o "$D/global" --home "$D/auditor"
/usr/bin/python3 -c 'import sys, numpy as np
m = {t: np.load(f"{sys.argv[1]}/{t}.npy") for t in ("w", "b")}
for t, v in m.items(): print(t, "=", v)
sys.exit(not (np.allclose(m["w"], [0.75, -0.5, 0, 1.5]) and np.allclose(m["b"], [0])))' "$D/global"
echo "(= (300 x bank-a's + 100 x bank-b's) / 400; neither bank's own update ever left the enclave)"
must_fail "$MC2" fl round get "$FJ" -o "$D/stolen" --home "$D/bank-b"

step "13. What the host stored: ciphertext only"
find "$D/service/store" -type f | sed "s|$D/||"
for m in Lovelace Curie 98000 holder; do
  if grep -rq "$m" "$D/service"; then echo "ERROR: '$m' found in the host's files" >&2; exit 1; fi
done
echo "no plaintext value or column name in the host's storage or logs"
run "$MC2" stop --dir "$D/service"
printf '\n\033[1mdemo finished in %ss.\033[0m Next: oblivious mode (mc2 sql --oblivious, mc2 train with\n' $(($(date +%s) - start_time))
printf 'oblivious: 1): docs/sql.md "Oblivious mode", docs/gbdt.md "Oblivious mode".\n'
