#!/usr/bin/env bash
# run.sh - mc2's benchmarks, each printed as a ratio against a peer measured in the same run
# (`make bench`; bench/README.md says what each figure means). Not a test: goals that are not
# met are reported, not failed. A peer that cannot run is reported as "skipped: reason".
#
# Environment (all optional):
#   BENCH_DIR           work directory for generated data   (default build/bench-work)
#   BENCH_CSV_MB        size of the ingest CSV in 10^6 bytes (default 1000)
#   BENCH_RUNS          timed runs per ingest tool, best reported (default 3)
#   BENCH_THREADS       threads for mc2 encrypt and DuckDB   (default 2)
#   BENCH_AEAD_SECONDS  seconds per AEAD figure and round, mc2 and openssl alike (default 1)
#   BENCH_AEAD_ROUNDS   AEAD rounds, best one reported       (default 5)
#   BENCH_ONLY          comma-separated sections: aead, ingest, platform, gbdt (default all)
#   BENCH_PLATFORM_RUNS runs per platform latency figure     (default 30)
#   BENCH_BUILD         build directory to use               (default build, as `make bench`)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BENCH_BUILD:-$ROOT/build}
WORK=${BENCH_DIR:-$BUILD/bench-work}
CSV_MB=${BENCH_CSV_MB:-1000}
RUNS=${BENCH_RUNS:-3}
THREADS=${BENCH_THREADS:-2}
AEAD_SECONDS=${BENCH_AEAD_SECONDS:-1}
AEAD_ROUNDS=${BENCH_AEAD_ROUNDS:-5}
ONLY=${BENCH_ONLY:-aead,ingest,platform,gbdt}
PLATFORM_RUNS=${BENCH_PLATFORM_RUNS:-30}

die() {
  echo "bench: $*" >&2
  exit 1
}
for v in CSV_MB RUNS THREADS AEAD_SECONDS AEAD_ROUNDS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "BENCH_${v} must be a positive integer, not '${!v}'"
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

section() { printf '\n== %s ==\n' "$*"; }
# summary LABEL RATIO GOAL: adds a line to the closing summary.
SUMMARY=()
summary() { SUMMARY+=("$(printf '%-40s %6s  goal >= %s  %s' "$1" "$2" "$3" "$(verdict "$2" "$3")")"); }

# ---- build --------------------------------------------------------------------------------

if [[ ! -f $BUILD/CMakeCache.txt ]]; then
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
buildlog=$(mktemp)
trap 'rm -f "$buildlog"' EXIT
build_target() { cmake --build "$BUILD" -j "$(nproc)" --target "$1" >"$buildlog" 2>&1; }

echo "mc2 benchmarks — $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores," \
  "$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM"
rev=$(GIT_OPTIONAL_LOCKS=0 git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "no git")
echo "mc2 at $rev (plus any uncommitted changes), build $BUILD"
echo "MB = 10^6 bytes, MiB = 2^20 bytes; MB/s = 10^6 bytes per second of input"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine adds noise)"

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
    DUCK_WHY="node not installed (Debian package nodejs)"
    return
  fi
  if [[ -f $ROOT/bench/node_modules/@duckdb/node-api/package.json ]]; then return; fi
  if ! command -v npm >/dev/null; then
    DUCK_WHY="npm not installed (Debian package npm)"
    return
  fi
  echo "installing @duckdb/node-api into bench/node_modules (npm)..."
  # `npm install` keeps to the versions in package-lock.json. (`npm ci` refuses this lock file:
  # npm leaves other platforms' optional DuckDB bindings out of it, then calls it out of sync.)
  if ! (cd "$ROOT/bench" && timeout 300 npm install --no-audit --no-fund --loglevel=error \
    --fetch-retries=1 --fetch-retry-maxtimeout=10000) >"$buildlog" 2>&1 ||
    [[ ! -f $ROOT/bench/node_modules/@duckdb/node-api/package.json ]]; then
    DUCK_WHY="'npm install' in bench/ failed: $(grep -m1 -i 'err' "$buildlog" || tail -1 "$buildlog")"
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
    echo "data: generating ${CSV_MB} MB of CSV in $WORK/data.csv ..."
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
  echo "running: 1 warm-up + $RUNS timed runs of each tool, alternating ..."
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
  local mc2=$BUILD/mc2 pw=$WORK/platform port=$((30000 + RANDOM % 20000))
  rm -rf "$pw"
  mkdir -p "$pw"
  local svc=127.0.0.1:$port
  if ! "$mc2" init --name bench --home "$pw/home" >/dev/null ||
    ! pk=$("$mc2" service init --dir "$pw/state") ||
    ! "$mc2" policy init --out "$pw/home/consortium.yaml" --consortium bench \
      --party "bench=$pw/home/identity.crt" --recipient bench --enclave "$BUILD/mc2-enclave" \
      --allow-simulation --sim-platform-key "$pk" >/dev/null ||
    ! "$mc2" start --policy "$pw/home/consortium.yaml" --dir "$pw/state" --listen "$svc" >/dev/null; then
    echo "platform: could not start a service"
    failed=1
    return
  fi
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

# ---- main ---------------------------------------------------------------------------------

if [[ ,$ONLY, == *,aead,* ]]; then bench_aead; fi
if [[ ,$ONLY, == *,ingest,* ]]; then bench_ingest; fi
if [[ ,$ONLY, == *,platform,* ]]; then bench_platform; fi
if [[ ,$ONLY, == *,gbdt,* ]]; then bench_gbdt; fi

section "Summary (ratio = mc2 / peer, higher is better)"
if ((${#SUMMARY[@]})); then printf '%s\n' "${SUMMARY[@]}"; else echo "no ratio could be measured"; fi
if ((failed)); then
  echo "bench: some mc2 benchmarks failed (see above)"
  exit 1
fi
