#!/usr/bin/env bash
# Creates (or updates) a Python virtualenv with pinned packages. By default .venv/ in the
# repo root with the peer readers of tests/python/requirements.txt (pytest, pyarrow,
# DuckDB); `python-env.sh VENV REQUIREMENTS` makes another (the benches use it). Idempotent:
# when the venv already matches the requirements file (a hash stored in the venv), it
# installs nothing and prints only where the venv is. Needs only python3 ($PYTHON).
#
#   scripts/python-env.sh && .venv/bin/python -m pytest -q tests/python
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:-$root/.venv}"
req="${2:-$root/tests/python/requirements.txt}"
stamp="$venv/.requirements.sha256"
python="${PYTHON:-python3}"

if ! command -v "$python" >/dev/null 2>&1; then
    echo "python-env: '$python' not found; install Python 3 (or set PYTHON)" >&2
    exit 1
fi

# The hash covers the requirements and the interpreter the venv was made with.
want="$( (cat "$req"; "$python" -c 'import sys; print(sys.version)') | sha256sum | cut -d' ' -f1)"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "python-env: $venv"
    exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
    echo "python-env: creating $venv with $("$python" --version 2>&1)" >&2
    if ! "$python" -m venv "$venv"; then
        rm -rf "$venv"
        echo "python-env: '$python -m venv' failed; on Debian/Ubuntu install python3-venv" >&2
        exit 1
    fi
fi

echo "python-env: installing $req" >&2
rm -f "$stamp"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
"$venv/bin/python" -m pip freeze --disable-pip-version-check | sed 's/^/python-env:   /' >&2
echo "$want" >"$stamp"
echo "python-env: $venv"
