#!/usr/bin/env bash
# Sync into a Delta table: idbsync push / pull vs. Spark + Delta MERGE INTO of the same
# batches (see README.md): bench.sh sync.
#
#   benches/compare/sync-vs-spark.sh            # 1M orders, batches of 0.1%, 1% and 10%, 3 runs each
#   benches/compare/sync-vs-spark.sh --quick    # 100k orders: a smoke test of a few minutes
exec "$(dirname "${BASH_SOURCE[0]}")/bench.sh" sync "$@"
