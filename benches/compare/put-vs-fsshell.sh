#!/usr/bin/env bash
# Upload throughput into HDFS: idbsync put vs. Hadoop's FsShell -put, side by side in one
# MiniDFSCluster (see README.md). Builds the release binaries and the test HDFS launcher.
#
#   benches/compare/put-vs-fsshell.sh            # 4M orders converted twice, uncompressed (~0.9 GB), 3 runs each
#   benches/compare/put-vs-fsshell.sh --quick    # 500k orders
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

cargo build --release --quiet -p idbsync -p idbsync-testdata-gen
scripts/minidfs.sh build
exec python3 "$here/put_vs_fsshell.py" "$@"
