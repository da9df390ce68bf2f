#!/usr/bin/env bash
# Set up the workbench in ./.venv (idempotent). `bash setup.sh --test` also installs what the
# tests need: the test extra and Debian's chromium for the JupyterLab UI tests.
# On a bare Debian it checks, before creating anything, that Python is 3.10 or later and that
# its venv module works (Debian ships it apart, in python3-venv: installed here when run as
# root with apt-get, unless WORKBENCH_NO_APT is set); otherwise it stops with one clear line.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

die() { echo "!! setup.sh: $*" >&2; exit 1; }
can_apt() { [ -z "${WORKBENCH_NO_APT:-}" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

if [ ! -x .venv/bin/python ]; then
  command -v "$PY" >/dev/null 2>&1 || \
    die "no '$PY' found: install Python 3.10 or later (Debian: apt-get install python3), or set PYTHON=/path/to/python3"
  ver=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || \
    die "'$PY' does not run: set PYTHON=/path/to/python3 (3.10 or later)"
  "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' || \
    die "Python $ver is too old: the workbench needs 3.10 or later; install a newer one and set PYTHON=python3.X"
  if ! "$PY" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    if can_apt; then
      echo "== installing Debian's python3-venv (python$ver-venv): Python's venv module is missing"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python$ver-venv" >/dev/null 2>&1 || \
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    fi
    "$PY" -c 'import ensurepip, venv' >/dev/null 2>&1 || \
      die "Python $ver has no working venv module (Debian ships it apart): run 'sudo apt-get install python3-venv' (or python$ver-venv), then run setup.sh again"
  fi
  echo "== creating .venv with $("$PY" --version)"
  "$PY" -m venv .venv || { rm -rf .venv; die "'$PY -m venv .venv' failed (see above); nothing was installed"; }
fi
PIP=".venv/bin/python -m pip"
export PIP_DISABLE_PIP_VERSION_CHECK=1
# pip shows its progress (what it collects, download bars): torch alone is minutes of
# download on a fresh machine, and silence there reads as a hang. Only a re-install of what
# is already there is quiet (-q), where pip would list every requirement already satisfied.

# torch >= 2.11 with a matching torchvision. 2.14.1 + 0.29.1 is the known-good pair (and is
# served from local disk on the project machines); an existing torch >= 2.11 is kept.
if ! .venv/bin/python - <<'PY' 2>/dev/null
import torch, torchvision
major, minor = (int(v) for v in torch.__version__.split(".")[:2])
raise SystemExit(0 if (major, minor) >= (2, 11) else 1)
PY
then
  echo "== installing torch and torchvision (a large download: minutes; pip shows its progress)"
  $PIP install --progress-bar on "torch==2.14.1" "torchvision==0.29.1"
fi

# quiet only where what is installed is there already (a re-run: nothing much to fetch)
installed() { local p; for p in "$@"; do $PIP show "$p" >/dev/null 2>&1 || return 1; done; }
if [ $want_test = 1 ]; then
  echo "== installing workbench with its test extra"
  quiet=$(installed workbench pytest playwright lightning && echo -q || true)
  $PIP install $quiet --progress-bar on -e ".[test]"
  if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "== installing Debian's chromium for the JupyterLab UI tests (apt-get, quiet: a few minutes)"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
      echo "!! chromium is missing and cannot be installed here (needs root + apt-get):" \
           "the UI tests will be skipped" >&2
    fi
  fi
else
  echo "== installing workbench"
  quiet=$(installed workbench && echo -q || true)
  $PIP install $quiet --progress-bar on -e .
fi
echo "== ready: $(.venv/bin/python -c 'import torch, workbench; print("workbench", workbench.__version__, "torch", torch.__version__)')"
