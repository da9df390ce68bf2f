#!/usr/bin/env bash
# Set up the workbench in ./.venv (idempotent). `bash setup.sh --test` also installs what the
# tests need: the test extra and Debian's chromium for the JupyterLab UI tests.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv with $($PY --version)"
  $PY -m venv .venv
fi
PIP=".venv/bin/python -m pip"
export PIP_DISABLE_PIP_VERSION_CHECK=1

# torch >= 2.11 with a matching torchvision. 2.14.1 + 0.29.1 is the known-good pair (and is
# served from local disk on the project machines); an existing torch >= 2.11 is kept.
if ! .venv/bin/python - <<'PY' 2>/dev/null
import torch, torchvision
major, minor = (int(v) for v in torch.__version__.split(".")[:2])
raise SystemExit(0 if (major, minor) >= (2, 11) else 1)
PY
then
  echo "== installing torch and torchvision"
  $PIP install -q "torch==2.14.1" "torchvision==0.29.1"
fi

if [ $want_test = 1 ]; then
  echo "== installing workbench with its test extra"
  $PIP install -q -e ".[test]"
  if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "== installing Debian's chromium for the JupyterLab UI tests"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
      echo "!! chromium is missing and cannot be installed here (needs root + apt-get):" \
           "the UI tests will be skipped" >&2
    fi
  fi
else
  echo "== installing workbench"
  $PIP install -q -e .
fi
echo "== ready: $(.venv/bin/python -c 'import torch, workbench; print("workbench", workbench.__version__, "torch", torch.__version__)')"
