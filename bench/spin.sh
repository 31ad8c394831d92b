#!/usr/bin/env bash
# Several model processes on one host (bench/README.md): the 1M model's mixed-precision training step in a process alone
# and in two processes at once, 2 libtorch threads each, under libgomp's default spinning, GOMP_SPINCOUNT=1000 (what
# docker-compose.yml sets) and OMP_WAIT_POLICY=PASSIVE. Usage: bash bench/spin.sh [seconds per cell, default 5]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
${DOTNET:-dotnet} build bench/MentorKd.Benchmarks -c "${CONFIGURATION:-Release}" -v quiet -nologo >/dev/null
bench=bench/MentorKd.Benchmarks/bin/${CONFIGURATION:-Release}/net10.0/MentorKd.Benchmarks
data=$(mktemp)
trap 'rm -f "$data"' EXIT
python3 -c "import random, struct, sys; random.seed(1); sys.stdout.buffer.write(struct.pack('<65536i', *(random.randrange(3, 512) for _ in range(65536))))" > "$data"
step() { env -u OMP_WAIT_POLICY "$@" "$bench" compare-cell 1M train bf16 "$data" "$seconds" 2 | sed -E 's/.*"SecondsPerRun":([0-9.]+).*/\1/'; }
printf '| libgomp waiting | alone (s/step) | two at once (s/step, each) | two at once / alone |\n|---|---|---|---|\n'
for policy in "-u GOMP_SPINCOUNT" "GOMP_SPINCOUNT=1000" "OMP_WAIT_POLICY=PASSIVE"; do
  # shellcheck disable=SC2086 # the policy is env arguments
  alone=$(step $policy)
  first=$(mktemp)
  step $policy > "$first" &
  second=$(step $policy)
  wait
  pair=$(python3 -c "print(f'{($(cat "$first") + $second) / 2:.3f}')")
  rm -f "$first"
  name=$policy
  [ "$policy" = "-u GOMP_SPINCOUNT" ] && name="default (up to 300,000 spins)"
  printf '| %s | %.3f | %s | %.1f× |\n' "$name" "$alone" "$pair" "$(python3 -c "print($pair / $alone)")"
done
