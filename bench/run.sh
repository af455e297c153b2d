#!/usr/bin/env bash
# run.sh - mc2's benchmarks, each printed as a ratio against a peer measured in the same run
# (`make bench`; bench/README.md says what each figure means). Not a test: goals that are not
# met are reported, not failed. A peer that cannot run is reported as "skipped: reason".
# The report goes to stdout and to BENCH_REPORT_DIR/report.txt, with the plots beside it;
# progress lines go to stderr. Exits 1 if mc2 failed anywhere (a query FAILED or WRONG, a
# program that does not build or errors out), after the whole run and its summary.
#
# Environment (all optional):
#   BENCH_DIR           work directory for generated data   (default build/bench-work)
#   BENCH_CSV_MB        size of the ingest CSV in 10^6 bytes (default 1000)
#   BENCH_RUNS          timed runs per ingest tool, best reported (default 3)
#   BENCH_THREADS       threads for mc2 encrypt, the sql jobs (job parameter threads) and
#                       DuckDB (default 2)
#   BENCH_AEAD_SECONDS  seconds per AEAD figure and round, mc2 and openssl alike (default 1)
#   BENCH_AEAD_ROUNDS   AEAD rounds, best one reported       (default 5)
#   BENCH_ONLY          comma-separated sections: aead, ingest, platform, attest, gbdt,
#                       obliv-sort, tpch, obliv-tpch, fl, cluster (default all)
#   BENCH_ATTEST_RUNS   attested sessions per backend in section attest (default 50)
#   BENCH_PLATFORM_RUNS runs per platform latency figure     (default 30)
#   BENCH_TPCH_SF       TPC-H scale factor of section tpch, >= 0.001 (default 1; 0.01 for a
#                       quick check of the plumbing, 10 for the large run)
#   BENCH_TPCH_RUNS     timed runs per TPC-H query, mc2 and DuckDB; best reported (default 3)
#   BENCH_TPCH_TIMEOUT  seconds before a SQLite query is interrupted (default 120)
#   BENCH_TPCH_QUERIES  directory of q1.sql .. q22.sql that mc2 and DuckDB run, in sections
#                       tpch and obliv-tpch (default tests/data/tpch/queries; SQLite runs its
#                       rewrites in tests/data/tpch/sqlite)
#   BENCH_TPCH_PEERS    peers of section tpch, comma-separated, from duckdb and sqlite
#                       (default duckdb,sqlite below SF 10, duckdb from SF 10 on)
#   BENCH_TPCH_BUDGET_MB     section tpch's service memory budget, mc2 start --budget-mb
#                            (default 8192)
#   BENCH_TPCH_MC2_TIMEOUT   seconds an mc2 query has for its warm-up and timed runs in
#                            section tpch; then it is FAILED and the service restarted
#                            (default 3600)
#   BENCH_OBLIV_TPCH_SFS     TPC-H scale factors of section obliv-tpch, space-separated
#                            (default "0.1 1")
#   BENCH_OBLIV_TPCH_TIMEOUT seconds a query has for all its runs in obliv-tpch, either mode
#                            (default 600)
#   BENCH_OBLIV_BUDGET_MB    the obliv-tpch service's memory budget (mc2 start --budget-mb),
#                            which caps oblivious jobs (default 3/4 of MemTotal)
#   BENCH_FL_CLIENTS    clients of section fl's round, 2..128 (default 100)
#   BENCH_FL_PARAMS     float32 parameters per client in section fl (default 1048576 = 2^20)
#   BENCH_FL_MASKS      rounds of section fl: off, secagg or off,secagg (default off,secagg;
#                       secagg is reported as skipped while the build has no masked rounds)
#   BENCH_FL_MASKED_CLIENTS  clients of the masked round, 2..BENCH_FL_CLIENTS (default the
#                       smaller of BENCH_FL_CLIENTS and 60: a masked round holds every
#                       participant's session open at once, the enclave at most 64 sessions)
#   BENCH_CLUSTER_BYTES bytes per rank of each collective in section cluster (default 67108864 =
#                       64 MiB; 4194304 for a quick check of the plumbing)
#   BENCH_CLUSTER_RANKS MPI rank counts of section cluster, space-separated (default "2 4")
#   BENCH_CLUSTER_ITERS timed collectives per figure in section cluster, 1..40 (default 5)
#   BENCH_DIST_ROWS     rows of section cluster's distributed training (default 1000000)
#   BENCH_DIST_SQL_SF   TPC-H scale factor of section cluster's distributed SQL (default 1)
#   BENCH_DIST_ROUNDS   its boosting rounds (default 20; depth 6)
#   BENCH_MPIRUN_ARGS   extra mpirun options for section cluster (e.g. "--mca btl self,vader"),
#                       given to both of its transports (shm: Open MPI's default choice; tcp:
#                       --mca pml ob1 --mca btl tcp,self)
#   BENCH_BUILD         build directory to use               (default build, as `make bench`)
#   BENCH_REPORT_DIR    where report.txt and the plots go    (default BUILD/bench-report)
#   BENCH_HISTORY       directory of the history files tpch.tsv and obliv-tpch.tsv, one line
#                       appended per TPC-H table; "off" for none (default bench/history for
#                       scale factors >= 1; off below 1 unless set)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BENCH_BUILD:-$ROOT/build}
WORK=${BENCH_DIR:-$BUILD/bench-work}
CSV_MB=${BENCH_CSV_MB:-1000}
RUNS=${BENCH_RUNS:-3}
THREADS=${BENCH_THREADS:-2}
AEAD_SECONDS=${BENCH_AEAD_SECONDS:-1}
AEAD_ROUNDS=${BENCH_AEAD_ROUNDS:-5}
ONLY=${BENCH_ONLY:-aead,ingest,platform,attest,gbdt,obliv-sort,tpch,obliv-tpch,fl,cluster}
ATTEST_RUNS=${BENCH_ATTEST_RUNS:-50}
CLUSTER_BYTES=${BENCH_CLUSTER_BYTES:-67108864}
CLUSTER_RANKS=${BENCH_CLUSTER_RANKS:-2 4}
CLUSTER_ITERS=${BENCH_CLUSTER_ITERS:-5}
PLATFORM_RUNS=${BENCH_PLATFORM_RUNS:-30}
TPCH_SF=${BENCH_TPCH_SF:-1}
TPCH_RUNS=${BENCH_TPCH_RUNS:-3}
TPCH_TIMEOUT=${BENCH_TPCH_TIMEOUT:-120}
OBLIV_SFS=${BENCH_OBLIV_TPCH_SFS:-0.1 1}
OBLIV_TIMEOUT=${BENCH_OBLIV_TPCH_TIMEOUT:-600}
TPCH_BUDGET=${BENCH_TPCH_BUDGET_MB:-8192}
TPCH_QUERIES=${BENCH_TPCH_QUERIES:-$ROOT/tests/data/tpch/queries}
MC2_TIMEOUT=${BENCH_TPCH_MC2_TIMEOUT:-3600}
REPORT_DIR=${BENCH_REPORT_DIR:-$BUILD/bench-report}
FL_CLIENTS=${BENCH_FL_CLIENTS:-100}
FL_PARAMS=${BENCH_FL_PARAMS:-1048576}
FL_MASKS=${BENCH_FL_MASKS:-off,secagg}
FL_MASKED_CLIENTS=${BENCH_FL_MASKED_CLIENTS:-$((FL_CLIENTS < 60 ? FL_CLIENTS : 60))}
HISTORY=${BENCH_HISTORY:-auto}

die() {
  echo "bench: $*" >&2
  exit 1
}
# progress MESSAGE: a progress line on stderr (not in the report).
progress() { printf 'bench: %s\n' "$*" >&2; }
for v in CSV_MB RUNS THREADS AEAD_SECONDS AEAD_ROUNDS TPCH_RUNS TPCH_TIMEOUT TPCH_BUDGET MC2_TIMEOUT \
  FL_CLIENTS FL_PARAMS CLUSTER_BYTES CLUSTER_ITERS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "BENCH_${v} must be a positive integer, not '${!v}'"
done
[[ $OBLIV_TIMEOUT =~ ^[1-9][0-9]*$ ]] ||
  die "BENCH_OBLIV_TPCH_TIMEOUT must be a positive integer, not '$OBLIV_TIMEOUT'"
if ! [[ $TPCH_SF =~ ^[0-9]+(\.[0-9]+)?$ ]] || ! awk "BEGIN { exit !($TPCH_SF >= 0.001) }"; then
  die "BENCH_TPCH_SF must be a number >= 0.001, not '$TPCH_SF'"
fi
if awk "BEGIN { exit !($TPCH_SF >= 10) }"; then
  TPCH_PEERS=${BENCH_TPCH_PEERS-duckdb}
else
  TPCH_PEERS=${BENCH_TPCH_PEERS-duckdb,sqlite}
