#!/usr/bin/env bash
# `make lock`: writes the lock files from pyproject.toml's ranges with uv, whose own version is
# pinned, with hashes, in requirements/lock-tool.txt (installed into .cache/lock-tool):
#   requirements/lock.txt          every package iocmon and its dev extra need, direct and indirect,
#                                  each at one version with the sha256 of its files: `make venv`
#                                  installs it (pip --require-hashes)
#   requirements/lock-runtime.txt  the runtime part of it, the same versions: the image installs it
# The locks hold for Python 3.11 and newer on any platform (environment markers say where a
# package applies). A package keeps its locked version while pyproject.toml's range allows it;
# newer versions within the ranges: `make lock ARGS=--upgrade` (all) or
# `make lock ARGS="--upgrade-package aiohttp"` (one); then `make venv` and `make test`.
# Another uv: `make lock UV_VERSION=X.Y.Z` (the pinned uv writes X.Y.Z's hashes, then runs it).
# tests/unit/test_lock.py checks the locks against pyproject.toml and the running venv.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

TOOL=.cache/lock-tool
TOOL_LOCK=requirements/lock-tool.txt
PYTHON="${PYTHON:-python3}"
export UV_CUSTOM_COMPILE_COMMAND="make lock"   # the command the locks' header names

pinned() { sed -n 's/^uv==\([^ ;]*\).*/\1/p' "$TOOL_LOCK"; }

install_tool() {
  local want
  want="$(pinned)"
  [[ -n $want ]] || { echo "lock: $TOOL_LOCK pins no uv" >&2; exit 1; }
  if [[ "$("$TOOL/bin/uv" --version 2>/dev/null || true)" =~ ^uv\ ${want//./\\.}( |$) ]]; then
    return
  fi
  echo "lock: installing uv $want into $TOOL (from $TOOL_LOCK, hashes checked)"
  rm -rf "$TOOL"
  "$PYTHON" -m venv "$TOOL"
  "$TOOL/bin/python" -m pip install --disable-pip-version-check -q --require-hashes -r "$TOOL_LOCK"
}

compile() {   # compile OUT [uv pip compile options…]: universal, hashed, from Python 3.11 on
  local out=$1
  shift
  "$TOOL/bin/uv" pip compile --quiet --universal --python-version 3.11 --generate-hashes \
    -o "$out" "$@"
}

install_tool
if [[ -n ${UV_VERSION:-} && $UV_VERSION != "$(pinned)" ]]; then
  echo "uv==$UV_VERSION" | UV_CUSTOM_COMPILE_COMMAND="make lock UV_VERSION=$UV_VERSION" \
    compile "$TOOL_LOCK" -
  install_tool
fi

compile requirements/lock.txt pyproject.toml --extra dev "$@"
# The image's set: the runtime packages at the versions of lock.txt (its constraint).
compile requirements/lock-runtime.txt pyproject.toml -c requirements/lock.txt

for file in requirements/lock.txt requirements/lock-runtime.txt; do
  echo "lock: $file: $(grep -c '^[A-Za-z0-9]' "$file") packages"
done
