#!/usr/bin/env bash
# test_docs.sh - the commands in README.md and docs/*.md run as written, so they cannot go
# stale. tests/cli/docs_blocks.py extracts the fenced blocks (the convention: docs/
# architecture.md "The docs are tested"); every sh/bash/console/python block not marked
# `<!-- docs-test: skip (reason) -->` runs, in order, per document, in a fresh scratch
# directory that is also $HOME (with `build`, `examples`, `schemas` linking to the build and
# the checkout, as in a checkout), `mc2` from the build directory on PATH and $MC2_SERVICE a
# free port. A document's fixture (below) makes only what its text says exists elsewhere:
# README.md the other parties' certificates b.crt and c.crt; docs/python.md, gbdt.md and
# sql.md two parties' homes bank-a and bank-b (both recipients) and a running service;
# every other document an identity in ~/.mc2.
# A failing block fails the test with the document, the block's line and its output. The
# skipped blocks are listed with their reasons. Lints: no file refers to what is outside the
# repository; no doc says oblivious mode is "not yet" there; every `make X` a doc names is a
# Makefile target; a C example calls only the installed API unless its section is headed
# internal.
source "$(dirname "$0")/lib.sh"
B=$(cd "${MC2_BUILD:?}" && pwd)
SRC=$(cd "${MC2_SRC:?}" && pwd)
PY=/usr/bin/python3
DOCS="$SRC/README.md $(echo "$SRC"/docs/*.md)"
# stop_services: stops what the documents and fixtures started (README: ./state; the
# python.md, gbdt.md and sql.md fixture: ./service).
stop_services() {
  for s in "$WORK"/run/*/state "$WORK"/run/*/service; do
    [[ -d $s ]] && "$B/mc2" stop --dir "$s" >/dev/null 2>&1
  done
  return 0
}
cleanup() {
  stop_services
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---- extraction: every block has a language; skip markers well-formed --------------------
# shellcheck disable=SC2086 # the list of documents
if "$PY" "$(dirname "$0")/docs_blocks.py" "$WORK/blocks" $DOCS 2>"$WORK/extract.err"; then ok; else
  bad "docs_blocks.py: $(cat "$WORK/extract.err")"
fi

# fixture DOC DIR: what DOC's text assumes exists besides its own commands.
fixture() {
  local doc=$1 d=$2
  case $doc in
  README.md)
    for p in bank-b auditor; do
      "$B/mc2" init --name "$p" --home "$d/$p" >/dev/null || return 1
    done
    cp "$d/bank-b/identity.crt" "$d/b.crt" && cp "$d/auditor/identity.crt" "$d/c.crt"
    ;;
  python.md | gbdt.md | sql.md)
    for p in bank-a bank-b; do "$B/mc2" init --name "$p" --home "$d/$p" >/dev/null || return 1; done
    local pk
    pk=$("$B/mc2" service init --dir "$d/service") || return 1
    "$B/mc2" policy init --out "$d/consortium.yaml" --consortium docs \
      --party "bank-a=$d/bank-a/identity.crt" --party "bank-b=$d/bank-b/identity.crt" \
      --recipient bank-a --recipient bank-b --enclave "$B/mc2-enclave" --allow-simulation \
      --sim-platform-key "$pk" >/dev/null || return 1
    for p in bank-a bank-b; do cp "$d/consortium.yaml" "$d/$p/"; done
    start_service "$d/service" "$d/consortium.yaml" "$B/mc2" || {
      cat "$WORK/err"
      return 1
    }
    ;;
  *) "$B/mc2" init --name bank-a >/dev/null ;;
  esac
}

