#!/usr/bin/env bash
# The project's checks, as CI runs them (`make test` → .ci/run): lint and types, then the test
# suite.
# Extra arguments go to pytest: deploy/local/test.sh -k summary -x
# IOCMON_TEST_PATHS narrows what is collected (default: tests); IOCMON_TEST_PORT_OFFSET gives
# the session a test stack of its own (ports shifted, folder .local/test-<offset>).
# The integration tests start their own stack (deploy/local/stack.sh with IOCMON_LOCAL_DIR=.local/test
# and ports of their own) through fixtures, so this needs only the venv (`make venv`).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

[[ -x .venv/bin/python ]] || {
  echo "test.sh: no .venv; run 'make venv' (or 'make test')" >&2
  exit 1
}

# The tools the tests run (promtool, amtool, the stack's packages and Kafka jars) before the
# tests, or the first run on a fresh machine skips the rule tests; under CI=true such a skip
# fails (tests/missing_tools.py).
echo "== install what the tests need"
bash deploy/local/stack.sh install || {
  echo "test.sh: could not install what the tests need (see above); fix that and run again" >&2
  exit 1
}

status=0
echo "== ruff check"
.venv/bin/ruff check || status=1

echo "== mypy (strict; the packages in pyproject.toml's [tool.mypy])"
.venv/bin/mypy || status=1

echo "== pytest"
.venv/bin/python -m pytest ${IOCMON_TEST_PATHS:-tests} -q "$@"
rc=$?
case $rc in
0) ;;
5)
  echo "test.sh: pytest collected no tests; that counts as a failure" >&2
  status=1
  ;;
*) status=1 ;;
esac
exit "$status"
