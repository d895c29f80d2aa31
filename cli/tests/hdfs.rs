//! The `idbsync` binary against a real HDFS (Hadoop's MiniDFSCluster, one per test binary):
//! `convert --out hdfs://…`, nameservice URLs, `put` and `get`, checked with Hadoop's own
//! Java client (`FsShell`); hostile store names and partition values (the cases of
//! `escape.rs`) stay inside the output root; no credential is ever printed.

mod common;

use common::{fixture, idbsync, idbsync_env, local_tree, s, Run};
use engine::{HdfsSink, Sink, StorageOptions};
use serde_json::{json, Value};

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

// ---------------------------------------------------------------------------------------
// Path escapes on HDFS (the hostile names of escape.rs)
// ---------------------------------------------------------------------------------------

/// Paths on the cluster holding `marker` in their names, outside the output roots
/// `inside`: searched two levels deep from every folder on the way from `/` to `inside[0]`.
fn escaped_on_hdfs(fs: &HdfsSink, inside: &[&str], marker: &str) -> Vec<String> {
    fn scan(fs: &HdfsSink, dir: &str, depth: usize, inside: &[&str], marker: &str, out: &mut Vec<String>) {
        for e in fs.list(dir).unwrap() {
            let p = if dir.is_empty() { e.name.clone() } else { format!("{dir}/{}", e.name) };
            if inside.contains(&format!("/{p}").as_str()) {
                continue;
            }
            if e.name.contains(marker) {
                out.push(format!("/{p}"));
            }
            if depth > 0 && e.is_dir {
                scan(fs, &p, depth - 1, inside, marker, out);
            }
        }
    }
    let mut out = Vec::new();
    let mut dir = inside[0].trim_start_matches('/');
    loop {
        dir = dir.rsplit_once('/').map_or("", |(up, _)| up);
        scan(fs, dir, 2, inside, marker, &mut out);
        if dir.is_empty() {
            break;
        }
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn hostile_names_stay_inside_the_output_root_on_hdfs() {
    let Some(dfs) = minidfs::shared_or_skip("hostile_names_stay_inside_the_output_root_on_hdfs") else { return };
    let m = common::marker();
    let fs = HdfsSink::connect(&dfs.uri("/"), &StorageOptions::new()).unwrap();
    let base = format!("/escape-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();

    // Store names: one escaped directory per store, committed, right under the root.
    let names = common::hostile_store_names(&m);
    let dump = dir.path().join("dump.json");
    std::fs::write(&dump, common::dump_of(&names)).unwrap();
    let stores_root = format!("{base}/a/b/stores");
    let root = stores_root.clone();
    let run = idbsync(
        dir.path(),
        &["convert", s(&dump), "--out", &dfs.uri(&root), "--format", "stores", "--json", "-q"],
        None,
    )
    .success();
    let report = run.json();
    let stores = report["stores"].as_array().unwrap();
    assert_eq!(stores.iter().map(|st| st["store"].as_str().unwrap()).collect::<Vec<_>>(), names);
    let out = HdfsSink::connect(&dfs.uri(&root), &StorageOptions::new()).unwrap();
    let mut want: Vec<String> = names.iter().map(|n| engine::store_dir_name(n)).collect();
    want.sort();
    let got: Vec<String> = out.list("").unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(got, want, "one directory per store, nothing else at the root");
    for (st, name) in stores.iter().zip(&names) {
        let ds = engine::store_dir_name(name);
        assert_eq!(st["path"], dfs.uri(&format!("{root}/{ds}")), "{name:?}");
        assert!(ds.len() <= 255 && !ds.contains(['/', ':', '\0']) && !ds.starts_with(['.', '_']), "{ds}");
        assert!(out.exists(&format!("{ds}/_SUCCESS")).unwrap(), "{name:?}");
        let manifest: Value =
            serde_json::from_slice(&out.read(&format!("{ds}/_idbsync/manifest.json")).unwrap()).unwrap();
        assert_eq!(manifest["store"].as_str(), Some(name.as_str()), "the manifest keeps the real name");
    }
    assert_eq!(escaped_on_hdfs(&fs, &[&root], &m), Vec::<String>::new(), "written outside the output root");

    // Partition values: escaped directory names inside the dataset, the longest 255 bytes.
    let values = common::hostile_partition_values(&m);
    let input = dir.path().join("orders.ndjson");
    std::fs::write(&input, common::city_records(&values)).unwrap();
    let root = format!("{base}/a/b/parts");
    idbsync(dir.path(), &["convert", s(&input), "--out", &dfs.uri(&root), "--partition-by", "city", "-q"], None)
        .success();
    let ds = HdfsSink::connect(&dfs.uri(&format!("{root}/orders")), &StorageOptions::new()).unwrap();
    let dirs: Vec<String> =
        ds.list("").unwrap().into_iter().map(|e| e.name).filter(|n| n.starts_with("city=")).collect();
    assert_eq!(dirs, common::city_dirs(&values));
    assert!(dirs.iter().any(|d| d.len() == 255), "the longest value fills 255 bytes");
    let manifest: engine::Manifest = serde_json::from_slice(&ds.read("_idbsync/manifest.json").unwrap()).unwrap();
    assert_eq!(manifest.files.len(), dirs.len());
    for f in &manifest.files {
        assert!(f.path.split('/').all(|seg| !seg.is_empty() && seg != ".." && seg != "."), "{}", f.path);
        assert!(ds.exists(&f.path).unwrap(), "{}", f.path);
    }
    assert_eq!(manifest.counts.written, values.len() as u64);
    let roots = [root.as_str(), stores_root.as_str()];
    assert_eq!(escaped_on_hdfs(&fs, &roots, &m), Vec::<String>::new(), "written outside the output roots");
    let parts_root = root.clone();

    // A value too long for a directory name: a clear error, nothing written.
    let long = format!("../{m}{}", "x".repeat(10_000));
    let text = format!("{}\n{}\n", json!({"id": 1, "city": "Berlin"}), json!({"id": 2, "city": long}));
    std::fs::write(&input, text).unwrap();
    let root = format!("{base}/a/b/long");
    let run = idbsync(dir.path(), &["convert", s(&input), "--out", &dfs.uri(&root), "--partition-by", "city"], None);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    assert!(
        run.stderr.contains("partition by city: the directory name city=..%2Fidbsync-escape-marker-"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("more than the 255 a filesystem or HDFS allows"), "{}", run.stderr);
    assert!(!fs.exists(&root[1..]).unwrap(), "a failed job left {root}");
    let roots = [parts_root.as_str(), stores_root.as_str()];
    assert_eq!(escaped_on_hdfs(&fs, &roots, &m), Vec::<String>::new(), "written outside the output roots");
    fs.remove_all(&base[1..]).unwrap();
}

// ---------------------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------------------

/// Regression: the user-info of an `hdfs://user:password@…` URL was printed in every
/// message and report that names the location (`describe()`, the `--json` path, errors),
/// and a malformed secret `--hdfs-conf` was echoed whole.
#[test]
fn credentials_are_never_printed() {
    let Some(dfs) = minidfs::shared_or_skip("credentials_are_never_printed") else { return };
    let dir = tempfile::tempdir().unwrap();
    let pid = std::process::id();
    let (user, password) = (format!("user{pid}x"), format!("pw-{pid}-hunter2"));
    let (key, token) = (format!("AKIA{pid}SECRET"), format!("tok-{pid}-xyz"));
    let addr = dfs.url.trim_start_matches("hdfs://");
    let url = |path: &str| format!("hdfs://{user}:{password}@{addr}{path}");
    let conf = [
        "--hdfs-conf".to_owned(),
        format!("fs.s3a.secret.key={key}"),
        "--hdfs-conf".to_owned(),
        format!("dfs.webhdfs.oauth2.access.token={token}"),
    ];
    let secrets = [password.as_str(), key.as_str(), token.as_str(), user.as_str()];
    let run = |args: &[&str]| -> Run {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(conf.iter().map(String::as_str));
        let run = idbsync(dir.path(), &all, None);
        for secret in secrets {
            assert!(
                !run.stdout.contains(secret) && !run.stderr.contains(secret),
                "{args:?} printed {secret}:\n{}\n{}",
                run.stdout,
                run.stderr
            );
        }
        run
    };
    let input = fixture("dexie-shop.json");

    // convert: the report names the location without user-info; the URL's user-info is not
    // used (the user comes from HADOOP_USER_NAME or the login).
    let report = run(&["convert", s(&input), "--out", &url("/creds/shop"), "--json"]).success().json();
    assert_eq!(report["stores"][0]["path"], dfs.uri("/creds/shop/orders"));
    // An error names the location, redacted, in the context and in the cause.
    let again = run(&["convert", s(&input), "--out", &url("/creds/shop")]);
    assert_eq!(again.code, Some(1));
    assert!(again.stderr.contains(&format!("into hdfs://***@{addr}/creds/shop")), "{}", again.stderr);
    assert!(again.stderr.contains(&format!("{}/orders already exists", dfs.uri("/creds/shop"))), "{}", again.stderr);

    // put, get, query, tables, download through the same URLs.
    let local = dir.path().join("local");
    idbsync(dir.path(), &["convert", s(&input), "--out", s(&local), "-q"], None).success();
    let put = run(&["put", s(&local), &url("/creds/put"), "--json"]).success().json();
    assert_eq!(put["destination"], dfs.uri("/creds/put"));
    let back = dir.path().join("back");
    let got = run(&["get", &url("/creds/put"), s(&back), "--json"]).success().json();
    assert_eq!(local_tree(&back), local_tree(&local));
    assert_eq!(got["copied"], put["copied"]);
    let plan = run(&["query", &url("/creds/shop"), "SELECT id FROM orders", "--explain"]).success();
    assert!(plan.stdout.contains("creds/shop/orders/part-"), "{}", plan.stdout);
    let tables = run(&["tables", &url("/creds/shop"), "--json"]).success().json();
    assert_eq!(tables.as_array().map(Vec::len), Some(2), "{tables}");
    run(&["download", &url("/creds/shop"), "--table", "orders", "--to", "-", "--format", "ndjson"]).success();
    let missing = run(&["download", &url("/creds/shop"), "--table", "nope", "--to", "x.json"]);
    assert_eq!(missing.code, Some(1));

    // A NameNode that cannot be reached, a malformed secret setting, a usage error.
    let down = run(&["convert", s(&input), "--out", &format!("hdfs://{user}:{password}@127.0.0.1:1/x")]);
    assert_eq!(down.code, Some(1));
    assert!(down.stderr.contains("cannot reach the NameNode at hdfs://127.0.0.1:1"), "{}", down.stderr);
    let bad = run(&["put", s(&local), &url("/creds/bad"), "--hdfs-conf", &format!("ssl.keystore.password:{password}")]);
    assert_eq!(bad.code, Some(1));
    assert!(bad.stderr.contains("--hdfs-conf ***: expected KEY=VALUE"), "{}", bad.stderr);
    let usage = run(&["put", s(&local), &url("/creds/x"), "--parallel", &url("/oops")]);
    assert_eq!(usage.code, Some(2), "{}", usage.stderr);
    assert!(usage.stderr.contains(&format!("hdfs://***@{addr}/oops")), "{}", usage.stderr);
}

/// The synced-table commands reach a nameservice that only `--hdfs-conf` defines: deltalake
/// opens the tables with the same HDFS client settings as the Parquet sink (before, push
/// and pull on `hdfs://<nameservice>/…` failed: the settings did not reach deltalake).
#[cfg(feature = "sync")]
/// A nameservice defined only in `$HADOOP_CONF_DIR/hdfs-site.xml` (as on a cluster's edge
/// node, no `--hdfs-conf`) reaches the synced tables: push, pull --since and query.
#[test]
fn synced_tables_on_a_nameservice_url_read_hadoop_conf_dir() {
    let Some(dfs) = minidfs::shared_or_skip("synced_tables_on_a_nameservice_url_read_hadoop_conf_dir") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let addr = dfs.url.trim_start_matches("hdfs://");
    let property = |k: &str, v: &str| format!("  <property><name>{k}</name><value>{v}</value></property>\n");
    let site = format!(
        "<?xml version=\"1.0\"?>\n<configuration>\n{}{}{}</configuration>\n",
        property("dfs.nameservices", "edge"),
        property("dfs.ha.namenodes.edge", "nn1"),
        property("dfs.namenode.rpc-address.edge.nn1", addr),
    );
    let conf_dir = dir.path().join("hadoop-conf");
    std::fs::create_dir(&conf_dir).unwrap();
    std::fs::write(conf_dir.join("hdfs-site.xml"), site).unwrap();
    let env = [("HADOOP_CONF_DIR", s(&conf_dir))];
    let run = |args: &[&str]| idbsync_env(dir.path(), args, None, &env);
    let root = "hdfs://edge/confdir/db";
    let b1 = dir.path().join("b1.ndjson");
    std::fs::write(&b1, "{\"id\":1,\"name\":\"Ada\"}\n{\"id\":2,\"name\":\"Alan\"}\n").unwrap();
    let b2 = dir.path().join("b2.ndjson");
    std::fs::write(&b2, "{\"id\":2,\"_deleted\":true}\n{\"id\":3,\"name\":\"Grace\"}\n").unwrap();
    for b in [&b1, &b2] {
        run(&["push", s(b), root, "--store", "people", "--key", "id", "-q"]).success();
    }
    let log = dfs.fs_shell_ok(&["-ls", "/confdir/db/people/_delta_log"]);
    assert!(log.contains("00000000000000000002.json"), "{log}");
    let pulled = run(&["pull", root, "--table", "people", "--since", "1", "--to", "-", "-q"]).success();
    assert_eq!(pulled.stdout, "{\"id\":3,\"name\":\"Grace\"}\n{\"id\":2,\"_deleted\":true}\n{\"_checkpoint\":2}\n");
    let q = run(&["query", root, "SELECT id, name FROM people ORDER BY id", "--format", "ndjson"]).success();
    assert_eq!(q.stdout, "{\"id\":1,\"name\":\"Ada\"}\n{\"id\":3,\"name\":\"Grace\"}\n");
    // Without the file the name means nothing: the same push fails, naming the root.
    let bare = idbsync_env(
        dir.path(),
        &["push", s(&b1), root, "--store", "people", "--key", "id"],
        None,
        &[("HADOOP_CONF_DIR", s(dir.path()))],
    );
    assert_eq!(bare.code, Some(1), "{}", bare.stderr);
    assert!(bare.stderr.contains(root), "{}", bare.stderr);
}

#[test]
fn synced_tables_on_a_nameservice_url_use_hdfs_conf() {
    let Some(dfs) = minidfs::shared_or_skip("synced_tables_on_a_nameservice_url") else { return };
    let dir = tempfile::tempdir().unwrap();
    let addr = dfs.url.trim_start_matches("hdfs://");
    let conf: Vec<String> = [
        ("dfs.nameservices", "synced"),
        ("dfs.ha.namenodes.synced", "nn1"),
        ("dfs.namenode.rpc-address.synced.nn1", addr),
    ]
    .iter()
    .flat_map(|(k, v)| ["--hdfs-conf".to_owned(), format!("{k}={v}")])
    .collect();
    // No Hadoop configuration files: the nameservice is known only through --hdfs-conf.
    let env = [("HADOOP_CONF_DIR", s(dir.path()))];
    let run = |args: &[&str], with_conf: bool| {
        let mut all: Vec<&str> = args.to_vec();
        if with_conf {
            all.extend(conf.iter().map(String::as_str));
        }
        idbsync_env(dir.path(), &all, None, &env)
    };
    let root = "hdfs://synced/conf/db";
    let b1 = dir.path().join("b1.ndjson");
    std::fs::write(&b1, "{\"id\":1,\"name\":\"Ada\"}\n{\"id\":2,\"name\":\"Alan\"}\n{\"id\":3,\"name\":\"Grace\"}\n")
        .unwrap();
    let b2 = dir.path().join("b2.ndjson");
    std::fs::write(&b2, "{\"id\":2,\"name\":\"Alan T\"}\n{\"id\":3,\"_deleted\":true}\n").unwrap();
    let push = |input: &std::path::Path, with_conf: bool| {
        run(&["push", s(input), root, "--store", "people", "--key", "id", "--json"], with_conf)
    };

    let bad = push(&b1, false);
    assert_eq!(bad.code, Some(1), "{}", bad.stderr);
    assert!(bad.stderr.contains("hdfs://synced/conf/db"), "{}", bad.stderr);

    let r = push(&b1, true).success().json();
    assert_eq!((r["tables"][0]["upserted"].as_u64(), r["tables"][0]["checkpoint"].as_i64()), (Some(3), Some(1)));
    let r = push(&b2, true).success().json();
    let t = &r["tables"][0];
    assert_eq!((t["upserted"].as_u64(), t["deleted"].as_u64(), t["checkpoint"].as_i64()), (Some(1), Some(1), Some(2)));
    let log = dfs.fs_shell_ok(&["-ls", "/conf/db/people/_delta_log"]);
    assert!(log.contains("00000000000000000002.json"), "{log}");

    let pulled = run(&["pull", root, "--table", "people", "--since", "1", "--to", "-", "-q"], true).success();
    assert_eq!(pulled.stdout, "{\"id\":2,\"name\":\"Alan T\"}\n{\"id\":3,\"_deleted\":true}\n{\"_checkpoint\":2}\n");
    let bad = run(&["pull", root, "--table", "people", "--to", "-", "-q"], false);
    assert_eq!(bad.code, Some(1), "{}", bad.stderr);

    let history = run(&["history", root, "--table", "people", "--json"], true).success().json();
    let versions: Vec<i64> = history.as_array().unwrap().iter().map(|c| c["version"].as_i64().unwrap()).collect();
    assert_eq!(versions, [2, 1, 0]);
    let q = run(&["query", root, "SELECT id, name FROM people ORDER BY id", "--format", "ndjson"], true).success();
    assert_eq!(q.stdout, "{\"id\":1,\"name\":\"Ada\"}\n{\"id\":2,\"name\":\"Alan T\"}\n");
    let o = run(&["optimize", root, "--json"], true).success().json();
    assert_eq!(o[0]["table"], "people");
    let v = run(&["vacuum", root, "--dry-run", "--json"], true).success().json();
    assert_eq!(v[0]["dry_run"], true);

    // `serve` opens the tables with the same settings.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let mut args: Vec<&str> =
        vec!["serve", "--root", "hdfs://synced/conf", "--listen", &listen, "--allow-anonymous-read"];
    args.extend(conf.iter().map(String::as_str));
    let mut server = std::process::Command::new(common::BIN)
        .args(&args)
        .envs(env)
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let answer = http_get(&listen, "/v1/db/pull?table=people");
    server.kill().unwrap();
    server.wait().unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    assert!(head.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(body.contains("\"name\":\"Alan T\"") && body.ends_with("{\"_checkpoint\":2}\n"), "{answer}");
}

/// A plain HTTP/1.1 GET to a server that is starting: retried until it accepts, for 60 s.
#[cfg(feature = "sync")]
fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        match std::net::TcpStream::connect(addr) {
            Ok(mut c) => {
                write!(c, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
                let mut out = String::new();
                c.read_to_string(&mut out).unwrap();
                return out;
            }
            Err(e) if std::time::Instant::now() > deadline => panic!("the server did not start: {e}"),
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    }
}

/// Issue 17's JSON-text fallback on HDFS: a push whose values do not fit a synced table's
/// column rewrites the table there (new files through deltalake's writer, one commit), and
/// pulls give every record back.
#[cfg(feature = "sync")]
#[test]
fn a_type_change_in_a_synced_table_on_hdfs_widens_the_column_and_keeps_every_value() {
    let Some(dfs) = minidfs::shared_or_skip("a_type_change_in_a_synced_table_on_hdfs") else { return };
    let dir = tempfile::tempdir().unwrap();
    let root = dfs.uri("/cli/widen");
    let push = |name: &str, records: &[Value]| -> Value {
        let text: String = records.iter().map(|r| format!("{r}\n")).collect();
        std::fs::write(dir.path().join(name), text).unwrap();
        let args = ["push", name, &root, "--key", "id", "--store", "items", "--json"];
        idbsync(dir.path(), &args, None).success().json()
    };
    let pull = |since: Option<i64>| -> Vec<Value> {
        let mut args =
            vec!["pull".to_owned(), root.clone(), "--table".into(), "items".into(), "--to".into(), "-".into()];
        if let Some(s) = since {
            args.extend(["--since".to_owned(), s.to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = idbsync(dir.path(), &args, None).success().stdout;
        let mut v: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        v.pop(); // the checkpoint
        v.sort_by_key(|r| r["id"].as_i64());
        v
    };
    let r = push("b1.ndjson", &[json!({"id": 1, "n": 1}), json!({"id": 2, "n": 2})]);
    let c0 = r["tables"][0]["checkpoint"].as_i64().unwrap();
    let r = push("b2.ndjson", &[json!({"id": 3, "n": {"b": [3]}}), json!({"id": 2, "_deleted": true})]);
    let t = &r["tables"][0];
    assert_eq!(t["widened_columns"][0]["to"], "JSON text", "{t}");
    assert_eq!((t["upserted"].as_u64(), t["deleted"].as_u64(), t["rejected"].as_u64()), (Some(1), Some(1), Some(0)));
    let expected = vec![json!({"id": 1, "n": 1}), json!({"id": 3, "n": {"b": [3]}})];
    assert_eq!(pull(None), expected);
    // A client at c0 (before the rewrite): the whole table, and key 2 deleted.
    let (deleted, upserts): (Vec<Value>, Vec<Value>) =
        pull(Some(c0)).into_iter().partition(|r| r.get("_deleted").is_some());
    assert_eq!((upserts, deleted), (expected, vec![json!({"id": 2, "_deleted": true})]));
}
