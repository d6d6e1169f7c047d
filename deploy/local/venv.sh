#!/usr/bin/env bash
# Creates .venv with a python3 >= 3.11 and installs into it the locked packages, runtime and dev
# (requirements/lock.txt, every file's hash checked), then iocmon itself, editable, without
# dependencies. Called by `make venv` only when pyproject.toml, the lock or this script changed
# since the last success (stamp: .venv/.installed). `make lock` rewrites the lock.
# PYTHON=/path/to/python3.x picks the interpreter; else the first of python3, python3.13,
# python3.12, python3.11 on PATH that is new enough.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

VENV=.venv
new_enough() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; }

if [[ -x $VENV/bin/python ]] && new_enough "$VENV/bin/python"; then
  :
else
  python="${PYTHON:-}"
  if [[ -z $python ]]; then
    for candidate in python3 python3.13 python3.12 python3.11; do
      if command -v "$candidate" >/dev/null && new_enough "$candidate"; then
        python="$candidate"
        break
      fi
    done
  fi
  if [[ -z $python ]] || ! new_enough "$python"; then
    echo "venv: iocmon needs Python 3.11 or newer; found ${python:-no python3.11+ on PATH} ($(python3 -V 2>&1 || true))." >&2
    echo "      Install one (on Debian 12: apt-get install -y python3 python3-venv) or point PYTHON= at it." >&2
    exit 1
  fi
  echo "venv: creating $VENV with $(command -v "$python") ($("$python" -V 2>&1))"
  rm -rf "$VENV"
  if ! "$python" -m venv "$VENV"; then
    rm -rf "$VENV"
    echo "venv: '$python -m venv' failed. On Debian: apt-get install -y python3-venv" >&2
    exit 1
  fi
fi

LOCK=requirements/lock.txt
echo "venv: installing the locked packages ($LOCK) and iocmon (editable) into $VENV…"
"$VENV/bin/python" -m pip install --disable-pip-version-check -q --require-hashes -r "$LOCK"
"$VENV/bin/python" -m pip install --disable-pip-version-check -q --no-deps -e .
# A dependency added to pyproject.toml but not to the lock shows here, not at the first import.
if ! broken="$("$VENV/bin/python" -m pip check --disable-pip-version-check 2>&1)"; then
  echo "$broken" >&2
  echo "venv: the packages installed do not meet iocmon's requirements: run 'make lock', then 'make venv'" >&2
  exit 1
fi
touch "$VENV/.installed"
echo "venv: ready ($("$VENV/bin/python" -V))"
