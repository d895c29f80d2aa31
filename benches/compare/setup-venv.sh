#!/usr/bin/env bash
# Creates (or updates) the Python virtualenv benches/.venv with the pinned tools of
# benches/compare/requirements.txt (see scripts/python-env.sh).
#
#   benches/compare/setup-venv.sh          # then: benches/.venv/bin/python ...
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$(dirname "$here")")"
exec "$root/scripts/python-env.sh" "$root/benches/.venv" "$here/requirements.txt"