# run_python DOC: runs the python blocks collected in pyblocks (LINE:FILE) in one interpreter
# (consecutive blocks build on each other), counts them in n, empties pyblocks.
run_python() {
  [[ ${#pyblocks[@]} -gt 0 ]] || return 0
  # In sanitizer builds libmc2.so needs the runtimes preloaded into python (CMakeLists.txt).
  local pre=()
  [[ -n ${MC2_PY_PRELOAD:-} ]] && pre=(env "LD_PRELOAD=$MC2_PY_PRELOAD" ASAN_OPTIONS=detect_leaks=0)
  if ! "${pre[@]}" "$PY" - "$1" "${pyblocks[@]}" >"$WORK/block.out" 2>&1 <<'EOF'; then
import sys, traceback
g = {"__name__": "__main__"}
for b in sys.argv[2:]:
    line, path = b.split(":", 1)
    try:
        exec(compile(open(path).read(), f"{sys.argv[1]} (python block at line {line})", "exec"), g)
    except BaseException:
        traceback.print_exc()
        print(f"{sys.argv[1]}, the python block at line {line} failed")
        sys.exit(1)
EOF
    tail -n 40 "$WORK/block.out"
    return 1
  fi
  n=$((n + ${#pyblocks[@]}))
  pyblocks=()
}

# run_doc DOC: runs DOC's command blocks in order in a fresh directory.
run_doc() {
  local doc=$1 rel d n=0 id file line lang skip
  rel=${doc#"$SRC"/}
  d=$WORK/run/$(basename "$doc" .md)
  mkdir -p "$d"
  ln -s "$B" "$d/build"
  ln -s "$SRC/examples" "$d/examples"
  ln -s "$SRC/schemas" "$d/schemas"
  (
    export HOME=$d PATH="$B:$PATH" PYTHONPATH="$SRC/python" MC2_LIB="$B/libmc2.so"
    MC2_SERVICE=127.0.0.1:$(free_port)
    export PYTHONDONTWRITEBYTECODE=1 MC2_SERVICE
    unset MC2_HOME
    cd "$d" || exit 1
    fixture "$(basename "$doc")" "$d" >"$WORK/fixture.out" 2>&1 || {
      echo "the test's fixture for $rel failed: $(cat "$WORK/fixture.out")"
      exit 1
    }
    pyblocks=()
    while IFS=$'\t' read -r id file line lang skip; do
      [[ $file == "$doc" && $skip == - ]] || continue
      case $lang in
      sh | bash) cp "$WORK/blocks/$id" "$d/.block.sh" ;;
      console) sed -n 's/^\$ //p' "$WORK/blocks/$id" >"$d/.block.sh" ;;
      python)
        pyblocks+=("$line:$WORK/blocks/$id")
        continue
        ;;
      *) continue ;;
      esac
      run_python "$rel" || exit 1
      n=$((n + 1))
      if ! bash -e -o pipefail -x "$d/.block.sh" >"$WORK/block.out" 2>&1; then
        echo "$rel, the sh block at line $line failed; its commands (+) and output:"
        tail -n 40 "$WORK/block.out"
        exit 1
      fi
    done <"$WORK/blocks/index"
    run_python "$rel" || exit 1
    echo "$rel: $n blocks ran"
  )
}

# ---- run each document that has command blocks ---------------------------------------------
for doc in $DOCS; do
  awk -F'\t' -v f="$doc" '$2 == f && $5 == "-" && $4 ~ /^(sh|bash|console|python)$/ { x = 1 }
    END { exit !x }' "$WORK/blocks/index" 2>/dev/null || continue
  if run_doc "$doc" >"$WORK/doc.out" 2>&1; then
    ok
    cat "$WORK/doc.out"
  else bad "$(cat "$WORK/doc.out")"; fi
  stop_services
done
echo "skipped blocks:"
awk -F'\t' -v s="$SRC/" '$5 != "-" { sub(s, "", $2); print "  " $2 ":" $3 ": " $5; n++ }
  END { print "  (" n + 0 " skipped)" }' "$WORK/blocks/index"

# ---- lints ---------------------------------------------------------------------------------
# Nothing in the repository refers to files outside it (the lead's notes live beside it).
self=tests/cli/test_docs.sh
files() { # the repository's files (a checkout without git: all but build trees)
  git ls-files 2>/dev/null || find . -type f ! -path './.git/*' ! -path './build*' | cut -c3-
}
refs=$(cd "$SRC" && files | grep -v "^$self\$" |
  xargs -d '\n' grep -IlE '\.\./shared|DESIGN\.md|STYLE\.md' 2>/dev/null)
check "no file refers outside the repository (../shared, DESIGN.md, STYLE.md): ${refs:-none}" \
  test -z "$refs"
# The docs do not call oblivious mode "not yet" (it is done): a line, or two adjacent lines,
# with both.
stale=$(for f in "$SRC/README.md" "$SRC"/docs/*.md "$SRC/scripts/demo.sh"; do
  awk -v f="${f#"$SRC"/}" '{ w = tolower(prev " " $0) }
    w ~ /oblivious/ && w ~ /not yet/ { print f ":" NR ": " $0 } { prev = $0 }' "$f"
done)
check "no doc says oblivious mode is 'not yet': ${stale:-none}" test -z "$stale"
# Every `make TARGET` in the docs is a Makefile target.
targets=$(sed -n 's/^\([a-z][a-z-]*\):.*/\1/p' "$SRC/Makefile")
missing=$(for f in "$SRC/README.md" "$SRC"/docs/*.md; do
  { # in backquotes, and at the start of a code line
    grep -oE '`make [a-z][a-z-]*' "$f" | cut -c7-
    grep -oE '^make [a-z][a-z-]*' "$f" | cut -c6-
  } |
    sort -u | while read -r t; do
      grep -qx "$t" <<<"$targets" || echo "${f#"$SRC"/}: make $t"
    done
done)
check "every 'make X' in the docs is a Makefile target: ${missing:-none}" test -z "$missing"
# A C example in the docs calls only the installed API (what include/mc2/*.h declares and
# libmc2.so exports), unless the section it is in says, in its heading, that it is internal.
api=$(sh "$SRC/scripts/lib-symbols.sh" list cc "$SRC/include")
notapi=$(for f in "$SRC/README.md" "$SRC"/docs/*.md; do
  awk -v f="${f#"$SRC"/}" '/^#/ { internal = tolower($0) ~ /internal/ }
    /^```c$/ { inc = 1; next } /^```/ { inc = 0 }
    inc && !internal { while (match($0, /mc2_[A-Za-z0-9_]+\(/)) {
      print f ": " substr($0, RSTART, RLENGTH - 1); $0 = substr($0, RSTART + RLENGTH) } }' "$f"
done | sort -u | while read -r doc fn; do grep -qx "$fn" <<<"$api" || echo "$doc $fn"; done)
check "C examples call only the installed API (or sit in a section headed internal): ${notapi:-none}" \
  test -z "$notapi"
finish
