#!/usr/bin/env bash
# tcb.sh [BUILD] - the size of mc2's trusted computing base: the code linked into
# mc2-enclave. Reads the libraries from the enclave's link command (CMake's link.txt), lists
# each library's objects (CMake's object tree, checked against ar t) with their sources and counts
# their lines; then the system libraries the enclave links and the binary's own size.
# Exit 0, or 1 with a message when the build is missing.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [[ ${1:-} == -h || ${1:-} == --help ]]; then
  sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
BUILD=${1:-$ROOT/build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
LINK=$BUILD/CMakeFiles/mc2-enclave.dir/link.txt
if [[ ! -f $LINK || ! -x $BUILD/mc2-enclave ]]; then
  echo "tcb: no mc2-enclave build in $BUILD: run 'make' first" >&2
  exit 1
fi
total=0 ctotal=0
# code: lines that are neither blank nor comment-only
code_lines() { grep -Evc '^\s*$|^\s*(/\*|\*|//)' "$1" || true; }
printf '%-22s %7s %9s %9s\n' library files lines code
for lib in $(tr ' ' '\n' <"$LINK" | grep -E '^libmc2_[a-z0-9_]+\.a$'); do
  files=0 lines=0 code=0
  dir=$BUILD/CMakeFiles/$(basename "$lib" .a | sed 's/^lib//').dir
  # CMake keeps each object at DIR/<source path>.o; the archive must hold exactly those
  objs=$(cd "$dir" && find . -name '*.c.o' | sed 's|^\./||' | sort)
  if [[ $(ar t "$BUILD/$lib" | sort) != $(xargs -rn1 basename <<<"$objs" | sort) ]]; then
    echo "tcb: $lib does not match the objects under $dir: rebuild ('make')" >&2
    exit 1
  fi
  for obj in $objs; do
    path=${obj%.o}
    [[ -f $ROOT/$path ]] || { echo "tcb: no source $path for $lib" >&2; exit 1; }
    files=$((files + 1))
    lines=$((lines + $(wc -l <"$ROOT/$path")))
    code=$((code + $(code_lines "$ROOT/$path")))
  done
  printf '%-22s %7d %9d %9d\n' "$lib" "$files" "$lines" "$code"
  total=$((total + lines)) ctotal=$((ctotal + code))
done
main=$ROOT/src/enclave/entry/main.c
printf '%-22s %7d %9d %9d\n' "entry/main.c" 1 "$(wc -l <"$main")" "$(code_lines "$main")"
total=$((total + $(wc -l <"$main"))) ctotal=$((ctotal + $(code_lines "$main")))
printf '%-22s %7s %9d %9d  (lines of C sources; code: without blank and comment-only lines; headers not counted)\n' total "" "$total" "$ctotal"
echo "system libraries linked: $(tr ' ' '\n' <"$LINK" | grep -E '\.so$|^-l' | sed 's|.*/||' | tr '\n' ' ')"
size "$BUILD/mc2-enclave" | sed 's/^/binary: /'
