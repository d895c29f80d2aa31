//! The `idbsync` binary against a real HDFS (Hadoop's MiniDFSCluster, one per test binary):
//! `convert --out hdfs://…`, nameservice URLs, `put` and `get`, checked with Hadoop's own
//! Java client (`FsShell`).

mod common;

use common::{fixture, idbsync, idbsync_env, s};
use std::collections::BTreeMap;
use std::path::Path;

/// Every file under `root` with its bytes.
fn local_tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(p.strip_prefix(root).unwrap().to_str().unwrap().to_owned(), std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

#[test]
fn convert_to_hdfs_sets_block_size_replication_and_user() {
    let Some(dfs) = minidfs::shared_or_skip("convert_to_hdfs_sets_block_size") else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dfs.uri("/cli/shop");
    let input = fixture("dexie-shop.json");
    let args = [
        "convert",
        s(&input),
        "--out",
        &out,
        "--partition-by",
        "day(created)",
        "--block-size",
        "2MiB",
        "--replication",
        "2",
        "--verify",
        "--json",
    ];
    let run = idbsync_env(dir.path(), &args, None, &[("HADOOP_USER_NAME", "alice")]).success();
    let report = run.json();
    assert_eq!(report["stores"][0]["store"], "orders");
    assert_eq!(report["stores"][0]["path"], format!("{out}/orders"));
    assert_eq!(report["stores"][0]["counts"]["written"], 50);
    let ls = dfs.fs_shell_ok(&["-ls", "-R", "/cli/shop"]);
    let parquet: Vec<&str> = ls.lines().filter(|l| l.ends_with(".parquet")).collect();
    assert_eq!(parquet.len(), 28, "27 day partitions of orders, 1 file of customers:\n{ls}");
    assert!(!ls.contains("_temporary"), "{ls}");
    let first = parquet[0].split_whitespace().last().unwrap();
    let stat = dfs.fs_shell_ok(&["-stat", "%u %o %r", first]);
    assert_eq!(stat.trim(), format!("alice {} 2", 2 << 20));

    // The same output again is refused, naming the dataset; nothing changes.
    let again = idbsync(dir.path(), &args[..args.len() - 1], None);
    assert_eq!(again.code, Some(1));
    assert!(again.stderr.contains(&format!("{out}/orders already exists")), "{}", again.stderr);
}

#[test]
fn nameservice_urls_resolve_through_hadoop_conf_dir_or_hdfs_conf() {
    let Some(dfs) = minidfs::shared_or_skip("nameservice_urls_resolve") else { return };
    let dir = tempfile::tempdir().unwrap();
    let addr = dfs.url.trim_start_matches("hdfs://");
    let props =
        [("dfs.nameservices", "mini"), ("dfs.ha.namenodes.mini", "nn1"), ("dfs.namenode.rpc-address.mini.nn1", addr)];
    let conf = dir.path().join("conf");
    std::fs::create_dir(&conf).unwrap();
    let xml: String =
        props.iter().map(|(k, v)| format!("<property><name>{k}</name><value>{v}</value></property>")).collect();
    std::fs::write(conf.join("hdfs-site.xml"), format!("<configuration>{xml}</configuration>")).unwrap();
    let input = fixture("dexie-alltags.json");
    let env = [("HADOOP_CONF_DIR", s(&conf))];
    idbsync_env(dir.path(), &["convert", s(&input), "--out", "hdfs://mini/ns/a", "-q"], None, &env).success();

    let mut args = vec!["convert".to_owned(), s(&input).to_owned(), "--out".into(), "hdfs://mini/ns/b".into()];
    for (k, v) in props {
        args.extend(["--hdfs-conf".to_owned(), format!("{k}={v}")]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    idbsync_env(dir.path(), &args, None, &[("HADOOP_CONF_DIR", s(dir.path()))]).success();
    let ls = dfs.fs_shell_ok(&["-ls", "/ns/a", "/ns/b"]);
    for ds in ["things", "kv", "pairs"] {
        assert!(ls.contains(&format!("/ns/a/{ds}")) && ls.contains(&format!("/ns/b/{ds}")), "{ds} missing:\n{ls}");
    }

    // Without the configuration the nameservice is unknown: a clear error, nothing written.
    let bad = idbsync_env(dir.path(), &["convert", s(&input), "--out", "hdfs://mini/ns/c"], None, &env[..0]);
    assert_eq!(bad.code, Some(1));
    assert!(bad.stderr.contains("hdfs://mini/ns/c"), "{}", bad.stderr);
}

#[test]
fn put_then_get_round_trips_and_update_skips_unchanged_files() {
    let Some(dfs) = minidfs::shared_or_skip("put_then_get_round_trips") else { return };
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("shop");
    let input = fixture("dexie-shop.json");
    idbsync(dir.path(), &["convert", s(&input), "--out", s(&local), "--partition-by", "day(created)", "-q"], None)
        .success();
    let files = local_tree(&local);
    let remote = dfs.uri("/put/shop");

    let put = idbsync(dir.path(), &["put", s(&local), &remote, "--json"], None).success().json();
    assert_eq!((put["files"].as_u64(), put["copied"].as_u64()), (Some(files.len() as u64), Some(files.len() as u64)));
    // Hadoop's client sees every file with the CRC32C of the local bytes.
    let ls = dfs.fs_shell_ok(&["-ls", "-R", "/put/shop"]);
    assert_eq!(ls.lines().filter(|l| l.starts_with('-')).count(), files.len(), "{ls}");
    let (rel, bytes) = files.iter().find(|(p, _)| p.ends_with(".parquet")).unwrap();
    let sum = dfs.fs_shell_ok(&["-Ddfs.checksum.combine.mode=COMPOSITE_CRC", "-checksum", &format!("/put/shop/{rel}")]);
    assert!(sum.trim().ends_with(&format!("COMPOSITE-CRC32C\t{:08x}", crc32c(bytes))), "{sum}");

    let back = dir.path().join("back");
    idbsync(dir.path(), &["get", &remote, s(&back), "-q"], None).success();
    assert_eq!(local_tree(&back), files, "put then get gives the same bytes");

    let refused = idbsync(dir.path(), &["put", s(&local), &remote], None);
    assert_eq!(refused.code, Some(1));
    assert!(refused.stderr.contains("already exists (use --update"), "{}", refused.stderr);

    std::fs::write(local.join(rel), b"changed").unwrap();
    let upd = idbsync(dir.path(), &["put", s(&local), &remote, "--update", "--json"], None).success().json();
    assert_eq!((upd["copied"].as_u64(), upd["unchanged"].as_u64()), (Some(2), Some(files.len() as u64 - 2)));
    let cat = dfs.fs_shell(&["-cat", &format!("/put/shop/{rel}")]);
    assert_eq!(cat.stdout, b"changed");
    let ls = dfs.fs_shell_ok(&["-ls", "-R", "/put/shop"]);
    assert!(!ls.contains("_temporary"), "{ls}");
    idbsync(dir.path(), &["get", &remote, s(&back), "--update", "-q"], None).success();
    assert_eq!(local_tree(&back)[rel], b"changed");

    let wrong = idbsync(dir.path(), &["put", &remote, s(&back)], None);
    assert!(wrong.stderr.contains("put copies a local folder to hdfs://"), "{}", wrong.stderr);
}

#[test]
fn an_unreachable_namenode_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("dexie-shop.json");
    // Port 1 on loopback: nothing listens there.
    let run = idbsync(dir.path(), &["convert", s(&input), "--out", "hdfs://127.0.0.1:1/x"], None);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("hdfs://127.0.0.1:1/x/orders") && run.stderr.contains("refused"), "{}", run.stderr);
}

/// CRC32C (Castagnoli), bit by bit: an independent check of the checksums idbsync reports.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0x82F6_3B78 } else { crc >> 1 };
        }
    }
    !crc
}

