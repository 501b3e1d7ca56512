#!/usr/bin/env bash
# Does the README's test command pass every time? Runs `git clone` + `mvn -B verify` N times in a
# row from a fresh clone of REPO (each run in a new directory), optionally with a second full build
# of another fresh clone beside each run (--beside). Prints one line per run and a closing count of builds;
# the logs stay under OUT for the runs that failed.
#   benchmarks/scripts/repeat-verify.sh [--beside] [-n N] [REPO] [OUT]
set -uo pipefail

beside=0 n=10
while [ $# -gt 0 ]; do
  case $1 in
    --beside) beside=1; shift ;;
    -n) n=$2; shift 2 ;;
    *) break ;;
  esac
done
repo=$(readlink -f "${1:-.}")
out=${2:-$(mktemp -d /tmp/repeat-verify.XXXXXX)}
mkdir -p "$out"
commit=$(git -C "$repo" rev-parse --short=12 HEAD)
echo "repeat-verify: $n runs of git clone + mvn -B verify at $commit$([ $beside = 1 ] && echo ', each beside a second build'); logs in $out"

# One fresh clone and build; prints rc and seconds.
build() {
  local dir=$1 log=$2 start rc
  rm -rf "$dir"
  git clone -q "$repo" "$dir" && git -C "$dir" checkout -q "$commit" || return 1 # the same commit every run
  start=$(date +%s)
  (cd "$dir" && mvn -B verify </dev/null >"$log" 2>&1)
  rc=$?
  echo "$rc $(( $(date +%s) - start ))"
}

passed=0 failed=0
for i in $(seq "$n"); do
  if [ $beside = 1 ]; then
    build "$out/b$i" "$out/b$i.log" >"$out/b$i.result" &
    bpid=$!
  fi
  read -r rc secs < <(build "$out/a$i" "$out/a$i.log")
  line="run $i: rc=$rc ${secs}s $(grep -E '^\[(INFO|WARNING|ERROR)\] Tests run: [0-9]+, Failures' "$out/a$i.log" | grep -v ' -- in ' | sed 's/^\[[A-Z]*\] //' | tr '\n' ';')"
  if [ $beside = 1 ]; then
    wait "$bpid"
    read -r brc bsecs <"$out/b$i.result"
    line="$line | beside: rc=$brc ${bsecs}s"
    if [ "$brc" = 0 ]; then passed=$((passed + 1)); rm -rf "$out/b$i"; else failed=$((failed + 1)); line="$line (beside FAILED: $out/b$i.log)"; fi
  fi
  if [ "$rc" = 0 ]; then passed=$((passed + 1)); rm -rf "$out/a$i"; else failed=$((failed + 1)); line="$line FAILED: $out/a$i.log"; fi
  echo "$line"
done
echo "repeat-verify: $passed passed, $failed failed"
[ "$failed" = 0 ]
