#!/usr/bin/env bash
# test_gbdt_model.sh - `mc2 model info` and `mc2 model plot` on model files, and feature names
# in the model and its XGBoost JSON: a model trained with an eval set and feature names
# (gbdt_tool, as a train job does) keeps both through save/load; `mc2 model export` writes the
# names so that xgboost 1.7.4's Booster shows them; `mc2 model info --importance T` equals
# xgboost's get_score(importance_type=T) on the exported JSON for all five types (binary and
# multiclass); `mc2 model plot` writes a PNG and a data file with one line per round, and
# fails clearly without gnuplot, without metrics (a format version 1 model) or with a metric
# the model lacks. The xgboost comparison is skipped (not failed) without python3-xgboost.
# Env: MC2_BUILD (build dir with mc2 and gbdt_tool), MC2_SRC.
set -uo pipefail
SRC=${MC2_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${MC2_BUILD:-$SRC/build}
MC2=$BUILD/mc2
TOOL=$BUILD/gbdt_tool
PY=/usr/bin/python3
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
pass() { echo "ok: $*"; }
[[ -x $MC2 && -x $TOOL ]] || { echo "FAIL: mc2 or gbdt_tool not built in $BUILD"; exit 1; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# expect RC NEEDLE CMD...: exit code RC and NEEDLE in the output
expect() {
  local want=$1 needle=$2 out rc
  shift 2
  out=$("$@" 2>&1)
  rc=$?
  if [[ $rc -ne $want ]]; then fail "$*: exit $rc, expected $want ($out)"; return; fi
  if [[ $out != *"$needle"* ]]; then fail "$*: output lacks '$needle': $out"; return; fi
  pass "$* -> $rc, '$needle'"
}

# ---- data: 4 features with NaNs, a binary label and a 3-class label ------------------------
awk 'BEGIN { srand(7); print "age,income,score,days,label";
  for (i = 0; i < 600; i++) {
    a = rand() * 4 - 2; b = rand() * 4 - 2; c = rand() * 4 - 2; d = rand();
    y = (a + 0.5 * c + (rand() - 0.5) > 0) ? 1 : 0;
    if (i % 11 == 0) b = ""; if (i % 13 == 0) c = "";
    printf "%s,%s,%s,%s,%d\n", a, b, c, d, y } }' >"$W/all.csv"
head -451 "$W/all.csv" >"$W/train.csv"
{ head -1 "$W/all.csv"; tail -150 "$W/all.csv"; } >"$W/eval.csv"
awk -F, 'NR == 1 { print; next } { $5 = ($1 > 0.7) ? 2 : ($1 > -0.7 ? 1 : 0); print }' OFS=, \
  "$W/train.csv" >"$W/train3.csv"
awk -F, 'NR == 1 { print; next } { $5 = ($1 > 0.7) ? 2 : ($1 > -0.7 ? 1 : 0); print }' OFS=, \
  "$W/eval.csv" >"$W/eval3.csv"

"$TOOL" train --train "$W/train.csv" --eval "$W/eval.csv" --label label \
  --set objective=binary:logistic --set eval_metric=auc --set eval_metric=logloss \
  --set num_round=8 --set max_depth=3 --feature-names age,income,score,days \
  --model "$W/bin.mc2m" >/dev/null || fail "train binary"
"$TOOL" train --train "$W/train3.csv" --eval "$W/eval3.csv" --label label \
  --set objective=multi:softprob --set num_class=3 --set num_round=5 --set max_depth=4 \
  --feature-names age,income,score,days --model "$W/multi.mc2m" >/dev/null || fail "train multi"
"$TOOL" train --train "$W/train.csv" --eval "$W/eval.csv" --label label \
  --set objective=binary:logistic --set eval_metric=auc --set eval_metric=logloss \
  --set num_round=8 --set max_depth=3 --set eval_train=1 \
  --model "$W/both.mc2m" >/dev/null || fail "train with eval_train"
"$TOOL" train --train "$W/train.csv" --label label --set num_round=3 \
  --model "$W/plain.mc2m" >/dev/null || fail "train without eval or names"

# ---- help and usage ------------------------------------------------------------------------
expect 0 "get_score" "$MC2" model info --help
expect 0 "--out CURVE.png" "$MC2" model plot --help
expect 0 "mc2 model info FILE" "$MC2" model --help
expect 2 "which model" "$MC2" model info
expect 2 "use weight, gain" "$MC2" model info "$W/bin.mc2m" --importance split
expect 2 "--out CURVE.png are required" "$MC2" model plot "$W/bin.mc2m"
expect 2 "quotes" "$MC2" model plot "$W/bin.mc2m" --out "$W/a\"b.png"
head -c 64 /dev/urandom >"$W/garbage.mc2m"
expect 1 "not an mc2 GBDT model" "$MC2" model info "$W/garbage.mc2m"

# ---- info ----------------------------------------------------------------------------------
expect 0 "format version 2" "$MC2" model info "$W/bin.mc2m"
info=$("$MC2" model info "$W/bin.mc2m")
for want in "objective     binary:logistic" "trees         8 (8 rounds x 1 output)" \
  "max depth     3" "features      4" "metrics       eval, 8 rounds: auc" "logloss"; do
  [[ $info == *"$want"* ]] && pass "info shows '$want'" || fail "info lacks '$want': $info"
done
for name in age income score days; do
  grep -Eq "^ +[0-9]+  $name +float" <<<"$info" && pass "feature $name listed" ||
    fail "feature $name not listed: $info"
done
info=$("$MC2" model info "$W/both.mc2m")
[[ $info == *"metrics       eval, 8 rounds: auc"* && $info == *"metrics       train, 8 rounds: auc"* ]] &&
  pass "eval_train: both sets listed" || fail "eval_train info: $info"
info=$("$MC2" model info "$W/multi.mc2m")
[[ $info == *"trees         15 (5 rounds x 3 outputs)"* && $info == *"num_class 3"* ]] &&
  pass "multiclass facts" || fail "multiclass facts: $info"
info=$("$MC2" model info "$W/plain.mc2m")
[[ $info == *"f0 "* && $info == *"metrics       none recorded"* ]] &&
  pass "unnamed features are f0..; no metrics" || fail "plain model info: $info"

# A format version 1 file (the bytes of a model without names or metrics, whose version 2
# trailer is three zero bytes) still loads.
$PY - "$W/plain.mc2m" "$W/v1.mc2m" <<'EOF' || fail "make v1 model"
import struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
assert b[-3:] == b'\0\0\0' and struct.unpack_from('<I', b, 8)[0] == 2
struct.pack_into('<I', b, 8, 1)
open(sys.argv[2], 'wb').write(bytes(b[:-3]))
EOF
expect 0 "format version 1" "$MC2" model info "$W/v1.mc2m"

# ---- plot ----------------------------------------------------------------------------------
if command -v gnuplot >/dev/null; then
  expect 0 "plotted 8 rounds of 2 metrics" "$MC2" model plot "$W/bin.mc2m" --out "$W/c.png" \
    --data "$W/c.dat"
  [[ $(head -c 8 "$W/c.png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] &&
    pass "curve.png is a PNG" || fail "curve.png is not a PNG"
  [[ $(wc -l <"$W/c.dat") -eq 8 ]] && pass "data file: one line per round" ||
    fail "data file has $(wc -l <"$W/c.dat") lines for 8 rounds"
  awk 'NF != 3 || $1 != NR - 1 { exit 1 }' "$W/c.dat" && pass "data columns: round, auc, logloss" ||
    fail "data file columns: $(head -2 "$W/c.dat")"
  expect 0 "for 2 evaluation sets" "$MC2" model plot "$W/both.mc2m" --out "$W/b.png" \
    --data "$W/b.dat"
  awk 'NF != 5 || $1 != NR - 1 { exit 1 } END { exit NR != 8 }' "$W/b.dat" &&
    pass "eval and train sets: 8 lines of round + 4 values" || fail "both sets' data: $(head -2 "$W/b.dat")"
  expect 0 "plotted 5 rounds of 1 metric" "$MC2" model plot "$W/multi.mc2m" --out "$W/m.png" \
    --metric merror --data "$W/m.dat"
  [[ $(wc -l <"$W/m.dat") -eq 5 ]] || fail "multiclass data file lines"
  expect 1 "records no metric 'rmse' (it records: auc, logloss)" "$MC2" model plot \
    "$W/bin.mc2m" --out "$W/x.png" --metric rmse
else
  fail "gnuplot is not installed (bootstrap.sh installs gnuplot-nox)"
fi
expect 1 "records no metrics to plot" "$MC2" model plot "$W/v1.mc2m" --out "$W/x.png"
expect 1 "records no metrics to plot" "$MC2" model plot "$W/plain.mc2m" --out "$W/x.png"
expect 1 "gnuplot is not installed" env PATH=/nonexistent "$MC2" model plot "$W/bin.mc2m" \
  --out "$W/y.png"
[[ ! -e $W/x.png && ! -e $W/y.png ]] && pass "no PNG on failure" || fail "a PNG was left"

# ---- names and importance against xgboost ---------------------------------------------------
if ! $PY -c 'import xgboost' 2>/dev/null; then
  echo "SKIP (part): /usr/bin/python3 lacks xgboost: importance not compared"
else
  for m in bin multi plain; do
    "$MC2" model export --format xgboost-json --in "$W/$m.mc2m" --out "$W/$m.json" >/dev/null ||
      fail "export $m"
    for t in weight gain cover total_gain total_cover; do
      "$MC2" model info "$W/$m.mc2m" --importance $t >"$W/$m.$t" || fail "info --importance $t"
    done
    want_names=age,income,score,days
    [[ $m == plain ]] && want_names=None
    if $PY - "$W" "$m" "$want_names" <<'EOF'; then pass "$m: names and 5 importance types equal xgboost's"; else fail "$m: xgboost comparison"; fi
import sys, xgboost
w, m, want = sys.argv[1:]
b = xgboost.Booster(model_file=f'{w}/{m}.json')
names = ','.join(b.feature_names) if b.feature_names else 'None'
assert names == want, (names, want)
for t in ['weight', 'gain', 'cover', 'total_gain', 'total_cover']:
    ref = b.get_score(importance_type=t)
    got = {}
    for line in open(f'{w}/{m}.{t}'):
        k, v = line.split('\t')
        got[k] = float(v)
    assert set(got) == set(ref), (t, got, ref)
    for k in ref:
        assert abs(got[k] - ref[k]) <= 1e-5 * max(1.0, abs(ref[k])), (t, k, got[k], ref[k])
EOF
  done
fi

if [[ $fails -gt 0 ]]; then
  echo "test_gbdt_model: $fails failure(s)"
  exit 1
fi
echo "test_gbdt_model: all passed"
