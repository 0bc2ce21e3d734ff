#!/usr/bin/env bash
# Create the course cluster (kind + Kubeflow Pipelines 2.17) or resume an interrupted install.
# A thin wrapper: the checks, fixes and waits live in `labkit cluster up` (README, CI and students all use this).
#   scripts/cluster-up.sh              # cluster "labkit", UI on http://127.0.0.1:30080
#   scripts/cluster-up.sh --name other # any `labkit cluster up` option
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v labkit >/dev/null 2>&1; then
  exec labkit cluster up "$@"
fi
exec "${PYTHON:-python3}" -m labkit cluster up "$@"
