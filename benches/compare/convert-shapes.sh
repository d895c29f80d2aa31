#!/usr/bin/env bash
# idbsync convert vs. the DuckDB CLI on every shape of the generator (see README.md): bench.sh shapes.
#
#   benches/compare/convert-shapes.sh              # 1M records per shape (~3.8 GB of inputs), 5 runs each
#   benches/compare/convert-shapes.sh --quick      # 100k records per shape
#   benches/compare/convert-shapes.sh --shapes logs,telemetry --records 200000 --runs 3
exec "$(dirname "${BASH_SOURCE[0]}")/bench.sh" shapes "$@"
