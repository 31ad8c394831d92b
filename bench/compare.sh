#!/usr/bin/env bash
# `make bench-compare`: the project's model against the same model in PyTorch on this machine (bench/README.md).
# Installs Debian's PyTorch (python3-torch, 1.13) with OpenMP OpenBLAS when /usr/bin/python3 cannot import torch
# (needs root on a fresh machine), then runs the comparison; arguments go to it (--rounds 3 --seconds 3 --only 10M).
set -euo pipefail
python=/usr/bin/python3
if ! "$python" -c "import torch, numpy" >/dev/null 2>&1 || ! dpkg -s libopenblas0-openmp >/dev/null 2>&1; then
  echo "[bench-compare] installing python3-torch and libopenblas0-openmp"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-torch python3-numpy libopenblas0-openmp >/dev/null
fi
exec ${DOTNET:-dotnet} run --project "$(dirname "$0")/MentorKd.Benchmarks" -c "${CONFIGURATION:-Release}" -- compare --python "$python" "$@"
