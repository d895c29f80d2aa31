#!/usr/bin/env bash
# Upload throughput into HDFS: idbsync put vs. Hadoop's FsShell -put, side by side in one
# MiniDFSCluster (see README.md): bench.sh put.
#
#   benches/compare/put-vs-fsshell.sh            # 4M orders converted twice, uncompressed (~0.9 GB), 3 runs each
#   benches/compare/put-vs-fsshell.sh --quick    # 500k orders
exec "$(dirname "${BASH_SOURCE[0]}")/bench.sh" put "$@"
