#!/usr/bin/env bash
# The test HDFS (Hadoop's MiniDFSCluster from Maven Central), by hand.
#
#   scripts/minidfs.sh build            download the Hadoop jars (~110 MB, once) and build the launcher
#   scripts/minidfs.sh start [DIR]      start a cluster (3 DataNodes, 1 MiB blocks) in the foreground;
#                                       prints "READY hdfs://127.0.0.1:PORT", writes DIR/conf/core-site.xml;
#                                       stops on Ctrl-D / end of stdin
#   scripts/minidfs.sh shell ARGS...    Hadoop's own `hadoop fs` (FsShell), e.g. shell -fs hdfs://127.0.0.1:PORT -ls -R /
#                                       (HADOOP_CONF_DIR=DIR/conf works too)
#
# The Rust tests start their clusters themselves (testdata/minidfs, crate idbsync-minidfs).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
java_dir="$root/testdata/minidfs/java"

build() {
  mvn -B -q -f "$java_dir/pom.xml" package dependency:build-classpath -Dmdep.outputFile=target/classpath.txt
}

classpath() {
  test -s "$java_dir/target/classpath.txt" || build
  printf '%s:%s' "$java_dir/target/classes" "$(cat "$java_dir/target/classpath.txt")"
}

case "${1:-}" in
  build) build ;;
  start)
    base="${2:-$(mktemp -d -t idbsync-minidfs-XXXXXX)}"
    mkdir -p "$base"
    exec java -Xmx1g -cp "$(classpath)" dev.idbsync.minidfs.Launcher --base "$base" 2>"$base.log"
    ;;
  shell)
    shift
    # Hadoop's client wants a core-site.xml on its classpath: HADOOP_CONF_DIR's, or an empty one.
    conf="${HADOOP_CONF_DIR:-$java_dir/target/empty-conf}"
    if [ ! -e "$conf/core-site.xml" ]; then
      mkdir -p "$conf" && echo '<configuration/>' >"$conf/core-site.xml"
    fi
    exec java -cp "$conf:$(classpath)" org.apache.hadoop.fs.FsShell "$@"
    ;;
  *)
    sed -n '2,10p' "$0" >&2
    exit 2
    ;;
esac
