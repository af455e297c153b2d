#!/usr/bin/env bash
# test_mpc_mlp.sh - two-party private inference (mpc/mlp.h, docs/mpc.md "Private inference")
# of a real model: scikit-learn's MLPClassifier (hidden layer of 32, fixed random_state)
# trained on the digits data set Debian's scikit-learn ships, saved as W1.npy b1.npy W2.npy
# b2.npy (float64, coefs_/intercepts_); tests/tools' mpc_mlp_tool infers every test row
# (450 rows) with the server and client as two threads; every private prediction must equal
# the plaintext prediction of the same model (the tool's double evaluation) and
# scikit-learn's own predict(). The tool also refuses a model whose shapes do not chain.
# SKIP (77) when /usr/bin/python3 lacks scikit-learn or NumPy, or the digits file is missing.
source "$(dirname "$0")/lib.sh"
TOOL=$MC2_BUILD/mpc_mlp_tool
PY=/usr/bin/python3
DIGITS=/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz
if ! [ -x "$PY" ] || ! "$PY" -c 'import sklearn, numpy' 2>/dev/null || ! [ -f "$DIGITS" ]; then
  echo "SKIP: /usr/bin/python3 with scikit-learn and NumPy and $DIGITS are needed"
  exit 77
fi
M=$WORK/model
mkdir -p "$M"
"$PY" - "$DIGITS" "$M" "$WORK" <<'PY' || { bad "training the model failed"; finish; }
import sys, warnings
import numpy as np
from sklearn.neural_network import MLPClassifier
data = np.loadtxt(sys.argv[1], delimiter=",")
X, y = data[:, :-1] / 16.0, data[:, -1].astype(int)
rng = np.random.RandomState(7)
idx = rng.permutation(len(X))
tr, te = idx[:-450], idx[-450:]
warnings.simplefilter("ignore")
clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=300, random_state=1).fit(X[tr], y[tr])
for i, (w, b) in enumerate(zip(clf.coefs_, clf.intercepts_), 1):
    np.save("%s/W%d.npy" % (sys.argv[2], i), w.astype(np.float64))
    np.save("%s/b%d.npy" % (sys.argv[2], i), b.astype(np.float64))
np.save(sys.argv[3] + "/X.npy", X[te].astype(np.float32))
np.savetxt(sys.argv[3] + "/sk.txt", clf.predict(X[te].astype(np.float32)), fmt="%d")
print("sklearn test accuracy %.3f" % clf.score(X[te], y[te]), file=sys.stderr)
PY
ok

if "$TOOL" "$M" "$WORK/X.npy" 150 >"$WORK/pred" 2>"$WORK/err"; then ok; else
  bad "mpc_mlp_tool failed: $(cat "$WORK/err")"
  finish
fi
cat "$WORK/err"
rows=$(wc -l <"$WORK/pred")
[ "$rows" -eq 450 ] && ok || bad "expected 450 predictions, got $rows"
diff_plain=$(awk '$1 != $2' "$WORK/pred" | wc -l)
[ "$diff_plain" -eq 0 ] && ok || bad "$diff_plain of $rows private predictions differ from the plaintext"
diff_sk=$(paste -d' ' <(cut -d' ' -f1 "$WORK/pred") "$WORK/sk.txt" | awk '$1 != $2' | wc -l)
[ "$diff_sk" -eq 0 ] && ok || bad "$diff_sk of $rows private predictions differ from scikit-learn's"
classes=$(cut -d' ' -f1 "$WORK/pred" | sort -u | wc -l)
[ "$classes" -eq 10 ] && ok || bad "the predictions cover $classes classes, expected all 10"
echo "test_mpc_mlp.sh: $rows rows compared: $diff_plain differ from the plaintext, $diff_sk from scikit-learn"

# a model whose shapes do not chain is refused, naming the file
cp "$M/W1.npy" "$M/W2.npy"
if "$TOOL" "$M" "$WORK/X.npy" >/dev/null 2>"$WORK/err"; then bad "a broken model was accepted"
elif grep -q "W2.npy" "$WORK/err"; then ok
else bad "the error does not name W2.npy: $(cat "$WORK/err")"; fi
"$TOOL" --help | grep -q "usage" && ok || bad "--help"
"$TOOL" >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "no arguments is not a usage error"
finish
