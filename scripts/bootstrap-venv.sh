#!/bin/sh
# Create the virtualenv and install the pinned packages. Usage: bootstrap-venv.sh PYTHON VENV
set -eu
python=$1 venv=$2

if ! command -v "$python" >/dev/null 2>&1; then
  echo "error: $python not found. Install Python 3.10 or newer (Debian/Ubuntu: apt-get install python3 python3-venv; macOS: brew install python)." >&2
  exit 1
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
  echo "error: $("$python" --version 2>&1) is too old; the lab needs Python 3.10+. Use: make PYTHON=python3.12 ..." >&2
  exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
  if ! "$python" -m venv "$venv" 2>/dev/null; then
    rm -rf "$venv"
    # Debian/Ubuntu ship venv's ensurepip separately.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      "$python" -m venv "$venv"
    else
      echo "error: '$python -m venv' failed. On Debian/Ubuntu: sudo apt-get install python3-venv" >&2
      exit 1
    fi
  fi
fi
echo "Installing the locked packages into $venv ..."
# Every package, transitive ones included, pinned with its hashes (requirements.lock, `make lock`);
# then this repository's own packages, which have no hash to check.
for args in "--require-hashes -r requirements.lock" "--no-deps -e ."; do
  # shellcheck disable=SC2086
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $args 2>&1 \
    | grep -v "^WARNING: Location" || true
done
"$venv/bin/python" -c 'import cqlab, django, celery' || { echo "error: the install into $venv failed (see above)" >&2; exit 1; }
