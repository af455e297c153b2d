#!/usr/bin/env bash
# bootstrap.sh - install the Debian packages mc2 needs to build, test, demo and bench.
# Idempotent: installs only what is missing, and runs `apt-get update` only then.
#   bootstrap.sh --bench   also installs the benchmarks' DuckDB peer (npm @duckdb/node-api,
#                          the version pinned in bench/package-lock.json) into
#                          bench/node_modules when it is missing (`make bench` does this)
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=0
case ${1:-} in
  --bench) BENCH=1 ;;
  "") ;;
  -h | --help)
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "usage: bootstrap.sh [--bench]" >&2
    exit 2
    ;;
esac

# bench_deps: with --bench, the DuckDB npm package (bench/run.sh tries again and reports
# "duckdb: skipped: REASON" if it is still missing).
bench_deps() {
  ((BENCH)) || return 0
  [[ -f bench/node_modules/@duckdb/node-api/package.json ]] && return 0
  echo "bootstrap: installing @duckdb/node-api into bench/node_modules (npm install)"
  # `npm install` keeps to the versions in package-lock.json.
  if ! (cd bench && timeout 300 npm install --no-audit --no-fund --loglevel=error); then
    echo "bootstrap: 'npm install' in bench/ failed; the benchmarks will skip DuckDB" >&2
  fi
}

PKGS=(
  build-essential cmake pkg-config git
  clang clang-format libclang-rt-14-dev  # libFuzzer, sanitizers, format check
  libssl-dev openssl                     # all crypto, TLS and X.509
  libyaml-dev                            # schema, config and policy files
  libsqlite3-dev sqlite3                 # SQL test oracle
  valgrind                               # obliviousness checks
  strace                                 # canary test: every byte the host reads or writes
  time                                   # peak memory in benchmarks (/usr/bin/time -v)
  libseccomp-dev                         # the enclave's system-call filter
  libedit-dev                            # mc2 shell: line editing and history
  swtpm swtpm-tools tpm2-tools libtss2-dev  # tpm TEE backend: ESAPI (host only); swtpm for its tests
  python3-xgboost python3-sklearn python3-numpy  # GBDT oracle (/usr/bin/python3)
  python3-pandas python3-pytest                   # the mc2 Python package and its tests
  python3-venv python3-pip                        # `pip install ./python` test (offline)
  nodejs npm                             # DuckDB peer for benchmarks (npm @duckdb/node-api)
  gnuplot-nox                            # benchmark plots (make bench)
  openssh-server openssh-client iproute2 # cluster test: an sshd per network namespace
  openmpi-bin libopenmpi-dev             # the mesh's MPI relay, test_meshrun, bench cluster
)

missing=()
for p in "${PKGS[@]}"; do
  [[ "$p" == \#* ]] && continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
# npm may be provided by the nodejs package itself (NodeSource builds): accept a working npm.
if [[ " ${missing[*]} " == *" npm "* ]] && command -v npm >/dev/null 2>&1; then
  missing=("${missing[@]/npm/}")
fi
want=()
for p in "${missing[@]}"; do [[ -n "$p" ]] && want+=("$p"); done

if ((${#want[@]} == 0)); then
  echo "bootstrap: all build dependencies present"
  bench_deps
  exit 0
fi
echo "bootstrap: installing missing packages: ${want[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${want[@]}"
bench_deps