fi
for p in ${TPCH_PEERS//,/ }; do
  [[ $p == duckdb || $p == sqlite ]] ||
    die "BENCH_TPCH_PEERS holds '$p'; it takes duckdb and sqlite, comma-separated"
done
for ((q = 1; q <= 22; q++)); do
  [[ -r $TPCH_QUERIES/q$q.sql ]] || die "BENCH_TPCH_QUERIES: $TPCH_QUERIES/q$q.sql is missing"
done
((FL_CLIENTS >= 2 && FL_CLIENTS <= 128)) || die "BENCH_FL_CLIENTS must be 2..128, not $FL_CLIENTS"
[[ $FL_MASKED_CLIENTS =~ ^[0-9]+$ ]] && ((FL_MASKED_CLIENTS >= 2 && FL_MASKED_CLIENTS <= FL_CLIENTS)) ||
  die "BENCH_FL_MASKED_CLIENTS must be 2..BENCH_FL_CLIENTS ($FL_CLIENTS), not $FL_MASKED_CLIENTS"
((FL_PARAMS <= 16777216)) || die "BENCH_FL_PARAMS must be at most 16777216, not $FL_PARAMS"
for m in ${FL_MASKS//,/ }; do
  [[ $m == off || $m == secagg ]] ||
    die "BENCH_FL_MASKS holds '$m'; it takes off and secagg, comma-separated"
done
[[ -n ${OBLIV_SFS// /} ]] || die "BENCH_OBLIV_TPCH_SFS is empty"
for sf in $OBLIV_SFS; do
  if ! [[ $sf =~ ^[0-9]+(\.[0-9]+)?$ ]] || ! awk "BEGIN { exit !($sf >= 0.001) }"; then
    die "BENCH_OBLIV_TPCH_SFS must hold numbers >= 0.001, not '$sf'"
  fi
done
# Failures of mc2 itself (not of a peer) make the script exit 1 at the end.
failed=0

# ---- helpers ------------------------------------------------------------------------------

# calc EXPR: floating-point arithmetic (awk), printed with the format in $FMT (default %.2f).
calc() { awk "BEGIN { printf \"${FMT:-%.2f}\", $1 }"; }
# median of the numbers given as arguments (the lower middle one for an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
max() { printf '%s\n' "$@" | sort -g | tail -1; }
min() { printf '%s\n' "$@" | sort -g | head -1; }
now() { echo "$EPOCHREALTIME"; }
# verdict RATIO GOAL: "met" or "NOT met".
verdict() { awk "BEGIN { print ($1 >= $2) ? \"met\" : \"NOT met\" }"; }
# tail_log FILE: the last lines of a log, indented, for error reports.
tail_log() { tail -n 5 "$1" | sed 's/^/    | /'; }
# start_service LOG MC2-START-ARG...: `mc2 start ARG... --listen ADDR` on a random loopback port,
# another one when that port was taken meanwhile (tests and other programs may hold it), up to
# five times. Sets SVC to the address; mc2 start's output goes to LOG. Returns its status.
start_service() {
  local log=$1 try rc=1
  shift
  for try in 1 2 3 4 5; do
    SVC=127.0.0.1:$((30000 + RANDOM % 20000))
    "$BUILD/mc2" start "$@" --listen "$SVC" >"$log" 2>&1 && return 0
    rc=$?
    grep -q "cannot listen" "$log" || return $rc
  done
  return $rc
}

HAVE_TIME=0
if [[ -x /usr/bin/time ]]; then HAVE_TIME=1; fi
# timed LOG RSSFILE CMD...: runs CMD with stdout+stderr to LOG, sets T (wall seconds) and
# RSS (peak resident KiB, or "" without /usr/bin/time). Returns CMD's status.
timed() {
  local log=$1 rssf=$2 t0 t1 rc=0
  shift 2
  t0=$(now)
  if ((HAVE_TIME)); then
    /usr/bin/time -f '%M' -o "$rssf" "$@" >"$log" 2>&1 || rc=$?
  else
    "$@" >"$log" 2>&1 || rc=$?
  fi
  t1=$(now)
  T=$(FMT=%.6f calc "$t1 - $t0")
  RSS=""
  if ((HAVE_TIME)) && ((rc == 0)); then RSS=$(tail -1 "$rssf"); fi
  return $rc
}

# timed_live LOG RSSFILE CMD...: as timed, but CMD's stderr (its progress) goes to the
# terminal as it comes, and to LOG.err.
timed_live() {
  local log=$1 rssf=$2 t0 t1 rc=0 fd tee_pid
  shift 2
  exec {fd}> >(tee "$log.err" >&2)
  tee_pid=${!-}
  t0=$(now)
  if ((HAVE_TIME)); then
    /usr/bin/time -f '%M' -o "$rssf" "$@" >"$log" 2>&"$fd" || rc=$?
  else
    "$@" >"$log" 2>&"$fd" || rc=$?
  fi
  t1=$(now)
  exec {fd}>&-
  if [[ -n $tee_pid ]]; then wait "$tee_pid" 2>/dev/null || true; fi
  T=$(FMT=%.6f calc "$t1 - $t0")
  RSS=""
  if ((HAVE_TIME)) && ((rc == 0)); then RSS=$(tail -1 "$rssf"); fi
  return $rc
}

section() { printf '\n== %s ==\n' "$*"; }
# summary LABEL RATIO GOAL: adds a line to the closing summary.
SUMMARY=()
summary() { SUMMARY+=("$(printf '%-46s %6s  goal >= %s  %s' "$1" "$2" "$3" "$(verdict "$2" "$3")")"); }
# summary_note TEXT: a line of the closing summary without a goal.
summary_note() { SUMMARY+=("$1"); }

# ---- build --------------------------------------------------------------------------------

if [[ ! -f $BUILD/CMakeCache.txt ]]; then
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
buildlog=$(mktemp)
trap 'rm -f "$buildlog"' EXIT
build_target() { cmake --build "$BUILD" -j "$(nproc)" --target "$1" >"$buildlog" 2>&1; }

# shellcheck source=bench/report.sh
source "$ROOT/bench/report.sh"
REV=$(hist_rev)
START_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')

header() {
  echo "mc2 benchmarks — $START_DATE"
  echo "machine: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores," \
    "$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM"
  echo "mc2 at $REV$([[ $REV != *+dirty ]] || echo " (with uncommitted changes)"), build $BUILD"
  echo "MB = 10^6 bytes, MiB = 2^20 bytes; MB/s = 10^6 bytes per second of input"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine adds" \
    "noise)"
}

# ---- 1. AEAD ------------------------------------------------------------------------------

bench_aead() {
  section "AEAD: AES-256-GCM seal/open, mc2_aead_* vs openssl speed -evp aes-256-gcm"
  local out="" ossl="" why_ossl="" r
  if ! build_target bench_aead; then
    echo "mc2: bench_aead does not build:"
    tail_log "$buildlog"
    failed=1
    return
  fi
  if ! command -v openssl >/dev/null; then
    why_ossl="openssl not installed (Debian package openssl)"
  fi
  # ossl_speed OP SIZE [FLAG]: prints "OP SIZE BYTES/S". openssl speed -mr prints
  # "+F:<n>:AES-256-GCM:<bytes per second>" (OpenSSL 3.0 syntax: -bytes and -seconds take a
  # value; -decrypt times decryption).
  ossl_speed() {
    openssl speed -mr ${3:+"$3"} -evp aes-256-gcm -bytes "$2" -seconds "$AEAD_SECONDS" \
      2>/dev/null | awk -F: -v tag="$1 $2" '/^\+F:/ { print tag, $NF; n++ } END { exit !n }'
  }
  # Rounds alternate mc2 and openssl, so a busy moment hits both; each figure is the best
  # of the rounds.
  for ((r = 1; r <= AEAD_ROUNDS; r++)); do
    if ! out+=$("$BUILD/bench_aead" "$AEAD_SECONDS" 1048576 16384)$'\n'; then
      echo "mc2: bench_aead failed"
      failed=1
      return
    fi
    if [[ -z $why_ossl ]]; then
      if ! ossl+=$(ossl_speed seal 16384)$'\n' || ! ossl+=$(ossl_speed open 16384 -decrypt)$'\n' ||
        ! ossl+=$(ossl_speed seal 1048576)$'\n' || ! ossl+=$(ossl_speed open 1048576 -decrypt)$'\n'
      then
        why_ossl="could not parse 'openssl speed -mr -evp aes-256-gcm' output ($(openssl version))"
      fi
    fi
  done
  # best OP SIZE < lines: the highest rate in MB/s.
  best() { awk -v op="$1" -v n="$2" '$1 == op && $2 == n { v = $3 / 1e6; if (v > m) m = v }
                                      END { printf "%.1f", m }'; }

  echo "$AEAD_ROUNDS rounds of ${AEAD_SECONDS} s per figure, mc2 and openssl alternating; best" \
    "round shown; MB/s over CPU time as openssl speed counts it"
  local ms1 mo1 ms16 mo16 os1="" oo1="" os16="" oo16="" rs ro
  ms1=$(best seal 1048576 <<<"$out") mo1=$(best open 1048576 <<<"$out")
  ms16=$(best seal 16384 <<<"$out") mo16=$(best open 16384 <<<"$out")
  printf '%-40s %10s %10s\n' "MB/s" "seal" "open"
  printf '%-40s %10s %10s\n' "mc2 1 MiB (the table block size)" "$ms1" "$mo1"
  printf '%-40s %10s %10s\n' "mc2 16 KiB" "$ms16" "$mo16"
  if [[ -n $why_ossl ]]; then
    echo "openssl: skipped: $why_ossl"
    return
  fi
  os16=$(best seal 16384 <<<"$ossl") oo16=$(best open 16384 <<<"$ossl")
  os1=$(best seal 1048576 <<<"$ossl") oo1=$(best open 1048576 <<<"$ossl")
  printf '%-40s %10s %10s\n' "openssl 16 KiB" "$os16" "$oo16"
  printf '%-40s %10s %10s\n' "openssl 1 MiB" "$os1" "$oo1"
  rs=$(calc "$ms1 / $os16") ro=$(calc "$mo1 / $oo16")
  printf '%-40s %10s %10s\n' "ratio mc2 1 MiB / openssl 16 KiB (goal)" "$rs" "$ro"
  printf '%-40s %10s %10s\n' "ratio mc2 16 KiB / openssl 16 KiB" "$(calc "$ms16 / $os16")" \
    "$(calc "$mo16 / $oo16")"
  printf '%-40s %10s %10s\n' "ratio mc2 1 MiB / openssl 1 MiB" "$(calc "$ms1 / $os1")" \
    "$(calc "$mo1 / $oo1")"
  echo "peer: $(openssl version | cut -d' ' -f1-2); seal vs 'openssl speed -evp', open vs" \
    "'openssl speed -decrypt -evp' (streaming: no per-buffer nonce, AAD or tag)"
  echo "goal: mc2 at 1 MiB >= 0.90 x openssl at 16 KiB: seal $(verdict "$rs" 0.9)," \
    "open $(verdict "$ro" 0.9)"
  summary "AEAD seal, mc2 1 MiB / openssl 16 KiB" "$rs" 0.90
  summary "AEAD open, mc2 1 MiB / openssl 16 KiB" "$ro" 0.90
}

# ---- 2. ingest ----------------------------------------------------------------------------

# Makes sure bench/node_modules has @duckdb/node-api; sets DUCK_WHY when it cannot.
DUCK_WHY=""
ensure_duckdb() {
  if ! command -v node >/dev/null; then
    DUCK_WHY="node not installed (Debian package nodejs; make bench's bootstrap installs it)"
    return
  fi
  if [[ -f $ROOT/bench/node_modules/@duckdb/node-api/package.json ]]; then return; fi
  if ! command -v npm >/dev/null; then
    DUCK_WHY="npm not installed, so @duckdb/node-api cannot be installed (Debian package npm;"
    DUCK_WHY+=" make bench's bootstrap installs both)"
    return
  fi
  progress "installing @duckdb/node-api into bench/node_modules (npm install) ..."
  # `npm install` keeps to the versions in package-lock.json. (`npm ci` refuses this lock file:
  # npm leaves other platforms' optional DuckDB bindings out of it, then calls it out of sync.)
  if ! (cd "$ROOT/bench" && timeout 300 npm install --no-audit --no-fund --loglevel=error \
    --fetch-retries=1 --fetch-retry-maxtimeout=10000) >"$buildlog" 2>&1 ||
    [[ ! -f $ROOT/bench/node_modules/@duckdb/node-api/package.json ]]; then
    DUCK_WHY="@duckdb/node-api is not in bench/node_modules and 'npm install' in bench/ failed:"
    DUCK_WHY+=" $(grep -m1 -i 'err' "$buildlog" || tail -1 "$buildlog")"
  fi
}

# Generates the CSV, schema and DDL into $WORK unless the same generator already made them
# at the same size. Sets ROWS and CSV_BYTES; returns 1 (having said why) if it cannot.
prepare_csv() {
  local stamp want
  want="gen=$(sha256sum "$ROOT/bench/gen_csv.c" | cut -c1-16) mb=$CSV_MB"
  stamp=$WORK/data.stamp
  if [[ -f $stamp && -f $WORK/data.csv ]] && [[ $(head -1 "$stamp") == "$want" ]] &&
    [[ $(stat -c %s "$WORK/data.csv") == "$(awk '/^bytes/ { print $2 }' "$stamp")" ]]; then
    echo "data: reusing $WORK/data.csv"
  else
    local need_mb avail_mb
    need_mb=$((CSV_MB * 5 / 2 + 100)) # the CSV, mc2's output (smaller) and slack
    avail_mb=$(df -Pm "$WORK" | awk 'NR == 2 { print $4 }')
    if ((avail_mb < need_mb)); then
      echo "skipped: $WORK has ${avail_mb} MB free, the ingest benchmark needs about ${need_mb} MB" \
        "(set BENCH_DIR or BENCH_CSV_MB)"
      return 1
    fi
    rm -f "$stamp"
    progress "data: generating ${CSV_MB} MB of CSV in $WORK/data.csv ..."
    local info
    if ! info=$("$BUILD/bench_gen_csv" "$CSV_MB" "$WORK/data.csv" "$WORK/schema.yaml" \
      "$WORK/duckdb.sql") || [[ ! $info =~ ^rows\ [0-9]+\ bytes\ [0-9]+$ ]]; then
      echo "bench_gen_csv failed (output: '$info')"
      failed=1
      return 1
    fi
    { echo "$want"; tr ' ' '\n' <<<"$info" | paste - -; } >"$stamp"
  fi
  ROWS=$(awk '/^rows/ { print $2 }' "$stamp")
  CSV_BYTES=$(awk '/^bytes/ { print $2 }' "$stamp")
}

# check_mc2_rows FILE: the table mc2 wrote holds all $ROWS rows (so that a fast but
# incomplete encrypt cannot pass for a fast one). Reads `mc2 inspect`'s "rows:" line.
# Called from bench_ingest, whose $mc2 and $home it uses.
check_mc2_rows() {
  local got
  got=$(env "MC2_HOME=$home" "$mc2" inspect --in "$1" 2>&1 | awk '$1 == "rows:" { print $2 }')
  if [[ -z $got ]]; then
    echo "mc2: note: could not read the row count from 'mc2 inspect'; rows not checked"
  elif [[ $got != "$ROWS" ]]; then
    echo "mc2: 'mc2 encrypt' wrote $got rows, the CSV has $ROWS"
    return 1
  fi
}

bench_ingest() {
  section "Ingest: mc2 encrypt vs DuckDB COPY FROM of the same CSV (${CSV_MB} MB)"
  mkdir -p "$WORK"
  local mc2=$BUILD/mc2 home=$WORK/mc2-home
  if ! build_target bench_gen_csv || ! build_target mc2; then
    echo "skipped: the generator or mc2 does not build"
    tail_log "$buildlog"
    failed=1
    return
  fi
  prepare_csv || return 0
  ensure_duckdb

  # A bench identity, made once per work directory.
  if ! MC2_HOME=$home "$mc2" whoami >/dev/null 2>&1; then
    rm -rf "$home"
    if ! "$mc2" init --name bench --home "$home" >"$buildlog" 2>&1; then
      echo "mc2: 'mc2 init' failed:"
      tail_log "$buildlog"
      failed=1
      return
    fi
  fi

  local i log=$WORK/run.log rssf=$WORK/rss.txt out=$WORK/t.mc2t json
  local mc2_t=() mc2_rss=() dk_t=() dk_wall=() dk_rss=() dk_base=() dk_ver="" mc2_ok=1
  local mc2_cmd=(env "MC2_HOME=$home" "$mc2" encrypt --schema "$WORK/schema.yaml"
    --in "$WORK/data.csv" --out "$out" --threads "$THREADS")
  local dk_cmd=(node "$ROOT/bench/duckdb_load.mjs" --csv "$WORK/data.csv" --ddl "$WORK/duckdb.sql"
    --threads "$THREADS" --expect-rows "$ROWS")

  # Run 0 of each tool is a warm-up (it also puts data.csv in the page cache); runs 1..RUNS
  # are timed. The tools alternate so that drifts in the machine's speed hit both.
  progress "ingest: 1 warm-up + $RUNS timed runs of each tool, alternating ..."
  for ((i = 0; i <= RUNS; i++)); do
    if ((mc2_ok)); then
      rm -f "$out"
      if timed "$log" "$rssf" "${mc2_cmd[@]}"; then
        if ((i > 0)); then mc2_t+=("$T") mc2_rss+=("$RSS"); fi
        if ((i == 0)) && ! check_mc2_rows "$out"; then mc2_ok=0 failed=1; fi
      else
        echo "mc2: 'mc2 encrypt' failed:"
        tail_log "$log"
        mc2_ok=0 failed=1
      fi
    fi
    if [[ -z $DUCK_WHY ]]; then
      if timed "$log" "$rssf" "${dk_cmd[@]}"; then
        json=$(grep '^{' "$log" | tail -1)
        dk_ver=$(sed -E 's/.*"duckdb":"([^"]*)".*/\1/' <<<"$json")
        if ((i > 0)); then
          dk_t+=("$(sed -E 's/.*"copy_seconds":([0-9.e+-]+).*/\1/' <<<"$json")")
          dk_base+=("$(sed -E 's/.*"rss_before_copy_kb":([0-9]+).*/\1/' <<<"$json")")
          dk_wall+=("$T") dk_rss+=("$RSS")
        fi
      else
        DUCK_WHY="DuckDB's load failed: $(grep -m1 duckdb_load "$log" || tail -1 "$log")"
      fi
    fi
  done
  rm -f "$out"

  local mb
  mb=$(FMT=%.1f calc "$CSV_BYTES / 1e6")
  echo "data: $mb MB, $ROWS rows; columns INT64, DECIMAL(15,2), DATE, DOUBLE, BOOL, VARCHAR(40)" \
    "with NULLs and quoted fields"
  echo "threads $THREADS; page cache warm; best of $RUNS timed runs (MB/s from it), median beside it"
  printf '%-40s %8s %8s %9s %13s\n' "" "best s" "MB/s" "median s" "peak RSS MiB"
  rss_mib() { if [[ -n $1 ]]; then FMT=%.0f calc "$1 / 1024"; else echo "n/a"; fi; }
  # row LABEL TIMES... : prints best, MB/s, median of the times given; sets RATE.
  row() {
    local label=$1 b
    shift
    b=$(min "$@")
    RATE=$(calc "$CSV_BYTES / 1e6 / $b")
    printf '%-40s %8.2f %8.1f %9.2f' "$label" "$b" "$RATE" "$(median "$@")"
  }
  local mrate="" drate=""
  if ((mc2_ok)) && ((${#mc2_t[@]})); then
    row "mc2 encrypt (whole process, to disk)" "${mc2_t[@]}"
    mrate=$RATE
    printf ' %13s\n' "$(rss_mib "$(max "${mc2_rss[@]}")")"
  else
    printf '%-40s %8s\n' "mc2 encrypt" "failed"
  fi
  if [[ -z $DUCK_WHY ]]; then
    row "DuckDB ${dk_ver} COPY (in-memory table)" "${dk_t[@]}"
    drate=$RATE
    printf ' %13s\n' "$(rss_mib "$(max "${dk_rss[@]}")")"
    row "  same, whole node process" "${dk_wall[@]}"
    printf ' %13s\n' "($(rss_mib "$(max "${dk_base[@]}")") pre-COPY)"
  else
    printf '%-40s %8s\n' "DuckDB COPY" "skipped"
    echo "duckdb: skipped: $DUCK_WHY"
  fi
  if ((HAVE_TIME == 0)); then
    echo "peak RSS: n/a: /usr/bin/time is missing (Debian package time)"
  fi
  if [[ -n $mrate && -n $drate ]]; then
    local r
    r=$(calc "$mrate / $drate")
    echo "ratio mc2 / DuckDB COPY (MB/s): $r   goal >= 1.00 (not slower than DuckDB):" \
      "$(verdict "$r" 1.0)"
    summary "ingest, mc2 encrypt / DuckDB COPY" "$r" 1.00
  fi
}

# Attestation + channel set-up latency and a trivial job's round trip (medians), and upload
# throughput against a plain copy of the same bytes (dd with fsync, as mc2d fsyncs).
bench_platform() {
  section "Platform: attestation, job round trip, upload vs local copy"
  local mc2=$BUILD/mc2 pw=$WORK/platform
  rm -rf "$pw"
  mkdir -p "$pw"
  if ! "$mc2" init --name bench --home "$pw/home" >/dev/null ||
    ! pk=$("$mc2" service init --dir "$pw/state") ||
    ! "$mc2" policy init --out "$pw/home/consortium.yaml" --consortium bench \
      --party "bench=$pw/home/identity.crt" --recipient bench --enclave "$BUILD/mc2-enclave" \
      --allow-simulation --sim-platform-key "$pk" >/dev/null ||
    ! start_service "$pw/start.log" --policy "$pw/home/consortium.yaml" --dir "$pw/state"; then
    echo "platform: could not start a service: $(tail -1 "$pw/start.log" 2>/dev/null)"
    failed=1
    return
  fi
  local svc=$SVC
  # shellcheck disable=SC2064
  trap "'$mc2' stop --dir '$pw/state' >/dev/null 2>&1 || true" EXIT
  printf 'id,v\n1,a\n2,b\n' >"$pw/t.csv"
  printf 'columns:\n  - {name: id, type: INT64}\n  - {name: v, type: VARCHAR(4)}\n' >"$pw/t.yaml"
  MC2_SERVICE=$svc "$mc2" upload --home "$pw/home" --schema "$pw/t.yaml" --in "$pw/t.csv" \
    --as small >/dev/null 2>&1
  "$BUILD/bench_gen_csv" 256 "$pw/big.csv" "$pw/big.yaml" "$pw/big.sql" >/dev/null
  "$mc2" encrypt --home "$pw/home" --schema "$pw/big.yaml" --in "$pw/big.csv" --out "$pw/big.mc2t" >/dev/null
  rm -f "$pw/big.csv"
  local out
  if ! out=$("$BUILD/bench_platform" "$svc" "$pw/home" "$pw/home/consortium.yaml" small \
    "$PLATFORM_RUNS" "$pw/big.mc2t" 2>&1); then
    echo "$out"
    failed=1
    return
  fi
  grep -v '^upload:' <<<"$out"
  local bytes ms t0 t1 cp_ms
  bytes=$(awk '/^upload:/ { print $2 }' <<<"$out")
  ms=$(awk '/^upload:/ { print $5 }' <<<"$out")
  cat "$pw/big.mc2t" >/dev/null
  t0=$(now)
  dd if="$pw/big.mc2t" of="$pw/copy.mc2t" bs=1M conv=fsync status=none
  t1=$(now)
  cp_ms=$(calc "($t1 - $t0) * 1000")
  rm -f "$pw/copy.mc2t"
  local up cp r
  up=$(calc "$bytes / $ms / 1000")
  cp=$(calc "$bytes / $cp_ms / 1000")
  printf 'upload of %s MB: mc2 upload %s MB/s, local copy (dd, fsync) %s MB/s\n' \
    "$(calc "$bytes / 1000000")" "$up" "$cp"
  r=$(calc "$up / $cp")
  echo "ratio upload / local copy: $r"
  summary "upload, mc2 / local copy" "$r" 0.50
  "$mc2" stop --dir "$pw/state" >/dev/null 2>&1 || true
  trap - EXIT
}

# ---- attest: attestation + channel set-up per backend ----------------------------------------

# attest_one NAME GOAL_MS MC2-START-ARG...: a fresh service on that backend, one party, a policy
# trusting it (sim: its platform key; tpm: its AK, read from STATE/tpm-ak.pub after a first
# start); bench_attest's median and p99 over ATTEST_RUNS sessions, against the goal.
attest_one() {
  local name=$1 goal=$2 mc2=$BUILD/mc2 aw=$WORK/attest-$1 trust out med
  shift 2
  rm -rf "$aw"
  mkdir -p "$aw"
  "$mc2" init --name bench --home "$aw/home" >/dev/null
  if [[ $name == sim ]]; then
    trust=(--allow-simulation --sim-platform-key "$("$mc2" service init --dir "$aw/state")")
  else
    trust=(--tpm-ak "$(printf 'ab%.0s' $(seq 32))") # replaced by the AK once it is known
  fi
  local pol=(policy init --out "$aw/home/consortium.yaml" --consortium bench
    --party "bench=$aw/home/identity.crt" --recipient bench --enclave "$BUILD/mc2-enclave")
  if ! "$mc2" "${pol[@]}" "${trust[@]}" >/dev/null ||
    ! start_service "$aw/start.log" --policy "$aw/home/consortium.yaml" --dir "$aw/state" "$@"; then
    echo "$name: could not start a service: $(tail -1 "$aw/start.log" 2>/dev/null)"
    failed=1
    return
  fi
  if [[ $name == tpm ]]; then
    "$mc2" stop --dir "$aw/state" >/dev/null 2>&1 || true
    trust=(--tpm-ak "$(head -n 1 "$aw/state/tpm-ak.pub")")
    if ! "$mc2" "${pol[@]}" "${trust[@]}" >/dev/null ||
      ! start_service "$aw/start.log" --policy "$aw/home/consortium.yaml" --dir "$aw/state" "$@"; then
      echo "$name: could not restart with its AK: $(tail -1 "$aw/start.log" 2>/dev/null)"
      failed=1
      return
    fi
  fi
  if out=$("$BUILD/bench_attest" "$SVC" "$aw/home" "$aw/home/consortium.yaml" "$ATTEST_RUNS" 2>&1); then
    med=$(awk '{ print $3 }' <<<"$out")
    printf '  %-4s %s (goal: median <= %s ms: %s)\n' "$name" "${out#attest: }" "$goal" \
      "$(verdict "$goal" "$med")"
    summary "attest $name, goal ms / median ms" "$(calc "$goal / $med")" 1.00
  else
    echo "$name: $out"
    failed=1
  fi
  "$mc2" stop --dir "$aw/state" >/dev/null 2>&1 || true
}

bench_attest() {
  section "Attestation + TLS channel set-up, $ATTEST_RUNS sessions per backend"
  if ! build_target bench_attest; then
    echo "bench_attest does not build: $(tail -1 "$buildlog")"
    failed=1
    return
  fi
  echo "one session = TCP connect, TLS 1.3 to the enclave, evidence, verification, appraisal"
  attest_one sim 50
  if ! command -v swtpm >/dev/null; then
    echo "  tpm  skipped: no swtpm (apt install swtpm swtpm-tools)"
    return
  fi
  local port tdir=$WORK/attest-swtpm pid
  rm -rf "$tdir"
  mkdir -p "$tdir"
  port=$((30000 + RANDOM % 20000))
  swtpm socket --tpm2 --server type=tcp,port=$port,bindaddr=127.0.0.1 \
    --ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 --tpmstate dir="$tdir" \
    --flags not-need-init,startup-clear >"$tdir/log" 2>&1 &
  pid=$!
  sleep 0.5
  echo "  (tpm: swtpm, a software TPM on this machine: a hardware TPM's quote takes longer)"
  attest_one tpm 100 --tee tpm --tee-opt "tcti=swtpm:port=$port"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# GBDT training time and AUC against xgboost 1.7.4 (bench/bench_gbdt.sh prints both).
bench_gbdt() {
  section "GBDT: 1,000,000 x 28, 100 rounds, depth 6, 256 bins: mc2 vs xgboost hist"
  if ! /usr/bin/python3 -c 'import xgboost' 2>/dev/null; then
    echo "skipped: /usr/bin/python3 has no xgboost (Debian package python3-xgboost)"
    return
  fi
  if ! bash "$ROOT/bench/bench_gbdt.sh" "$BUILD"; then
    echo "gbdt: benchmark failed"
    failed=1
  fi
}

# ---- oblivious sort ------------------------------------------------------------------------

# The oblivious sort (bitonic, AVX2 kernels, 2 threads) against the fastest non-oblivious sort
# in the tree (radix) and libc qsort, 16-byte records at 2^16, 2^20, 2^24 (bench/bench_sort.c).
# Goal: <= 2x the best non-oblivious sort at 2^20.
bench_obliv_sort() {
  section "Oblivious sort vs radix sort and qsort, 16-byte records"
  if ! build_target bench_sort; then
    echo "mc2: bench_sort does not build:"
    tail -20 "$buildlog"
    failed=1
    return
  fi
  local out ratio
  if ! out=$("$BUILD/bench_sort" 16 20 24); then
    echo "mc2: bench_sort failed"
    failed=1
    return
  fi
  echo "$out"
  ratio=$(awk '$1 == "2^20" { print $7 }' <<<"$out")
  if [[ -n $ratio ]]; then
    echo "goal: oblivious sort (2 threads) <= 2x the radix sort at 2^20: $(awk "BEGIN { print ($ratio <= 2) ? \"MET\" : \"NOT MET\" }") (${ratio}x)"
    summary "oblivious sort 2^20, radix / oblivious" "$(FMT=%.4f calc "1 / $ratio")" 0.5
  fi
}

# ---- TPC-H: shared by the sections tpch and obliv-tpch ----------------------------------

# tpch_build: builds mc2, the service, the enclave and bench_tpch; returns 1 (having said why
# and marked the run failed) if one does not build.
tpch_build() {
  local t
  for t in mc2 mc2d mc2-enclave enclave_signature bench_tpch; do
    if ! build_target "$t"; then
      echo "mc2: $t does not build:"
      tail_log "$buildlog"
      failed=1
      return 1
    fi
  done
}

# tpch_data SF: the eight .tbl files of scale factor SF in $WORK/tpch-sfSF, generated with
# `mc2 gen tpch` unless the same generator already made them at that SF. Sets TPCH_DATA;
# returns 1 (having said why) if it cannot.
tpch_data() {
  local sf=$1 data=$WORK/tpch-sf$1 stamp want
  mkdir -p "$WORK"
  # The data is kept and reused while the generator's sources and the scale factor are the same.
  want="gen=$(cat "$ROOT"/src/tpch/*.[ch] | sha256sum | cut -c1-16) sf=$sf"
  stamp=$data/stamp
  if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
    echo "data: reusing $data"
  else
    local need_mb avail_mb
    need_mb=$(FMT=%.0f calc "$sf * 2600 + 100") # .tbl files, the service's copy, slack
    avail_mb=$(df -Pm "$WORK" | awk 'NR == 2 { print $4 }')
    if ((avail_mb < need_mb)); then
      echo "skipped: $WORK has ${avail_mb} MB free, TPC-H SF $sf needs about ${need_mb} MB" \
        "(set BENCH_DIR or a smaller scale factor)"
      return 1
    fi
    rm -rf "$data"
    progress "data: generating TPC-H SF $sf in $data (mc2 gen tpch) ..."
    if ! "$BUILD/mc2" gen tpch --sf "$sf" --out "$data" --threads "$THREADS" >"$buildlog" 2>&1; then
      echo "mc2: 'mc2 gen tpch' failed:"
      tail_log "$buildlog"
      failed=1
      return 1
    fi
    echo "$want" >"$stamp"
  fi
  echo "data: $(du -sm --apparent-size "$data" | cut -f1) MB of .tbl files," \
    "$(($(wc -l <"$data/lineitem.tbl"))) lineitem rows"
  TPCH_DATA=$data
}

# tpch_service_start DIR: a fresh local service with its state in DIR/state and one party,
# "bench" (home DIR/home), that owns all the tables and receives the results; stopped on exit
# or interrupt. Sets TPCH_HOME, TPCH_STATE and (tpch_service_run) TPCH_SVC. Returns 1 (having
# said why and marked the run failed) if it cannot.
TPCH_STATE=""
tpch_service_start() {
  local tw=$1 pk
  TPCH_HOME=$tw/home
  rm -rf "$tw"
  mkdir -p "$tw"
  if ! "$BUILD/mc2" init --name bench --home "$TPCH_HOME" >/dev/null ||
    ! pk=$("$BUILD/mc2" service init --dir "$tw/state") ||
    ! "$BUILD/mc2" policy init --out "$TPCH_HOME/consortium.yaml" --consortium bench \
      --party "bench=$TPCH_HOME/identity.crt" --recipient bench --enclave "$BUILD/mc2-enclave" \
      --allow-simulation --sim-platform-key "$pk" >/dev/null; then
    echo "mc2: could not set up a service"
    failed=1
    return 1
  fi
  TPCH_STATE=$tw/state
  trap 'tpch_service_stop; rm -f "$buildlog"' EXIT
  trap 'exit 130' INT TERM
  tpch_service_run
}

# tpch_service_run: starts mc2d (and its enclave) on $TPCH_STATE, on a random local port. The
# store survives a stop and start: the tables uploaded before are still there (the enclave
# instance is new; bench_tpch grants the key to each session it opens).
tpch_service_run() {
  if ! start_service "$buildlog" --policy "$TPCH_HOME/consortium.yaml" --dir "$TPCH_STATE" \
    --budget-mb "${TPCH_BUDGET_MB:-4096}"; then
    echo "mc2: could not start the service:"
    tail_log "$buildlog"
    failed=1
    return 1
  fi
  TPCH_SVC=$SVC
}

# tpch_service_pids: mc2d's pid and those of every process under it (the enclave).
tpch_service_pids() {
  local p t kids pids=()
  p=$(cat "$TPCH_STATE/mc2d.pid" 2>/dev/null) || return 0
  pids=("$p")
  for ((t = 0; t < ${#pids[@]}; t++)); do
    kids=$(cat /proc/"${pids[t]}"/task/*/children 2>/dev/null || true)
    for p in $kids; do pids+=("$p"); done
  done
  echo "${pids[@]}"
}

# tpch_service_alive: true while mc2d runs (it stops when its enclave exits).
tpch_service_alive() {
  local pid st
  pid=$(cat "$TPCH_STATE/mc2d.pid" 2>/dev/null) || return 1
  st=$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ -n $st && $st != Z && $st != X ]]
}

# tpch_service_peak_kb: the service's peak memory, VmHWM of mc2d and of every process under
# it, summed (empty if not readable).
tpch_service_peak_kb() {
  local p
  { for p in $(tpch_service_pids); do awk '/^VmHWM/ { print $2 }' "/proc/$p/status"; done \
    2>/dev/null || true; } | awk '{ s += $1 } END { if (s) print s }'
}

# tpch_service_stop: `mc2 stop`, then SIGKILL, by pid, for the processes that were under
# mc2d and still run: an enclave busy with a job notices mc2d's end only when the job is
# done (a query abandoned at its timeout would otherwise keep a core busy). Does nothing when
# no service runs.
tpch_service_stop() {
  [[ -n $TPCH_STATE && -f $TPCH_STATE/mc2d.pid ]] || return 0
  local p comms=() pids
  read -r -a pids <<<"$(tpch_service_pids)"
  for p in "${pids[@]}"; do comms+=("$(cat "/proc/$p/comm" 2>/dev/null || true)"); done
  "$BUILD/mc2" stop --dir "$TPCH_STATE" >/dev/null 2>&1 || true
  for ((p = 1; p < ${#pids[@]}; p++)); do
    if [[ -n ${comms[p]} && $(cat "/proc/${pids[p]}/comm" 2>/dev/null || true) == "${comms[p]}" ]]
    then
      kill -KILL "${pids[p]}" 2>/dev/null || true
    fi
  done
}

# tpch_service_end: stops the service and removes its copy of the tables (the .tbl files are
# kept for the next run).
tpch_service_end() {
  tpch_service_stop
  trap 'rm -f "$buildlog"' EXIT
  trap - INT TERM
  [[ -n $TPCH_STATE ]] && rm -rf "$TPCH_STATE/store"
  TPCH_STATE=""
}

# tpch_upload: encrypts and uploads the eight tables of $TPCH_DATA as "bench" (`mc2 upload`);
# returns 1 (having said why and marked the run failed) if one fails.
tpch_upload() {
  local t t0 t1
  progress "tpch: encrypting and uploading the 8 tables of $TPCH_DATA (mc2 upload) ..."
  t0=$(now)
  for t in region nation supplier customer part partsupp orders lineitem; do
    if ! MC2_SERVICE=$TPCH_SVC "$BUILD/mc2" upload --home "$TPCH_HOME" \
      --schema "$ROOT/schemas/tpch/$t.yaml" --in "$TPCH_DATA/$t.tbl" --as "$t" >"$buildlog" 2>&1
    then
      echo "mc2: 'mc2 upload' of $t failed:"
      tail_log "$buildlog"
      failed=1
      return 1
    fi
  done
  t1=$(now)
  echo "mc2: encrypted and uploaded the 8 tables in $(FMT=%.1f calc "$t1 - $t0") s (not in" \
    "the query times); $(du -sm --apparent-size "$TPCH_STATE" | cut -f1) MB in the service"
}

# field OUT QUERY N: the Nth word of query QUERY's line in OUT (bench_tpch's and
# duckdb_tpch.mjs's output: "rows" is 3, "ms" 5, the count of cells that are not NULL 7, mc2's
# timed runs 9).
field() { awk -v q="$2" -v n="$3" '$1 == q { print $n; exit }' <<<"$1"; }
# tpch_error OUT QUERY: the message of query QUERY's "qN error MESSAGE" line in OUT.
tpch_error() { awk -v q="$2" '$1 == q { $1 = ""; $2 = ""; sub(/^ +/, ""); print; exit }' <<<"$1"; }

# tpch_enclave_pid: the pid of the running service's enclave process (mc2-enclave, under
# mc2d), or nothing.
tpch_enclave_pid() {
  local p
  for p in $(tpch_service_pids); do
    if [[ $(cat "/proc/$p/comm" 2>/dev/null || true) == mc2-enclave ]]; then
      echo "$p"
      return
    fi
  done
}

# tpch_restart REASON: records REASON in MC2_RESTARTS, keeps the service's peak memory so far
# in MC2_SVC_KB, stops the service and starts it again (the tables stay). Returns 1 if it does
# not start (tpch_service_run said why).
tpch_restart() {
  local kb
  MC2_RESTARTS+=("$1")
  kb=$(tpch_service_peak_kb)
  if [[ -n $kb ]] && ((kb > ${MC2_SVC_KB:-0})); then MC2_SVC_KB=$kb; fi
  progress "tpch: $1; restarting the service ..."
  tpch_service_stop
  tpch_service_run
}

# tpch_mc2_queries: q1..q22 in mc2, encryption mode, job parameter threads=$THREADS, on the
# running service, through bench_tpch. Sets MC2_OUT (bench_tpch's lines "qN ..." and
# "enclave qN ..."), MC2_CLIENT_KB (bench_tpch's peak), MC2_SVC_KB (the service's, mc2d and
# enclave summed, the largest of the service's lives) and MC2_RESTARTS.
# A failing query does not stop the others. When bench_tpch stops early (a job still running
# at BENCH_TPCH_MC2_TIMEOUT, which the enclave cannot cancel; the enclave exited; bench_tpch
# itself died), the service is restarted and bench_tpch goes on with the next query. An error
# before the first query while the service still answers (e.g. a table missing from the
# catalog) would only repeat: every query left fails with it.
tpch_mc2_queries() {
  local from=1 out rc last epid why q kb logf logsz
  MC2_OUT="" MC2_CLIENT_KB="" MC2_SVC_KB="" MC2_RESTARTS=()
  while ((from <= 22)); do
    epid=$(tpch_enclave_pid)
    logf=$TPCH_STATE/mc2d.log
    logsz=$(stat -c %s "$logf" 2>/dev/null || echo 0)
    rc=0
    out=$("$BUILD/bench_tpch" mc2 "$TPCH_SVC" "$TPCH_HOME" "$TPCH_HOME/consortium.yaml" \
      "$TPCH_QUERIES" "$TPCH_RUNS" "threads=$THREADS" "timeout=$MC2_TIMEOUT" \
      "from=$from" ${epid:+"enclave-pid=$epid"}) || rc=$?
    MC2_OUT+=$(grep -E '^(q[0-9]+|enclave q[0-9]+) ' <<<"$out" || true)$'\n'
    kb=$(awk '$1 == "peak_rss_kb" { print $2 }' <<<"$out")
    if [[ -n $kb ]] && ((kb > ${MC2_CLIENT_KB:-0})); then MC2_CLIENT_KB=$kb; fi
    if ((rc == 0)); then break; fi
    last=$(awk -v n=$((from - 1)) '$1 ~ /^q[0-9]+$/ { n = substr($1, 2) } END { print n }' <<<"$out")
    why=$(awk '$1 == "fatal" { $1 = ""; sub(/^ +/, ""); print; exit }' <<<"$out")
    if ((rc == 3)); then
      # bench_tpch stopped after q$last: its job outlived the timeout, or the session was lost.
      if [[ $(field "$out" "q$last" 2) == error ]]; then
        why=$(tail -c "+$((logsz + 1))" "$logf" 2>/dev/null | grep -E 'error|exited|signal' |
          tail -n 2 | paste -sd';' || true)
        why="after q$last: the enclave session was lost${why:+ (mc2d.log: $why)}"
      else
        why="after q$last: its job was still running at the timeout (${MC2_TIMEOUT} s)"
      fi
    else
      # bench_tpch stopped before or during query last + 1.
      [[ -n $why ]] || why="bench_tpch exited with status $rc"
      if ((last < from)) && ((rc == 1)) && tpch_service_alive; then
        for ((q = from; q <= 22; q++)); do MC2_OUT+="q$q error $why"$'\n'; done
        break
      fi
      last=$((last + 1))
      MC2_OUT+="q$last error $why"$'\n'
      why="after q$last: $why"
    fi
    if ((last < 22)) && ! tpch_restart "$why"; then
      for ((q = last + 1; q <= 22; q++)); do
        MC2_OUT+="q$q error the service did not start again after q$last"$'\n'
      done
      break
    fi
    from=$((last + 1))
  done
  kb=$(tpch_service_peak_kb)
  if [[ -n $kb ]] && ((kb > ${MC2_SVC_KB:-0})); then MC2_SVC_KB=$kb; fi
}

# tpch_peers DATA: DuckDB and SQLite (those in BENCH_TPCH_PEERS) over the .tbl files in DATA,
# one after the other, nothing else of ours running meanwhile. Sets DK_OUT, DK_KB, DUCK_WHY
# and SQ_OUT, SQ_KB, SQ_WHY (why a peer has no figures).
tpch_peers() {
  local data=$1 log=$WORK/tpch-peer.log rssf=$WORK/rss.txt
  DK_OUT="" DK_KB="" SQ_OUT="" SQ_KB="" SQ_WHY=""
  if [[ ,$TPCH_PEERS, != *,duckdb,* ]]; then
    DUCK_WHY="not in BENCH_TPCH_PEERS ($TPCH_PEERS)"
  fi
  if [[ -z $DUCK_WHY ]]; then
    progress "tpch: DuckDB, 1 warm-up + $TPCH_RUNS timed runs per query, $THREADS threads ..."
    if timed_live "$log" "$rssf" node "$ROOT/bench/duckdb_tpch.mjs" --data "$data" \
      --schemas "$ROOT/schemas/tpch" --queries "$TPCH_QUERIES" \
      --threads "$THREADS" --runs "$TPCH_RUNS"; then
      DK_OUT=$(cat "$log") DK_KB=$RSS
    else
      DUCK_WHY="duckdb_tpch.mjs failed: $(grep -m1 '^fatal' "$log" || tail -1 "$log.err")"
    fi
  fi
  if [[ ,$TPCH_PEERS, != *,sqlite,* ]]; then
    SQ_WHY="not in BENCH_TPCH_PEERS ($TPCH_PEERS)"
    return
  fi
  progress "tpch: SQLite, each query once (timeout ${TPCH_TIMEOUT} s) ..."
  if timed_live "$log" "$rssf" "$BUILD/bench_tpch" sqlite "$data" "$ROOT/schemas/tpch" \
    "$ROOT/tests/data/tpch/sqlite" "$TPCH_TIMEOUT"; then
    SQ_OUT=$(cat "$log") SQ_KB=$RSS
  else
    SQ_WHY="bench_tpch sqlite failed: $(grep -m1 '^fatal' "$log" || tail -1 "$log.err")"
  fi
}

# TPC-H: the 22 queries over `mc2 gen tpch` data, in mc2 (encrypted tables on a local
# service, timed by bench_tpch from submission to decrypted result), DuckDB (in memory,
# plaintext) and SQLite (in memory, plaintext, key indexes); row counts cross-checked. Then
# the table, the goals, the plot and the history line.
bench_tpch() {
  local sf=$TPCH_SF
  section "TPC-H SF $sf: 22 queries, mc2 (encrypted, local service) vs DuckDB vs SQLite," \
    "$THREADS threads"
  tpch_build || return 0
  DUCK_WHY=""
  if [[ ,$TPCH_PEERS, == *,duckdb,* ]]; then ensure_duckdb; fi
  tpch_data "$sf" || return 0

  # ---- mc2: a fresh local service; one party ("bench") owns all eight tables ----
  MC2_OUT="" MC2_CLIENT_KB="" MC2_SVC_KB="" MC2_RESTARTS=()
  local mc2_ok=1 cpus
  TPCH_BUDGET_MB=$TPCH_BUDGET
  echo "mc2 service: memory budget $TPCH_BUDGET_MB MiB (mc2 start --budget-mb;" \
    "BENCH_TPCH_BUDGET_MB)"
  if ! tpch_service_start "$WORK/tpch-svc"; then
    tpch_service_end
    return
  fi
  if tpch_upload; then
    cpus=$(awk '/^Cpus_allowed_list:/ { print $2 }' "/proc/$(tpch_enclave_pid)/status" \
      2>/dev/null || true)
    progress "tpch: mc2, 1 warm-up + $TPCH_RUNS timed runs per query, sql job parameter" \
      "threads=$THREADS ..."
    tpch_mc2_queries
  else
    mc2_ok=0
  fi
  tpch_service_end

  tpch_peers "$TPCH_DATA"
  local dk_threads=""
  [[ -n $DK_OUT ]] && dk_threads=$(awk '$1 == "duckdb" { print $4; exit }' <<<"$DK_OUT")
  local th_line="threads: mc2 $THREADS (sql job parameter threads=$THREADS; the enclave may run"
  th_line+=" on CPUs ${cpus:-unknown})"
  [[ -n $DK_OUT ]] && th_line+=", DuckDB ${dk_threads:-?} (SET threads = $THREADS, read back)"
  [[ -n $SQ_OUT ]] && th_line+=", SQLite 1 (single-threaded: a query runs on one thread)"
  echo "$th_line"
  if [[ -n $dk_threads && $dk_threads != "$THREADS" ]]; then
    echo "note: DuckDB reports $dk_threads threads, not $THREADS"
  fi
  ((mc2_ok)) || MC2_OUT=""
  tpch_table "$sf" "$mc2_ok"
}

# tpch_table SF MC2_OK: the table of section tpch from MC2_OUT, DK_OUT and SQ_OUT, then the
# notes, peak memory, goals, plot and history.
tpch_table() {
  local sf=$1 mc2_ok=$2 t q mrows drows srows mms dms sms r1 r2 mark
  local msum=0 dsum=0 ssum=0 nbad=0 bad="" nm=0 cmd=0 cd=0 cms=0 cs=0 cs_lower=0
  local minsq="" minsq_q="" sq_lower=0 sq_bad="" notes=() hq=() plot="" logsum=0 nlog=0
  local ekb cpu wall peak_kb=0 epeak cores
  echo "times in ms: mc2 and DuckDB best of $TPCH_RUNS after a warm-up, SQLite one run;" \
    "mc2 from job submission to the last decrypted row"
  printf '%-5s %9s %10s %9s %10s %10s %10s %9s %5s\n' query rows "mc2 ms" "DuckDB ms" \
    "SQLite ms" mc2/DuckDB mc2/SQLite "encl MiB" cores
  for ((t = 1; t <= 22; t++)); do
    q=q$t mark=""
    # Row counts and times from the "qN rows R ms T ..." lines only.
    mrows="" drows="" srows="" mms="" dms="" sms=""
    if [[ $(field "$MC2_OUT" "$q" 2) == rows ]]; then
      mrows=$(field "$MC2_OUT" "$q" 3) mms=$(field "$MC2_OUT" "$q" 5)
    fi
    if [[ $(field "$DK_OUT" "$q" 2) == rows ]]; then
      drows=$(field "$DK_OUT" "$q" 3) dms=$(field "$DK_OUT" "$q" 5)
    fi
    if [[ $(field "$SQ_OUT" "$q" 2) == rows ]]; then
      srows=$(field "$SQ_OUT" "$q" 3) sms=$(field "$SQ_OUT" "$q" 5)
    fi
    # A query counts for mc2 only with a result whose row count and count of non-NULL cells
    # match DuckDB's (SQLite's when DuckDB did not run).
    case $(field "$MC2_OUT" "$q" 2) in
      rows) ;;
      timeout) notes+=("mc2: $q FAILED: no result within ${MC2_TIMEOUT} s (BENCH_TPCH_MC2_TIMEOUT)") ;;
      error) notes+=("mc2: $q FAILED: $(tpch_error "$MC2_OUT" "$q")") ;;
      *) ((mc2_ok)) && notes+=("mc2: $q FAILED: no result (see above)") ;;
    esac
    if [[ $(field "$MC2_OUT" "$q" 2) != rows ]]; then
      mms="" mark=FAILED
    elif [[ -n $drows && $mrows != "$drows" ]]; then
      notes+=("mc2: $q WRONG: $mrows rows, DuckDB $drows")
      mms="" mark=WRONG
    elif [[ -n $drows && $(field "$MC2_OUT" "$q" 7) != "$(field "$DK_OUT" "$q" 7)" ]]; then
      notes+=("mc2: $q WRONG: $(field "$MC2_OUT" "$q" 7) cells not NULL, DuckDB" \
        "$(field "$DK_OUT" "$q" 7) (same $mrows rows)")
      mms="" mark=WRONG
    elif [[ -z $drows && -n $srows && $mrows != "$srows" ]]; then
      notes+=("mc2: $q WRONG: $mrows rows, SQLite $srows")
      mms="" mark=WRONG
    elif [[ -z $drows && -z $srows ]]; then
      notes+=("mc2: $q: rows not checked (no peer ran it)")
    fi
    if [[ -n $mark ]]; then nbad=$((nbad + 1)) bad+=" $q"; fi
    if [[ -n $DK_OUT && -z $drows ]]; then
      notes+=("duckdb: $q: $(awk -v q="$q" '$1 == q { $1 = ""; sub(/^ +/, ""); print }' <<<"$DK_OUT")")
    fi
    if [[ $(field "$SQ_OUT" "$q" 2) == timeout ]]; then
      sms=">$((TPCH_TIMEOUT * 1000))"
    elif [[ -z $srows ]]; then
      [[ -n $SQ_OUT ]] && notes+=("sqlite: $q: $(awk -v q="$q" '$1 == q { $1 = ""; sub(/^ +/, ""); print }' <<<"$SQ_OUT")")
    elif [[ -n $drows && $srows != "$drows" ]]; then
      notes+=("sqlite: $q: $srows rows, DuckDB $drows (SQLite's rewrite differs)")
    elif [[ -n $drows && $(field "$SQ_OUT" "$q" 7) != "$(field "$DK_OUT" "$q" 7)" ]]; then
      notes+=("sqlite: $q: $(field "$SQ_OUT" "$q" 7) cells not NULL, DuckDB $(field "$DK_OUT" "$q" 7)")
    fi
    r1="" r2=""
    if [[ -n $mms && -n $dms ]]; then
      r1=$(calc "$mms / $dms")
      logsum=$(FMT=%.9f calc "$logsum + log($mms / $dms)") nlog=$((nlog + 1))
      plot+="$q $(FMT=%.4f calc "$mms / $dms")"$'\n'
    elif [[ -n $mark ]]; then
      plot+="$q/$mark -"$'\n'
    else
      plot+="$q/no-DuckDB -"$'\n'
    fi
    if [[ -n $mms && -n $sms ]]; then
      r2=$(calc "$mms / ${sms#>}")
      [[ $sms == '>'* ]] && r2="<$r2"
    fi
    # The enclave: its VmHWM after the query, as a running maximum over the run (Linux cannot
    # reset it; a restarted service starts a new process), and the cores it kept busy.
    ekb=$(awk -v q="$q" '$1 == "enclave" && $2 == q { print $4; exit }' <<<"$MC2_OUT")
    cpu=$(awk -v q="$q" '$1 == "enclave" && $2 == q { print $6; exit }' <<<"$MC2_OUT")
    wall=$(awk -v q="$q" '$1 == "enclave" && $2 == q { print $8; exit }' <<<"$MC2_OUT")
    epeak="" cores=""
    if [[ -n $ekb ]] && ((ekb > 0)); then
      ((ekb > peak_kb)) && peak_kb=$ekb
      epeak=$(FMT=%.0f calc "$peak_kb / 1024")
    fi
    if [[ -n $cpu && -n $wall ]] && awk "BEGIN { exit !($cpu >= 0 && $wall > 0) }"; then
      cores=$(FMT=%.1f calc "$cpu / $wall")
    fi
    local sms_txt=$sms
    if [[ -n $sms && $sms != '>'* ]]; then sms_txt=$(FMT=%.1f calc "$sms"); fi
    printf '%-5s %9s %10s %9s %10s %10s %10s %9s %5s\n' "$q" "${drows:-${srows:-$mrows}}" \
      "${mark:-$(FMT=%.1f calc "${mms:-0}")}" "${dms:+$(FMT=%.1f calc "$dms")}" "$sms_txt" \
      "$r1" "$r2" "$epeak" "$cores"
    hq+=("${mark:-$(FMT=%.1f calc "${mms:-0}")}" "${dms:+$(FMT=%.1f calc "$dms")}" "$sms_txt")
    # Sums: each tool's over all the queries it answered, and mc2's against each peer's over
    # the queries both answered (the ratios in the sum rows).
    if [[ -n $mms ]]; then msum=$(calc "$msum + $mms") nm=$((nm + 1)); fi
    if [[ -n $dms ]]; then dsum=$(calc "$dsum + $dms"); fi
    if [[ -n $mms && -n $dms ]]; then cmd=$(calc "$cmd + $mms") cd=$(calc "$cd + $dms"); fi
    if [[ -n $sms ]]; then
      ssum=$(calc "$ssum + ${sms#>}")
      [[ $sms == '>'* ]] && sq_lower=1
      if [[ -n $mms ]]; then
        cms=$(calc "$cms + $mms") cs=$(calc "$cs + ${sms#>}")
        [[ $sms == '>'* ]] && cs_lower=1
      fi
    else
      sq_bad+=" $q"
    fi
    # The goal "every query faster than SQLite": the smallest SQLite / mc2 (a failed mc2
    # query counts as not faster).
    if [[ -n $mms && -n $sms ]]; then
      r2=$(FMT=%.4f calc "${sms#>} / $mms")
      if [[ -z $minsq ]] || awk "BEGIN { exit !($r2 < $minsq) }"; then minsq=$r2 minsq_q=$q; fi
    fi
  done
  local sq_sum_txt r_md="" r_ms="" geo=""
  sq_sum_txt=$(FMT=%.1f calc "$ssum")
  ((sq_lower)) && sq_sum_txt=">$sq_sum_txt"
  [[ -n $SQ_OUT ]] || sq_sum_txt=""
  if awk "BEGIN { exit !($cd > 0) }"; then r_md=$(calc "$cmd / $cd"); fi
  if awk "BEGIN { exit !($cs > 0) }"; then r_ms=$(calc "$cms / $cs"); fi
  ((cs_lower)) && r_ms="<$r_ms"
  ((nlog)) && geo=$(calc "exp($logsum / $nlog)")
  printf '%-5s %9s %10s %9s %10s %10s %10s %9s\n' sum "$nm/22" "$(FMT=%.1f calc "$msum")" \
    "${DK_OUT:+$(FMT=%.1f calc "$dsum")}" "$sq_sum_txt" "$r_md" "$r_ms" \
    "$( ((peak_kb)) && FMT=%.0f calc "$peak_kb / 1024")"
  echo "(sum: each tool's sum over the queries it answered; \"$nm/22\": the queries mc2" \
    "answered right; the ratios compare sums over the queries both answered)"
  [[ -n $geo ]] && echo "geometric mean of the per-query mc2 / DuckDB ratios: $geo (over $nlog queries)"
  echo "encl MiB: the enclave's peak memory (VmHWM of mc2-enclave) after the query, a running" \
    "maximum (Linux cannot reset it between queries), so it belongs to this query or an" \
    "earlier one; cores: the enclave's CPU time / wall time over the query's runs"
  ((${#MC2_RESTARTS[@]})) && printf 'mc2: service restarted %s\n' "${MC2_RESTARTS[@]}"
  ((${#notes[@]})) && printf '%s\n' "${notes[@]}"
  if [[ -n $DUCK_WHY ]]; then echo "duckdb: skipped: $DUCK_WHY"; fi
  if [[ -n $SQ_WHY ]]; then echo "sqlite: skipped: $SQ_WHY"; fi
  if [[ -n $DK_OUT ]]; then
    echo "DuckDB: $(head -1 <<<"$DK_OUT" | cut -d' ' -f2), loaded in $(field "$DK_OUT" load_s 2) s"
  fi
  if [[ -n $SQ_OUT ]]; then
    echo "SQLite $(field "$SQ_OUT" sqlite 2): tables" \
      "loaded with tests/sqlref (DECIMAL as exact scaled INTEGER, DATE as TEXT, key indexes) in" \
      "$(field "$SQ_OUT" load_s 2) s"
  fi
  rss_mib() { if [[ -n $1 ]]; then FMT=%.0f calc "$1 / 1024"; else echo "n/a"; fi; }
  local dk_mem="not run" sq_mem="not run"
  [[ -n $DK_OUT ]] && dk_mem="$(rss_mib "$DK_KB") MiB"
  [[ -n $SQ_OUT ]] && sq_mem="$(rss_mib "$SQ_KB") MiB"
  echo "peak memory: mc2 enclave $( ((peak_kb)) && rss_mib "$peak_kb" || echo n/a) MiB" \
    "(whole service, mc2d + enclave, $(rss_mib "$MC2_SVC_KB") MiB), mc2 client" \
    "$(rss_mib "$MC2_CLIENT_KB") MiB; DuckDB (node) $dk_mem; SQLite $sq_mem"

  # ---- goals ----
  local label="TPC-H SF $sf" goal_x=2 goal_r=0.50
  if awk "BEGIN { exit !($sf >= 10) }"; then goal_x=3 goal_r=0.33; fi
  if ((nbad)); then failed=1; fi
  if [[ -z $DK_OUT ]]; then
    echo "goal sum within ${goal_x}x of DuckDB: not measured (DuckDB skipped)"
  elif ((nbad)); then
    echo "goal sum within ${goal_x}x of DuckDB: NOT met (mc2 failed or was wrong on$bad;" \
      "over the $nm others, DuckDB sum / mc2 sum = ${r_md:+$(calc "1 / $r_md")})"
    SUMMARY+=("$(printf '%-46s %6s  goal >= %s  %s' "$label, DuckDB sum / mc2 sum" n/a $goal_r \
      "NOT met ($nbad queries failed in mc2)")")
  else
    r1=$(calc "$dsum / $msum")
    echo "goal sum within ${goal_x}x of DuckDB (DuckDB sum / mc2 sum >= $goal_r): $r1," \
      "$(verdict "$r1" $goal_r)"
    summary "$label, DuckDB sum / mc2 sum" "$r1" $goal_r
  fi
  if [[ -z $SQ_OUT ]]; then
    echo "goal every query faster than SQLite: not measured (SQLite skipped)"
  elif ((nbad)) || [[ -z $minsq ]]; then
    echo "goal every query faster than SQLite: NOT met (mc2 failed or was wrong on${bad:- all})"
    SUMMARY+=("$(printf '%-46s %6s  goal >= %s  %s' "$label, min SQLite / mc2" n/a 1.00 \
      "NOT met ($nbad queries failed in mc2)")")
  else
    [[ -n $sq_bad ]] && echo "note: SQLite has no time for$sq_bad; those are not compared"
    r2=$(calc "$minsq")
    echo "goal every query faster than SQLite (smallest SQLite / mc2 >= 1.00, $minsq_q): $r2," \
      "$(verdict "$r2" 1.0)"
    summary "$label, min over queries SQLite / mc2" "$r2" 1.00
  fi
  if [[ -n $DK_OUT ]] && ((nlog)); then
    plot_ratios "$REPORT_DIR/tpch-sf$sf.png" \
      "TPC-H SF $sf, $THREADS threads: mc2 / DuckDB per query ($REV, $START_DATE); sum ${r_md}x over $nlog queries, geomean ${geo}x" \
      "mc2 time / DuckDB time (log scale)" "$goal_x" "${goal_x}x (the goal for the sum)" "$plot"
  else
    echo "plot: skipped: no query has both an mc2 and a DuckDB time"
  fi

  # ---- history ----
  tpch_history "$sf" "$nm" "$msum" "${DK_OUT:+$dsum}" "$sq_sum_txt" "$r_md" "$geo" \
    "${minsq:+$(calc "$minsq")}" "$( ((peak_kb)) && FMT=%.0f calc "$peak_kb / 1024")" \
    "$(rss_mib "$MC2_SVC_KB")" "${hq[@]}"
}

# history_dir SF: the directory of the history files for a table at scale factor SF, or
# nothing (BENCH_HISTORY; by default bench/history from SF 1 on).
history_dir() {
  case $HISTORY in
    off) ;;
    auto) if awk "BEGIN { exit !($1 >= 1) }"; then echo "$ROOT/bench/history"; fi ;;
    *) echo "$HISTORY" ;;
  esac
}

# tpch_history SF N_OK MC2_SUM DUCKDB_SUM SQLITE_SUM RATIO GEOMEAN MIN_SQLITE ENCLAVE_MIB
# SERVICE_MIB then, per query, mc2, DuckDB and SQLite ms (66 values): appends the line to
# tpch.tsv and compares it with the previous line of the same SF and thread count.
tpch_history() {
  local sf=$1 n=$2 ratio=$6 geo=$7 dir file header row prev q v
  dir=$(history_dir "$sf")
  if [[ -z $dir ]]; then
    echo "history: not recorded (BENCH_HISTORY=$HISTORY; by default only from SF 1 on)"
    return
  fi
  file=$dir/tpch.tsv
  header="date	commit	sf	threads	budget_mb	runs	queries_ok	mc2_sum_ms	duckdb_sum_ms"
  header+="	sqlite_sum_ms	mc2_duckdb_sum_ratio	mc2_duckdb_geomean	min_sqlite_over_mc2"
  header+="	enclave_peak_mib	service_peak_mib"
  for ((q = 1; q <= 22; q++)); do header+="	q${q}_mc2	q${q}_duckdb	q${q}_sqlite"; done
  row="$(date -u '+%Y-%m-%dT%H:%MZ')	$REV	$sf	$THREADS	$TPCH_BUDGET	$TPCH_RUNS	$n"
  shift 2
  # Empty fields are written as "-".
  for v in "$@"; do row+="	${v:--}"; done
  prev=""
  if [[ -n $ratio ]]; then
    prev=$(hist_prev "$file" "$sf" "$THREADS" mc2_duckdb_sum_ratio mc2_duckdb_geomean \
      queries_ok commit date) || prev=""
  fi
  hist_append "$file" "$header" "$row" || return 0
  echo "history: appended to $file (commit it with the change it measures)"
  if [[ -z $ratio ]]; then return; fi
  if [[ -z $prev ]]; then
    echo "history: no earlier entry at SF $sf with $THREADS threads to compare with"
    return
  fi
  local p_ratio p_geo p_n p_rev p_date note=""
  IFS=$'\t' read -r p_ratio p_geo p_n p_rev p_date <<<"$prev"
  [[ $p_n != "$n" ]] && note="$n queries answered now, $p_n then"
  hist_compare "TPC-H SF $sf mc2/DuckDB sum ratio" "$ratio" "$p_ratio" "$p_rev" "$p_date" "$note"
  if [[ -n $geo ]]; then
    hist_compare "TPC-H SF $sf mc2/DuckDB geomean" "$geo" "$p_geo" "$p_rev" "$p_date" "$note"
  fi
  return 0
}

# Oblivious mode against encryption mode: the 22 TPC-H queries in mc2, as `sql` jobs without
# and with the job parameter oblivious=1, on the same service and tables, per scale factor.

# obliv_query N LABEL [oblivious]: runs query qN in one mode (bench_tpch mc2 ... from=N to=N,
# job parameter threads=$THREADS, with $OBLIV_TIMEOUT s for its warm-up and timed runs) on the
# running service and sets LINE to bench_tpch's line for it. When bench_tpch does not end
# normally (exit status 3: it abandoned the job at the timeout, and the enclave, which runs one
# job at a time, is still running it; or the enclave exited; any other status: bench_tpch
# failed, e.g. could not open its session), the query's LINE is its timeout or its error (with
# what mc2d.log said meanwhile when the enclave went away) and the service is restarted (the
# tables stay). Returns 1 (having said why and marked the run failed) only if the service does
# not start again.
obliv_query() {
  local n=$1 label=$2 out rc=0 why logf=$TPCH_STATE/mc2d.log logsz
  shift 2
  logsz=$(stat -c %s "$logf" 2>/dev/null || echo 0)
  out=$("$BUILD/bench_tpch" mc2 "$TPCH_SVC" "$TPCH_HOME" "$TPCH_HOME/consortium.yaml" \
    "$TPCH_QUERIES" "$TPCH_RUNS" "$@" "threads=$THREADS" \
    "timeout=$OBLIV_TIMEOUT" "from=$n" "to=$n") || rc=$?
  LINE=$(grep -E "^q$n " <<<"$out" || true)
  ((rc == 0)) && return 0
  if [[ -z $LINE ]]; then
    why=$(awk '$1 == "fatal" { $1 = ""; sub(/^ +/, ""); print; exit }' <<<"$out")
    LINE="q$n error ${why:-bench_tpch exited with status $rc}"
  fi
  if [[ $(cut -d' ' -f2 <<<"$LINE") == error ]]; then
    if ((rc == 3)) || ! tpch_service_alive; then
      why=$(tail -c "+$((logsz + 1))" "$logf" 2>/dev/null | grep -E 'error|exited|signal' |
        tail -n 2 | paste -sd';' || true)
      [[ -n $why ]] && LINE+=" (mc2d.log: $why)"
    fi
    echo "  q$n, $label mode: bench_tpch stopped (status $rc) after an error; restarting the" \
      "service ..."
  else
    echo "  q$n, $label mode: its job was still running at the timeout; restarting the" \
      "service ..."
  fi
  tpch_service_stop
  tpch_service_run || return 1
}

# obliv_tpch_sf SF: one scale factor: data, service, upload, the 22 queries in both modes, the
# table.
obliv_tpch_sf() {
  local sf=$1
  tpch_data "$sf" || return 0
  # Oblivious mode holds its rows in memory and is capped at the budget: most of the machine.
  TPCH_BUDGET_MB=${BENCH_OBLIV_BUDGET_MB:-$(awk '/^MemTotal:/ { print int($2 / 1024 * 3 / 4) }' /proc/meminfo)}
  echo "service memory budget: $TPCH_BUDGET_MB MiB (caps oblivious jobs; BENCH_OBLIV_BUDGET_MB)"
  if ! tpch_service_start "$WORK/obliv-tpch-svc" || ! tpch_upload; then
    tpch_service_end
    return
  fi
  # Query by query, encryption mode then oblivious mode, so that a change in the machine's load
  # hits both modes of a query alike.
  local enc_out="" obl_out="" n LINE
  progress "obliv-tpch SF $sf: q1..q22, each in encryption mode then in oblivious mode: 1 warm-up +" \
    "$TPCH_RUNS timed runs per query and mode (at most ${OBLIV_TIMEOUT} s each) ..."
  for ((n = 1; n <= 22; n++)); do
    obliv_query "$n" encryption || break
    enc_out+=$LINE$'\n'
    obliv_query "$n" oblivious oblivious || break
    obl_out+=$LINE$'\n'
  done
  tpch_service_end

  # ---- the table ----
  local t q est ost ems oms ecol ocol rows ratio msg unsup="" COL
  local ratios=() in_geo=() nsup=() tmo=() bad=() notes=() star=0 hq=() plot=""
  # ms_col OUT QUERY LABEL: sets COL, the time column for a "rows" line, with "*" (and a note)
  # when fewer than $TPCH_RUNS timed runs fitted in the query's timeout.
  ms_col() {
    local k
    k=$(field "$1" "$2" 9)
    COL=$(FMT=%.1f calc "$(field "$1" "$2" 5)")
    if [[ -n $k && $k != "$TPCH_RUNS" ]]; then
      COL+="*" star=1
      if [[ $k == 0 ]]; then
        notes+=("$2 $3 mode: the warm-up run's time (no timed run fitted in ${OBLIV_TIMEOUT} s)")
      else
        local plural=s
        ((k == 1)) && plural=""
        notes+=("$2 $3 mode: best of $k timed run$plural (no more fitted in ${OBLIV_TIMEOUT} s)")
      fi
    fi
  }
  echo "times in ms: best of $TPCH_RUNS timed runs after a warm-up; both modes on the same" \
    "service and tables, alternating query by query"
  printf '%-5s %9s %14s %14s %10s\n' query rows "encryption ms" "oblivious ms" "obl/enc"
  for ((t = 1; t <= 22; t++)); do
    q=q$t ems="" oms="" ratio="" unsup=""
    est=$(field "$enc_out" "$q" 2) ost=$(field "$obl_out" "$q" 2)
    rows=""
    if [[ $est == rows ]]; then rows=$(field "$enc_out" "$q" 3); fi
    if [[ -z $rows && $ost == rows ]]; then rows=$(field "$obl_out" "$q" 3); fi
    # An error or a missing line is a failure of mc2 (run.sh exits 1), except oblivious mode's
    # "not supported"; a timeout is not.
    case $est in
      rows)
        ems=$(field "$enc_out" "$q" 5)
        ms_col "$enc_out" "$q" encryption
        ecol=$COL
        ;;
      timeout) ecol=timeout ;;
      error)
        ecol=FAILED bad+=("$q")
        notes+=("$q encryption mode FAILED: $(tpch_error "$enc_out" "$q")")
        ;;
      *)
        ecol=FAILED bad+=("$q")
        notes+=("$q encryption mode FAILED: no result (see above)")
        ;;
    esac
    case $ost in
      rows)
        oms=$(field "$obl_out" "$q" 5)
        ms_col "$obl_out" "$q" oblivious
        ocol=$COL
        ;;
      timeout) ocol=timeout tmo+=("$q") ;;
      error)
        msg=$(tpch_error "$obl_out" "$q")
        if [[ $msg == *"not supported in oblivious mode: "* ]]; then
          unsup="not supported: ${msg#*not supported in oblivious mode: }" nsup+=("$q")
        else
          ocol=FAILED
          [[ $ecol == FAILED ]] || bad+=("$q")
          notes+=("$q oblivious mode FAILED: $msg")
        fi
        ;;
      *)
        ocol=FAILED
        [[ $ecol == FAILED ]] || bad+=("$q")
        notes+=("$q oblivious mode FAILED: no result (see above)")
        ;;
    esac
    if [[ -n $ems && -n $oms ]]; then
      # Both modes must give the same result size: rows, and cells that are not NULL.
      local er orr en on
      er=$(field "$enc_out" "$q" 3) orr=$(field "$obl_out" "$q" 3)
      en=$(field "$enc_out" "$q" 7) on=$(field "$obl_out" "$q" 7)
      if [[ $er != "$orr" || $en != "$on" ]]; then
        ratio=MISMATCH bad+=("$q")
        notes+=("$q MISMATCH: encryption mode $er rows ($en cells not NULL), oblivious mode $orr rows ($on)")
      else
        ratio=$(calc "$oms / $ems")
        ratios+=("$(FMT=%.6f calc "$oms / $ems")") in_geo+=("$q")
      fi
    elif [[ -n $ems && $ost == timeout ]]; then
      ratio=">$(calc "$OBLIV_TIMEOUT * 1000 / $ems")"
    fi
    if [[ -n $unsup ]]; then
      printf '%-5s %9s %14s   %s\n' "$q" "$rows" "$ecol" "$unsup"
      ocol=unsupported
    else
      printf '%-5s %9s %14s %14s %10s\n' "$q" "$rows" "$ecol" "$ocol" "$ratio"
    fi
    hq+=("$ecol" "$ocol")
    if [[ $ratio =~ ^[0-9] ]]; then
      plot+="$q $(FMT=%.4f calc "$oms / $ems")"$'\n'
    else
      plot+="$q/${ratio:-${ocol}} -"$'\n'
    fi
  done
  ((star)) && echo "*: fewer than $TPCH_RUNS timed runs fitted in the query's ${OBLIV_TIMEOUT} s" \
    "(see below)"
  ((${#notes[@]})) && printf '%s\n' "${notes[@]}"
  ((${#bad[@]})) && failed=1
  echo "oblivious mode: ${#in_geo[@]} of 22 queries ran in both modes with the same result size;" \
    "not supported: ${#nsup[@]}${nsup[*]:+ (${nsup[*]})}; timeout: ${#tmo[@]}${tmo[*]:+ (${tmo[*]})};" \
    "failed or MISMATCH: ${#bad[@]}${bad[*]:+ (${bad[*]})}"

  # ---- the goal: geometric mean of oblivious / encryption over the queries in both ----
  if ((${#ratios[@]} == 0)); then
    echo "goal: geomean <= 10x: not measured (no query ran in both modes)"
    return
  fi
  local geo met
  geo=$(printf '%s\n' "${ratios[@]}" | awk '{ s += log($1); n++ } END { printf "%.6f", exp(s / n) }')
  met=$(awk "BEGIN { print ($geo <= 10) ? \"MET\" : \"NOT MET\" }")
  echo "geomean of oblivious / encryption over the ${#ratios[@]} queries that ran in both modes:" \
    "$(calc "$geo")x${tmo[*]:+ (timed out in oblivious mode, not in it: ${tmo[*]})}"
  local scope=""
  ((${#ratios[@]} < 22)) && scope=" (over ${#ratios[@]} of the 22 queries, see above)"
  echo "goal: geomean <= 10x: $met$scope"
  summary "TPC-H SF $sf, encryption / oblivious geomean" "$(FMT=%.4f calc "1 / $geo")" 0.10
  plot_ratios "$REPORT_DIR/obliv-tpch-sf$sf.png" \
    "TPC-H SF $sf: oblivious / encryption mode per query ($REV, $START_DATE); geomean $(calc "$geo")x over ${#ratios[@]} queries" \
    "oblivious time / encryption-mode time (log scale)" 10 "10x (the goal for the geomean)" "$plot"
  obliv_history "$sf" "${#ratios[@]}" "$(calc "$geo")" "${hq[@]}"
}

# obliv_history SF N GEOMEAN then, per query, the encryption-mode and oblivious columns of the
# table (44 values): appends the line to obliv-tpch.tsv and compares the geomean with the
# previous line of the same SF and thread count.
obliv_history() {
  local sf=$1 n=$2 geo=$3 dir file header row prev q v
  dir=$(history_dir "$sf")
  if [[ -z $dir ]]; then
    echo "history: not recorded (BENCH_HISTORY=$HISTORY; by default only from SF 1 on)"
    return 0
  fi
  file=$dir/obliv-tpch.tsv
  header="date	commit	sf	threads	budget_mb	runs	queries_in_geomean	obl_enc_geomean"
  for ((q = 1; q <= 22; q++)); do header+="	q${q}_enc	q${q}_obl"; done
  row="$(date -u '+%Y-%m-%dT%H:%MZ')	$REV	$sf	$THREADS	$TPCH_BUDGET_MB	$TPCH_RUNS	$n	$geo"
  shift 3
  for v in "$@"; do row+="	${v:--}"; done
  prev=$(hist_prev "$file" "$sf" "$THREADS" obl_enc_geomean queries_in_geomean commit date) ||
    prev=""
  hist_append "$file" "$header" "$row" || return 0
  echo "history: appended to $file (commit it with the change it measures)"
  if [[ -z $prev ]]; then
    echo "history: no earlier entry at SF $sf with $THREADS threads to compare with"
    return 0
  fi
  local p_geo p_n p_rev p_date note=""
  IFS=$'\t' read -r p_geo p_n p_rev p_date <<<"$prev"
  [[ $p_n != "$n" ]] && note="over $n queries now, $p_n then"
  hist_compare "TPC-H SF $sf oblivious/encryption geomean" "$geo" "$p_geo" "$p_rev" "$p_date" \
    "$note"
}

bench_obliv_tpch() {
  local sf built=0
  for sf in $OBLIV_SFS; do
    section "TPC-H SF $sf: oblivious mode vs encryption mode, 22 queries in mc2 (local service)"
    if ((built == 0)); then
      tpch_build || return 0
      built=1
    fi
    obliv_tpch_sf "$sf"
  done
}

# ---- federated averaging ------------------------------------------------------------------

# One fedavg round of FL_CLIENTS clients x FL_PARAMS float32 values through a fresh local
# service (bench/bench_fl.c): the enclave's aggregation time (the round's result table,
# agg_ms, measured inside the enclave) against a plain C weighted sum of the same vectors in
# the same process run, and the bytes each client sent (a counting relay) against the raw
# update. Goals (issue 15): aggregation <= 2x the plain sum; bytes <= 1.1x the raw update
# without masks; the masked figure is shown beside SecAgg's published 1.73x (2^10 clients,
# 2^20 dimensions).
bench_fl() {
  section "Federated averaging: one round, $FL_CLIENTS clients x $FL_PARAMS float32 parameters"
  if ! build_target bench_fl; then
    echo "mc2: bench_fl does not build:"
    tail_log "$buildlog"
    failed=1
    return
  fi
  local mc2=$BUILD/mc2 fw=$WORK/fl pk i
  rm -rf "$fw"
  mkdir -p "$fw/homes"
  local svc parties=()
  for ((i = 0; i < FL_CLIENTS; i++)); do
    local name
    name=$(printf 'client-%03d' "$i")
    "$mc2" init --name "$name" --home "$fw/homes/$name" >/dev/null || {
      echo "fl: mc2 init failed"
      failed=1
      return
    }
    parties+=(--party "$name=$fw/homes/$name/identity.crt")
  done
  if ! pk=$("$mc2" service init --dir "$fw/state") ||
    ! "$mc2" policy init --out "$fw/consortium.yaml" --consortium bench-fl "${parties[@]}" \
      --recipient client-000 --enclave "$BUILD/mc2-enclave" --allow-simulation \
      --sim-platform-key "$pk" >/dev/null; then
    echo "fl: could not write the policy"
    failed=1
    return
  fi
  for ((i = 0; i < FL_CLIENTS; i++)); do
    cp "$fw/consortium.yaml" "$fw/homes/$(printf 'client-%03d' "$i")/consortium.yaml"
  done
  if ! start_service "$fw/start.err" --policy "$fw/consortium.yaml" --dir "$fw/state"; then
    echo "fl: could not start a service: $(tail -1 "$fw/start.err")"
    failed=1
    return
  fi
  svc=$SVC
  # shellcheck disable=SC2064
  trap "'$mc2' stop --dir '$fw/state' >/dev/null 2>&1 || true" EXIT
  local raw=$((FL_PARAMS * 4)) m out
  echo "the same round twice at most: unmasked (clients one after the other, each its own"
  echo "attested session) and masked (all at once); the enclave's aggregation time comes from"
  echo "the round's result table (agg_ms, measured inside the enclave: folding each update into"
  echo "the double-precision sum, and the final mean); the peer is a plain C loop"
  echo "sum_i w_i u_i in double, then / sum_i w_i, over the same vectors in the same process."
  echo "bytes: everything a client sent to the service for its part (session set-up,"
  echo "attestation, update, signature), counted by a relay, per client; raw = 4 x $FL_PARAMS."
  local nc
  for m in ${FL_MASKS//,/ }; do
    nc=$FL_CLIENTS
    if [[ $m == secagg ]]; then nc=$FL_MASKED_CLIENTS; fi
    progress "fl: one round, masks $m, $nc clients ..."
    if ! out=$("$BUILD/bench_fl" "$svc" "$fw/homes" "$nc" "$FL_PARAMS" "$m" 2>&1); then
      if [[ $m == secagg ]] && grep -q "runs unmasked rounds only" <<<"$out"; then
        echo "masks secagg: skipped: $(tail -1 <<<"$out" | sed 's/^bench_fl: //')"
        continue
      fi
      echo "masks $m: bench_fl failed:"
      sed 's/^/    | /' <<<"$out" | tail -n 5
      failed=1
      continue
    fi
    fl_report "$m" "$raw" "$out"
  done
  "$mc2" stop --dir "$fw/state" >/dev/null 2>&1 || true
  trap - EXIT
}

# fl_report MASKS RAW OUTPUT: the table rows and summary lines of one bench_fl run.
fl_report() {
  local m=$1 raw=$2 out=$3 agg plain bytes diff sub
  agg=$(awk '$2 == "enclave_agg_ms" { print $3 }' <<<"$out")
  plain=$(awk '$2 == "plain_sum_ms" { print $3 }' <<<"$out")
  bytes=$(awk '$2 == "bytes_per_client" { print $3 }' <<<"$out")
  diff=$(awk '$2 == "max_abs_diff" { print $3 " (bound " $5 ")" }' <<<"$out")
  sub=$(awk '$2 == "submit_ms" { print "median " $4 " ms, slowest " $6 " ms, all " $8 " ms" }' <<<"$out")
  echo
  echo "masks $m, $(awk '$2 == "clients" { print $3 }' <<<"$out") clients:" \
    "$(grep '^fl: result' <<<"$out" | sed 's/^fl: result //')"
  if [[ $m == secagg ]] && ((FL_MASKED_CLIENTS < FL_CLIENTS)); then
    echo "  (not $FL_CLIENTS: a masked round keeps every participant's session open through its"
    echo "  stages, and the enclave holds at most 64 sessions at once, ENC_MAX_SESSIONS)"
  fi
  echo "  per client submit (open, attest, send): $sub"
  echo "  model = plain weighted mean within $diff (largest absolute difference)"
  local bratio
  bratio=$(FMT=%.4f calc "$bytes / $raw")
  printf '  bytes per client: %s, raw update %s: %sx\n' "$bytes" "$raw" "$bratio"
  if [[ $m == off ]]; then
    echo "  goal: <= 1.1x the raw update: $(verdict "$(calc "1.1 / $bratio")" 1)"
    summary "fl bytes/client, raw / sent (unmasked)" "$(FMT=%.4f calc "$raw / $bytes")" 0.909
  else
    echo "  SecAgg (Bonawitz et al., CCS'17) reports 1.73x at 2^10 clients x 2^20 dimensions"
    summary_note "fl bytes/client masked: ${bratio}x the raw update (SecAgg: 1.73x)"
  fi
  if [[ -z $agg || $agg == - ]]; then
    echo "  enclave aggregation time: not reported (the round's result table has no agg_ms)"
    failed=1
    return
  fi
  if [[ $m == secagg ]]; then
    # agg_ms covers the aggregator's adds (the masked sum mod 2^32, the unmasked sum) and the
    # mean, not the masking stages (keys, shares, regenerating the masks of dropped clients).
    printf '  aggregation: enclave %s ms (the aggregator only: adding the masked vectors and\n' "$agg"
    printf '  the unmasked sum, the mean; not the masking stages), plain C weighted sum %s ms\n' "$plain"
    return
  fi
  printf '  aggregation: enclave %s ms, plain C weighted sum %s ms: %sx\n' "$agg" "$plain" \
    "$(calc "$agg / $plain")"
  echo "  goal: <= 2x the plain sum: $(verdict "$(calc "2 * $plain / $agg")" 1)"
  summary "fl aggregation, plain sum / enclave ($m)" "$(FMT=%.4f calc "$plain / $agg")" 0.50
}

# ---- cluster: encrypted collectives vs plain MPI ----------------------------------------------

# Encrypted allreduce (f64 sum) and alltoallv over the enclave mesh and the MPI relay vs plain
# MPI_Allreduce / MPI_Alltoallv of the same bytes, in the same mpirun (bench_cluster, built
# from tests/tools/meshrun.c on the production relay). The mesh runs in each rank's process
# (no enclave process per rank yet).
bench_cluster() {
  section "Cluster: encrypted collectives vs plain MPI, $CLUSTER_BYTES bytes per rank, ranks $CLUSTER_RANKS"
  if ! command -v mpirun >/dev/null; then
    echo "skipped: no mpirun (apt install openmpi-bin libopenmpi-dev, then re-run cmake)"
    return
  fi
  if ! build_target bench_cluster; then
    echo "skipped: bench_cluster does not build (did cmake find MPI?): $(tail -1 "$buildlog")"
    return
  fi
  local np out line what ratio tr rc
  local -a extra targs
  read -r -a extra <<<"${BENCH_MPIRUN_ARGS:-}"
  if [[ $(id -u) -eq 0 ]]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
  echo "MB/s = 10^6 bytes of each rank's vector (allreduce) or send buffer (alltoallv) per second;"
  echo "ratio = encrypted / plain (goal >= 0.8x); the mesh runs in each rank's process;"
  echo "cpu ms = the busiest rank's CPU time per call (busy waiting included)."
  echo "Transports: shm = Open MPI's default choice on one host (shared memory, vader);"
  echo "tcp = both sides forced over TCP (--mca pml ob1 --mca btl tcp,self), as between hosts."
  for tr in shm tcp; do
    targs=()
    [[ $tr == tcp ]] && targs=(--mca pml ob1 --mca btl tcp,self)
    for np in $CLUSTER_RANKS; do
      progress "cluster: $np ranks over $tr ..."
      # A run takes seconds; one TCP run on a heavily loaded machine once hung in MPI_Recv
      # (both ranks; bench/README.md), so each is bounded (exit 124: timed out).
      rc=0
      out=$(timeout -k 5 300 mpirun --oversubscribe --bind-to none -np "$np" \
        ${extra[@]+"${extra[@]}"} ${targs[@]+"${targs[@]}"} "$BUILD/bench_cluster" \
        --bench "$CLUSTER_BYTES" --iters "$CLUSTER_ITERS" </dev/null 2>&1) || rc=$?
      if ((rc)); then
        echo "$np ranks over $tr: bench_cluster FAILED (exit $rc$( ((rc == 124)) && echo ': timed out after 300 s')):"
        tail -5 <<<"$out" | sed 's/^/    | /'
        failed=1
        continue
      fi
      while read -r line; do
        what=$(awk '{ print $2 }' <<<"$line")
        ratio=$(sed 's/.*ratio=\([0-9.]*\).*/\1/' <<<"$line")
        printf '  %-4s %-10s %s\n' "$tr" "$what" "$(cut -d' ' -f3- <<<"$line")"
        summary "cluster $what, $np ranks, $tr, encrypted / plain" "$ratio" 0.80
      done < <(grep '^cluster: \(allreduce\|alltoallv\) ' <<<"$out")
      grep -q '^cluster: transcripts agree' <<<"$out" || {
        echo "$np ranks over $tr: the transcripts did not agree"
        failed=1
      }
    done
  done
  bench_dist_train
  bench_dist_sql
}

# Distributed SQL: the 22 TPC-H queries on 1 (one enclave), 2 and 4 ranks, tables placed on
# the ranks' services, same data, same run (bench/bench_dist_sql.sh).
bench_dist_sql() {
  local sf=${BENCH_DIST_SQL_SF:-1} out q n
  echo
  echo "Distributed SQL: TPC-H SF $sf, the 22 queries on 1 (one enclave), and 2 and 4 ranks over"
  echo "tables placed on the ranks' services (mc2 sql --ranks N); ms = mc2 sql, start to result;"
  echo "mesh MB = sealed bytes all ranks sent over MPI for the query (its shuffles, broadcasts and"
  echo "gathers, plus the job bundle and the transcript check). The ranks share this machine's"
  echo "$(nproc) cores."
  progress "cluster: distributed SQL, TPC-H SF $sf ..."
  if ! out=$(bash "$ROOT/bench/bench_dist_sql.sh" "$BUILD" "$sf" 1 $CLUSTER_RANKS 2>&1); then
    echo "distributed SQL FAILED: $(tail -3 <<<"$out")"
    failed=1
    return
  fi
  local ranks=(1 $CLUSTER_RANKS)
  printf '  %-6s' query
  for n in "${ranks[@]}"; do printf ' %10s' "$n rk ms"; done
  for n in $CLUSTER_RANKS; do printf ' %10s' "$n rk MB"; done
  echo
  for q in $(seq 1 22) sum; do
    printf '  %-6s' "q$q"
    for n in "${ranks[@]}"; do
      printf ' %10s' "$(awk -v n="$n" -v q="$q" '$1 == "dsql:" && $3 == n && ($5 == q || q == "sum") { t += $7 } END { print t + 0 }' <<<"$out")"
    done
    for n in $CLUSTER_RANKS; do
      printf ' %10s' "$(awk -v n="$n" -v q="$q" '$1 == "dsql:" && $3 == n && ($5 == q || q == "sum") { b += $9 } END { printf "%.1f", b / 1e6 }' <<<"$out")"
    done
    echo
  done
  for n in $CLUSTER_RANKS; do
    summary_note "$(awk -v n="$n" '$1 == "dsql:" && $3 == 1 { one += $7 } $1 == "dsql:" && $3 == n { t += $7 }
      END { printf "cluster TPC-H SF '"$sf"', %s ranks: %d ms vs %d ms on one enclave (%.2fx)", n, t, one, one / t }' <<<"$out")"
  done
}

# Distributed GBDT training (param ranks N: one enclave per rank, worker enclaves under
# mpirun) against one enclave, same data, same run (bench/bench_dist.sh).
bench_dist_train() {
  local rows=${BENCH_DIST_ROWS:-1000000} rounds=${BENCH_DIST_ROUNDS:-20} out line
  echo
  echo "Distributed GBDT training: $rows rows x 3 features, $rounds rounds, depth 6, binary:logistic;"
  echo "ms = submission to done; one = the same job on one enclave over the whole table;"
  echo "mesh = sealed messages all ranks sent over MPI. The ranks share this machine's $(nproc) cores."
  if ! build_target mc2-rank || ! build_target mc2-enclave || ! build_target mc2 ||
    ! build_target mc2d || ! build_target hostscan; then
    echo "skipped: mc2-rank does not build (did cmake find MPI?): $(tail -1 "$buildlog")"
    return
  fi
  progress "cluster: distributed training ..."
  if ! out=$(bash "$ROOT/bench/bench_dist.sh" "$BUILD" "$rows" "$rounds" $CLUSTER_RANKS 2>&1); then
    echo "distributed training FAILED: $(tail -3 <<<"$out")"
    failed=1
    return
  fi
  printf '  %-6s %10s %10s %9s %14s %10s\n' ranks "ms" "one ms" "speed-up" "mesh bytes" "messages"
  while read -r line; do
    set -- $line
    printf '  %-6s %10s %10s %8.2fx %14s %10s\n' "$3" "${9}" "${11}" \
      "$(awk -v a="${11}" -v b="${9}" 'BEGIN { print a / b }')" "${13}" "${15}"
    summary_note "$(printf 'cluster training, %s ranks: %s ms vs %s ms on one enclave' "$3" "${9}" "${11}")"
  done < <(grep '^dist: ' <<<"$out")
}

# ---- main ---------------------------------------------------------------------------------

main() {
  header
  if [[ ,$ONLY, == *,aead,* ]]; then bench_aead; fi
  if [[ ,$ONLY, == *,ingest,* ]]; then bench_ingest; fi
  if [[ ,$ONLY, == *,platform,* ]]; then bench_platform; fi
  if [[ ,$ONLY, == *,attest,* ]]; then bench_attest; fi
  if [[ ,$ONLY, == *,gbdt,* ]]; then bench_gbdt; fi
  if [[ ,$ONLY, == *,obliv-sort,* ]]; then bench_obliv_sort; fi
  if [[ ,$ONLY, == *,tpch,* ]]; then bench_tpch; fi
  if [[ ,$ONLY, == *,obliv-tpch,* ]]; then bench_obliv_tpch; fi
  if [[ ,$ONLY, == *,fl,* ]]; then bench_fl; fi
  if [[ ,$ONLY, == *,cluster,* ]]; then bench_cluster; fi

  section "Summary (ratio = mc2 / peer, higher is better)"
  if ((${#SUMMARY[@]})); then printf '%s\n' "${SUMMARY[@]}"; else echo "no ratio could be measured"; fi
  ((${#REGRESSIONS[@]} == 0)) || printf '%s\n' "${REGRESSIONS[@]}"
  if ((failed)); then
    echo "bench: some mc2 benchmarks failed (see above)"
    return 1
  fi
}

mkdir -p "$REPORT_DIR" || die "cannot create the report directory $REPORT_DIR (BENCH_REPORT_DIR)"
progress "the report goes to stdout and to $REPORT_DIR/report.txt"
# main runs in a subshell of the pipeline; its status is the script's (pipefail).
main | tee "$REPORT_DIR/report.txt"
