#!/usr/bin/env bash
# Proves clang's thread-safety analysis is live on the annotations of src/common/mutex.h and
# src/common/thread_annotations.h (issue 13): a snippet that writes a VV_GUARDED_BY member without
# its mutex must fail to compile with "requires holding mutex", and the same snippet holding a
# vv::MutexLock must compile. Flags as the top-level CMakeLists.txt sets them for clang.
#
#   thread_annotations_check.sh <src dir> [clang++]
# Exit 77 (CTest SKIP_RETURN_CODE) when no clang++ is found; GCC has no such analysis.
set -u
src=${1:?usage: thread_annotations_check.sh <src dir> [clang++]}
cxx=${2:-}
if [ -z "$cxx" ] || ! command -v "$cxx" >/dev/null 2>&1; then
  cxx=$(command -v clang++ || command -v clang++-14 || true)
fi
if [ -z "$cxx" ]; then
  echo "SKIP: clang++ not found"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

snippet() {  # $1: the statement(s) before the write
  cat <<SNIP
#include "common/mutex.h"
class Counter {
 public:
  void Bump() {
    $1
    ++count_;
  }
 private:
  vv::Mutex mu_;
  int count_ VV_GUARDED_BY(mu_) = 0;
};
int main() { Counter c; c.Bump(); }
SNIP
}
flags=(-fsyntax-only -std=c++20 -Wthread-safety -Werror=thread-safety -I"$src")

snippet "" >"$tmp/unlocked.cc"
if "$cxx" "${flags[@]}" "$tmp/unlocked.cc" >"$tmp/unlocked.log" 2>&1; then
  echo "FAIL: writing a VV_GUARDED_BY member without its mutex compiled ($cxx): analysis not live"
  exit 1
fi
if ! grep -q "requires holding mutex" "$tmp/unlocked.log"; then
  echo "FAIL: the unlocked write failed, but not with the thread-safety diagnostic:"
  cat "$tmp/unlocked.log"
  exit 1
fi
echo "ok: unlocked write rejected: $(grep -m1 'requires holding mutex' "$tmp/unlocked.log")"

snippet "vv::MutexLock l(&mu_);" >"$tmp/locked.cc"
if ! "$cxx" "${flags[@]}" "$tmp/locked.cc" >"$tmp/locked.log" 2>&1; then
  echo "FAIL: the write under vv::MutexLock did not compile ($cxx):"
  cat "$tmp/locked.log"
  exit 1
fi
echo "ok: locked write compiles"
