#!/usr/bin/env bash
# Runs once when the dev container is created: kind at the pinned version, then the kit itself.
set -euo pipefail
KIND_VERSION="$(python3 -c 'import re,pathlib; print(re.search(r"KIND_VERSION = \"(v[^\"]+)\"", pathlib.Path("labkit/versions.py").read_text()).group(1))')"
arch="$(uname -m)"; case "$arch" in x86_64) arch=amd64 ;; aarch64|arm64) arch=arm64 ;; esac
curl -fsSLo /tmp/kind "https://kind.sigs.k8s.io/dl/${KIND_VERSION}/kind-linux-${arch}"
sudo install -m 0755 /tmp/kind /usr/local/bin/kind
python3 -m pip install --user -e '.[dev]'
echo "ready: scripts/cluster-up.sh creates the cluster; labkit doctor checks the rest"
