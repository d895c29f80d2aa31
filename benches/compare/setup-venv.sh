#!/usr/bin/env bash
# Creates (or updates) the Python virtualenv benches/.venv with the pinned tools of
# benches/compare/requirements.txt. Idempotent: does nothing when the venv already
# matches the requirements file. Needs only python3 (override with $PYTHON).
#
#   benches/compare/setup-venv.sh          # then: benches/.venv/bin/python ...
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$(dirname "$here")/.venv"
req="$here/requirements.txt"
stamp="$venv/.requirements.sha256"
python="${PYTHON:-python3}"

want="$( (cat "$req"; "$python" -c 'import sys; print(sys.version)') | sha256sum | cut -d' ' -f1)"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "setup-venv: $venv is up to date" >&2
    exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
    echo "setup-venv: creating $venv with $("$python" --version 2>&1)" >&2
    if ! "$python" -m venv "$venv"; then
        rm -rf "$venv"
        echo "setup-venv: '$python -m venv' failed; on Debian/Ubuntu install python3-venv" >&2
        exit 1
    fi
fi

echo "setup-venv: installing $req" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
echo "$want" >"$stamp"
"$venv/bin/python" -m pip freeze --disable-pip-version-check | sed 's/^/setup-venv:   /' >&2