#[test]
fn sql_over_a_dataset_on_hdfs() {
    let Some(dfs) = minidfs::shared_or_skip("sql_over_a_dataset_on_hdfs") else { return };
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("dexie-shop.json");
    let root = dfs.uri("/sql/shop");
    idbsync(dir.path(), &["convert", s(&input), "--out", &root, "--partition-by", "day(created)", "-q"], None)
        .success();
    let sql = "SELECT day, count(*) AS n, sum(total) AS t FROM orders WHERE day <= DATE '2024-03-02' GROUP BY day ORDER BY day";
    let rows = idbsync(dir.path(), &["query", &root, sql, "--format", "json"], None).success().json();
    assert_eq!(rows.as_array().unwrap().len(), 2, "{rows}");
    assert_eq!((rows[0]["day"].as_str(), rows[0]["n"].as_u64()), (Some("2024-03-01"), Some(2)));
    // The same answer from the local conversion of the same export.
    let local = dir.path().join("shop");
    idbsync(dir.path(), &["convert", s(&input), "--out", s(&local), "--partition-by", "day(created)", "-q"], None)
        .success();
    let local_rows = idbsync(dir.path(), &["query", s(&local), sql, "--format", "json"], None).success().json();
    assert_eq!(rows, local_rows);
    let tables = idbsync(dir.path(), &["tables", &root, "--json"], None).success().json();
    assert_eq!(tables[1]["table"], "orders");
    assert_eq!(tables[1]["rows"], 50);
    let plan = idbsync(
        dir.path(),
        &["query", &root, "SELECT id FROM orders WHERE day = DATE '2024-03-01'", "--explain"],
        None,
    )
    .success()
    .stdout;
    assert!(plan.contains("day=2024-03-01") && !plan.contains("day=2024-03-02"), "{plan}");
}

#[test]
fn download_reads_a_store_from_hdfs() {
    let Some(dfs) = minidfs::shared_or_skip("download_reads_a_store_from_hdfs") else { return };
    let dir = tempfile::tempdir().unwrap();
    let root = dfs.uri("/cli/download");
    let input = fixture("dexie-alltags.json");
    idbsync(dir.path(), &["convert", s(&input), "--out", &root, "--partition-by", "first", "-q"], None).success();
    idbsync(dir.path(), &["convert", s(&input), "--out", "local", "--partition-by", "first", "-q"], None).success();
    for table in ["things", "kv", "pairs"] {
        let run = idbsync(dir.path(), &["download", &root, "--table", table, "--to", "-"], None).success();
        assert!(run.stderr.contains(&format!("rows of '{table}' written as dexie to stdout")), "{}", run.stderr);
        let local = idbsync(dir.path(), &["download", "local", "--table", table, "--to", "-", "-q"], None).success();
        assert_eq!(run.stdout, local.stdout, "{table}: the same export from HDFS as from a local folder");
    }
    let run = idbsync(dir.path(), &["download", &root, "--table", "nope", "--to", "x.json"], None);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("no dataset for store 'nope'") && run.stderr.contains("things"), "{}", run.stderr);
}
