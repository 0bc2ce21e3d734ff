#!/bin/sh
# Shrink a built venv before it is copied into an image's final stage. Used by both Dockerfiles.
#   slim-venv.sh /opt/venv
# Removes what only compiling against TensorFlow needs (C++ headers, libclang) and strips the debug
# symbols of shared libraries (--strip-unneeded keeps the dynamic symbols that loading them needs).
set -eu
venv="$1"
site="$(find "$venv/lib" -maxdepth 2 -type d -name site-packages | head -n 1)"
before="$(du -sm "$venv" | cut -f1)"
rm -rf "$site/tensorflow/include"
"$venv/bin/pip" uninstall --yes --quiet libclang 2>/dev/null || true
find "$site" -type f \( -name '*.so' -o -name '*.so.*' \) -size +512k -exec strip --strip-unneeded {} +
after="$(du -sm "$venv" | cut -f1)"
echo "slim-venv: $venv ${before} MB -> ${after} MB"
