package dev.idbsync.minidfs;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hdfs.HdfsConfiguration;
import org.apache.hadoop.hdfs.MiniDFSCluster;

/**
 * Starts a MiniDFSCluster (a real NameNode and real DataNodes in this JVM) for idbsync's tests.
 *
 * <pre>
 * java -cp ... dev.idbsync.minidfs.Launcher --base DIR [--datanodes 3] [--block-size 1048576]
 * </pre>
 *
 * Every port is chosen free by the OS. When the cluster is up, DIR/conf/core-site.xml names it and
 * one line goes to stdout: {@code READY hdfs://127.0.0.1:PORT}. Then each stdin line is a command,
 * answered by one line ({@code OK ...} or {@code ERR ...}):
 * {@code stop-datanode N}, {@code restart-datanode N}, {@code stop-namenode}, {@code restart-namenode},
 * {@code mark-datanode-dead N} (the NameNode stops placing blocks on a DataNode stopped here, at once
 * instead of after its heartbeat expiry).
 * End of stdin (the test process went away) shuts the cluster down and deletes its data.
 */
public final class Launcher {
    private Launcher() {}

    public static void main(String[] args) throws Exception {
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", System.getProperty("minidfs.log", "warn"));
        Map<String, String> opts = parse(args);
        File base = new File(required(opts, "--base")).getAbsoluteFile();
        int dataNodes = Integer.parseInt(opts.getOrDefault("--datanodes", "3"));
        long blockSize = Long.parseLong(opts.getOrDefault("--block-size", String.valueOf(1 << 20)));

        // Hadoop logs go to stderr (the helper keeps them in a file); stdout carries only the protocol.
        PrintStream protocol = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true,
                StandardCharsets.UTF_8);
        System.setOut(System.err);

        Configuration conf = new HdfsConfiguration();
        conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, new File(base, "dfs").getPath());
        conf.setLong("dfs.blocksize", blockSize);
        // Small blocks are the point: let tests go below the 1 MiB default minimum.
        conf.setLong("dfs.namenode.fs-limits.min-block-size", 4096);
        conf.setInt("dfs.bytes-per-checksum", 512);
        conf.setInt("dfs.replication", Math.min(3, dataNodes));
        conf.set("dfs.namenode.http-address", "127.0.0.1:0");
        conf.set("dfs.namenode.secondary.http-address", "127.0.0.1:0");
        conf.set("dfs.datanode.address", "127.0.0.1:0");
        conf.set("dfs.datanode.http.address", "127.0.0.1:0");
        conf.set("dfs.datanode.ipc.address", "127.0.0.1:0");
        conf.setBoolean("dfs.permissions.enabled", false);
        // A stopped DataNode should be noticed quickly by writers, not after minutes.
        conf.setInt("dfs.client.socket-timeout", 10_000);
        conf.setInt("dfs.heartbeat.interval", 1);

        MiniDFSCluster cluster = new MiniDFSCluster.Builder(conf)
                .numDataNodes(dataNodes)
                .nameNodePort(0)
                .format(true)
                .build();
        cluster.waitActive();
        String uri = "hdfs://127.0.0.1:" + cluster.getNameNodePort();

        File confDir = new File(base, "conf");
        Files.createDirectories(confDir.toPath());
        writeCoreSite(new File(confDir, "core-site.xml"), uri, blockSize, Math.min(3, dataNodes));

        Runtime.getRuntime().addShutdownHook(new Thread(() -> cluster.shutdown(true)));
        protocol.println("READY " + uri);

        Map<Integer, MiniDFSCluster.DataNodeProperties> stopped = new HashMap<>();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            String[] words = line.trim().split("\\s+");
            try {
                switch (words[0]) {
                    case "stop-datanode": {
                        int i = Integer.parseInt(words[1]);
                        MiniDFSCluster.DataNodeProperties p = cluster.stopDataNode(i);
                        if (p == null) {
                            throw new IllegalArgumentException("no DataNode " + i);
                        }
                        stopped.put(i, p);
                        break;
                    }
                    case "restart-datanode": {
                        int i = Integer.parseInt(words[1]);
                        MiniDFSCluster.DataNodeProperties p = stopped.remove(i);
                        if (p == null) {
                            throw new IllegalArgumentException("DataNode " + i + " was not stopped here");
                        }
                        cluster.restartDataNode(p, true);
                        cluster.waitActive();
                        break;
                    }
                    case "mark-datanode-dead": {
                        int i = Integer.parseInt(words[1]);
                        MiniDFSCluster.DataNodeProperties p = stopped.get(i);
                        if (p == null) {
                            throw new IllegalArgumentException("DataNode " + i + " was not stopped here");
                        }
                        cluster.setDataNodeDead(p.getDatanode().getDatanodeId());
                        break;
                    }
                    case "stop-namenode":
                        cluster.shutdownNameNode(0);
                        break;
                    case "restart-namenode":
                        cluster.restartNameNode(0, true);
                        break;
                    default:
                        throw new IllegalArgumentException("unknown command: " + line);
                }
                protocol.println("OK " + line);
            } catch (Exception e) {
                protocol.println("ERR " + line + ": " + e);
            }
        }
        cluster.shutdown(true);
        deleteTree(base);
        System.exit(0);
    }

    private static void deleteTree(File f) {
        File[] children = f.listFiles();
        if (children != null) {
            for (File c : children) {
                deleteTree(c);
            }
        }
        f.delete();
    }

    private static void writeCoreSite(File file, String uri, long blockSize, int replication) throws IOException {
        String xml = "<?xml version=\"1.0\"?>\n<configuration>\n"
                + property("fs.defaultFS", uri)
                + property("dfs.blocksize", String.valueOf(blockSize))
                + property("dfs.replication", String.valueOf(replication))
                + "</configuration>\n";
        File tmp = new File(file.getPath() + ".tmp");
        Files.writeString(tmp.toPath(), xml, StandardCharsets.UTF_8);
        Files.move(tmp.toPath(), file.toPath(), java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    private static String property(String name, String value) {
        return "  <property><name>" + name + "</name><value>" + value + "</value></property>\n";
    }

    private static Map<String, String> parse(String[] args) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (!args[i].startsWith("--")) {
                throw new IllegalArgumentException("expected --option value, got " + args[i]);
            }
            m.put(args[i], args[i + 1]);
        }
        if (args.length % 2 != 0) {
            throw new IllegalArgumentException("missing value after " + args[args.length - 1]);
        }
        return m;
    }

    private static String required(Map<String, String> m, String key) {
        String v = m.get(key);
        if (v == null) {
            throw new IllegalArgumentException(key + " is required");
        }
        return v;
    }
}
