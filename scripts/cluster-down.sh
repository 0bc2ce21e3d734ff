#!/usr/bin/env bash
# Delete the course cluster and everything in it. Harmless when there is none.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v labkit >/dev/null 2>&1; then
  exec labkit cluster down "$@"
fi
exec "${PYTHON:-python3}" -m labkit cluster down "$@"
