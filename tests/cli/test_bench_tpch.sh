#!/usr/bin/env bash
# test_bench_tpch.sh - the plumbing of `make bench`'s TPC-H section (bench/run.sh), at a scale
# too small to measure anything: (a) the history helpers of bench/report.sh (append, the
# previous entry of the same scale factor and thread count, a regression of more than 10%
# flagged, a file of another layout left alone) and the plot; (b) bench/run.sh at SF 0.01
# with SQLite as the peer, from a fresh home and service, over a copy of the queries in which
# q3 is broken: q3 is reported FAILED with the enclave's reason, the other 21 queries still
# run and are checked against SQLite, the run exits 1, the report file is what was printed,
# the enclave's peak memory and the job's threads are shown, the summary comes last, progress
# goes to stderr, and the history gets one line of the header's width with q3 FAILED.
source "$(dirname "$0")/lib.sh"
SRC=${MC2_SRC:?MC2_SRC must point at the source tree}
B=${MC2_BUILD:?}

# ---- (a) bench/report.sh -------------------------------------------------------------------
(
  ROOT=$SRC
  calc() { awk "BEGIN { printf \"${FMT:-%.2f}\", $1 }"; }
  source "$SRC/bench/report.sh"
  h=$WORK/hist/t.tsv
  hdr=$'date\tcommit\tsf\tthreads\tratio'
  hist_append "$h" "$hdr" $'d1\tc1\t1\t2\t2.00' >/dev/null &&
    hist_append "$h" "$hdr" $'d2\tc2\t0.1\t2\t9.00' >/dev/null &&
    hist_append "$h" "$hdr" $'d3\tc3\t1\t1\t7.00' >/dev/null || echo "FAIL: hist_append"
  [[ $(head -1 "$h") == "$hdr" && $(wc -l <"$h") == 4 ]] || echo "FAIL: header once, 3 lines"
  [[ $(hist_prev "$h" 1.0 2 ratio commit) == $'2.00\tc1' ]] ||
    echo "FAIL: hist_prev SF 1, 2 threads: '$(hist_prev "$h" 1.0 2 ratio commit)'"
  hist_prev "$h" 10 2 ratio >/dev/null && echo "FAIL: hist_prev found an entry for SF 10"
  hist_prev "$h" 1 2 nosuchcolumn >/dev/null && echo "FAIL: hist_prev: unknown column"
  out=$(hist_append "$h" $'date\tother' $'x\ty')
  [[ $out == *"other columns"* && $(wc -l <"$h") == 4 ]] ||
    echo "FAIL: a file of another layout was changed: $out"
  out=$(hist_compare "sum ratio" 2.10 2.00 c1 d1)
  [[ $out == *"2.10 now, 2.00 at c1"* && $out != *REGRESSION* ]] || echo "FAIL: +5%: $out"
  out=$(hist_compare "sum ratio" 2.30 2.00 c1 d1)
  [[ $out == *"+15.0%  REGRESSION"* ]] || echo "FAIL: +15% not flagged: $out"
  hist_compare "sum ratio" 2.30 2.00 c1 d1 >/dev/null
  [[ ${#REGRESSIONS[@]} == 1 && ${REGRESSIONS[0]} == "REGRESSION: sum ratio 2.30, was 2.00"* ]] ||
    echo "FAIL: REGRESSIONS: ${REGRESSIONS[*]}"
  out=$(hist_compare "sum ratio" 2.30 - c1 d1)
  [[ $out == *"has none"* ]] || echo "FAIL: previous entry without a figure: $out"
  out=$(plot_ratios "$WORK/p.png" "t" "y" 2 "goal" $'q1 3.5\nq2/FAILED -\nq3 0.4')
  if command -v gnuplot >/dev/null; then
    [[ $out == "plot: $WORK/p.png" && $(head -c 8 "$WORK/p.png" | od -An -tx1 | tr -d ' ') == \
      89504e470d0a1a0a ]] || echo "FAIL: plot: $out"
  else
    [[ $out == *"skipped: gnuplot is not installed"* ]] || echo "FAIL: plot without gnuplot: $out"
  fi
) >"$WORK/a.out" 2>&1
if grep -q '^FAIL' "$WORK/a.out"; then bad "report.sh: $(grep '^FAIL' "$WORK/a.out")"; else ok; fi

# ---- (b) bench/run.sh end to end at SF 0.01 ------------------------------------------------
mkdir -p "$WORK/q"
cp "$SRC"/tests/data/tpch/queries/q*.sql "$WORK/q/"
echo "SELECT nosuchcolumn FROM lineitem;" >"$WORK/q/q3.sql"
rc=0
env BENCH_ONLY=tpch BENCH_TPCH_SF=0.01 BENCH_TPCH_RUNS=1 BENCH_TPCH_PEERS=sqlite \
  BENCH_TPCH_QUERIES="$WORK/q" BENCH_DIR="$WORK/bench" BENCH_REPORT_DIR="$WORK/report" \
  BENCH_HISTORY="$WORK/history" BENCH_BUILD="$B" \
  bash "$SRC/bench/run.sh" >"$WORK/run.out" 2>"$WORK/run.err" || rc=$?
R=$WORK/run.out
check "run.sh exits 1 when a query fails (exit $rc)" test "$rc" = 1
check "report.txt is what run.sh printed" cmp -s "$R" "$WORK/report/report.txt"
row() { awk -v q="$1" '$1 == q' "$R"; }
check "q3 shows FAILED: $(row q3)" grep -Eq '^q3 +([0-9]+ +)?FAILED ' <(row q3)
check "the reason of q3's failure is given" \
  grep -q "^mc2: q3 FAILED: the query failed: .*nosuchcolumn" "$R"
for q in q1 q4 q21 q22; do
  # query rows "mc2 ms" ... : a number of rows and an mc2 time after q3 as before it
  check "$q ran: $(row "$q")" grep -Eq "^$q +[0-9]+ +[0-9]+\.[0-9] " <(row "$q")
done
check "the sum row counts 21 of 22: $(row sum)" grep -Eq '^sum +21/22 ' <(row sum)
check "no query WRONG against SQLite" bash -c "! grep -q WRONG '$R'"
check "the job's threads are stated" grep -q '^threads: mc2 2 (sql job parameter threads=2' "$R"
check "SQLite is said to be single-threaded" grep -q 'SQLite 1 (single-threaded' "$R"
check "the enclave's peak memory is printed" grep -Eq '^peak memory: mc2 enclave [0-9]+ MiB' "$R"
check "q22 has the enclave's running peak: $(row q22)" \
  grep -Eq '^q22 .* [0-9]+ +[0-9]+\.[0-9]$' <(row q22)
check "the DuckDB goal is not measured without DuckDB" \
  grep -q "^goal sum within 2x of DuckDB: not measured (DuckDB skipped)" "$R"
check "the report ends with the summary" \
  bash -c "sed -n '/^== Summary/,\$p' '$R' | tail -1 | grep -q 'some mc2 benchmarks failed'"
check "progress lines on stderr" grep -q '^bench_tpch: mc2 q22: ' "$WORK/run.err"
check "no progress line in the report" bash -c "! grep -q '^bench_tpch:' '$R'"
H=$WORK/history/tpch.tsv
check "history: header and one line" test "$(wc -l <"$H" 2>/dev/null)" = 2
check "history: as many fields as the header" \
  test "$(awk -F'\t' '{ print NF }' "$H" 2>/dev/null | sort -u | wc -l)" = 1
check "history: SF 0.01, 2 threads, 21 queries, q3 FAILED" \
  awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i }
    NR == 2 { exit !($h["sf"] == "0.01" && $h["threads"] == 2 && $h["queries_ok"] == 21 &&
                     $h["q3_mc2"] == "FAILED" && $h["q22_mc2"] + 0 > 0) }' "$H"
if ((T_FAILS > 0)); then # what run.sh said, for the log of a failed run
  echo "--- run.sh's report (last 25 lines):"
  tail -n 25 "$R"
  echo "--- run.sh's stderr (last 10 lines):"
  tail -n 10 "$WORK/run.err"
fi
finish
