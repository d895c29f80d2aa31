//! The HDFS sink against a real cluster: Hadoop's MiniDFSCluster (3 DataNodes, 1 MiB
//! blocks), started once for this test binary by `minidfs::shared_or_skip`. What idbsync
//! writes is read back with hdfs-native and with Hadoop's own Java client (`FsShell`).

use engine::{
    convert, ConvertOptions, ConvertReport, HdfsSink, LocalSink, Manifest, OnInvalid, ParquetOptions, Sink,
    StorageOptions, MANIFEST, SUCCESS,
};
use schema_infer::{InferOptions, SchemaDoc};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/fixtures");

fn fixture(name: &str) -> PathBuf {
    Path::new(FIXTURES).join(name)
}

fn hdfs(dfs: &minidfs::MiniDfs, path: &str, opts: StorageOptions) -> Arc<HdfsSink> {
    Arc::new(HdfsSink::connect(&dfs.uri(path), &opts).unwrap())
}

/// Every file under the sink's root (relative path → bytes), through the sink's own reads.
fn tree(sink: &dyn Sink, dir: &str) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in sink.list(dir).unwrap() {
        let rel = if dir.is_empty() { e.name.clone() } else { format!("{dir}/{}", e.name) };
        if e.is_dir {
            out.extend(tree(sink, &rel));
        } else {
            out.insert(rel.clone(), sink.read(&rel).unwrap());
        }
    }
    out
}

/// File names with the job id replaced, so two runs of one conversion compare.
fn by_name(t: BTreeMap<String, Vec<u8>>, job: &str) -> BTreeMap<String, Vec<u8>> {
    t.into_iter().filter(|(p, _)| p.ends_with(".parquet")).map(|(p, b)| (p.replace(job, "JOB"), b)).collect()
}

fn run(input: &Path, sink: Arc<dyn Sink>, opts: ConvertOptions) -> engine::Result<ConvertReport> {
    convert(input, sink, opts, &|_, _| {})
}

#[test]
fn fixtures_converted_to_hdfs_equal_the_local_output_and_hadoop_agrees() {
    let Some(dfs) = minidfs::shared_or_skip("fixtures_converted_to_hdfs") else { return };
    for (fixture_name, parts) in [("dexie-shop.json", vec!["day(created)"]), ("dexie-alltags.json", vec![])] {
        let opts = || {
            ConvertOptions::new()
                .with_partition_by(parts.iter().map(|p| p.parse().unwrap()).collect())
                .with_verify(true)
        };
        let root = format!("/fixtures/{}", fixture_name.trim_end_matches(".json"));
        let sink = hdfs(dfs, &root, StorageOptions::new());
        let on_hdfs = run(&fixture(fixture_name), sink.clone(), opts()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let local = run(&fixture(fixture_name), Arc::new(LocalSink::new(dir.path())), opts()).unwrap();

        let remote_tree = tree(sink.as_ref(), "");
        assert!(remote_tree.keys().all(|p| !p.contains("_temporary")), "staging left: {:?}", remote_tree.keys());
        let local_tree = tree(&LocalSink::new(dir.path()), "");
        assert_eq!(
            by_name(remote_tree.clone(), &on_hdfs.job_id),
            by_name(local_tree, &local.job_id),
            "{fixture_name}: HDFS data files differ from the local ones"
        );
        // Hadoop's own client, one call per question: the listing has every data file with its
        // size, the file checksum (COMPOSITE-CRC32C) of each is the manifest's CRC32C, and
        // `-cat` of the manifests gives the bytes hdfs-native read.
        let ls = dfs.fs_shell_ok(&["-ls", "-R", &root]);
        let mut expected = Vec::new();
        let mut manifests = Vec::new();
        for st in &on_hdfs.stores {
            let ds = engine::store_dir_name(&st.store);
            assert!(remote_tree.contains_key(&format!("{ds}/{SUCCESS}")), "{ds}: no _SUCCESS");
            let m: Manifest = serde_json::from_slice(&remote_tree[&format!("{ds}/{MANIFEST}")]).unwrap();
            assert_eq!(m.counts, st.counts);
            assert_eq!(m.files.len(), st.files);
            expected.extend(m.files.iter().map(|f| (format!("{root}/{ds}/{}", f.path), f.bytes, f.crc32c.clone())));
            manifests.push(format!("{root}/{ds}/{MANIFEST}"));
        }
        let mut args = vec!["-Ddfs.checksum.combine.mode=COMPOSITE_CRC", "-checksum"];
        args.extend(expected.iter().map(|(p, _, _)| p.as_str()));
        let sums = dfs.fs_shell_ok(&args);
        for (full, bytes, crc) in &expected {
            let line = ls.lines().find(|l| l.ends_with(full)).unwrap_or_else(|| panic!("{full} not in {ls}"));
            let size: u64 = line.split_whitespace().nth(4).unwrap().parse().unwrap();
            assert_eq!(size, *bytes, "{line}");
            let sum = format!("{full}\tCOMPOSITE-CRC32C\t{crc}");
            assert!(sums.lines().any(|l| l == sum), "{sum} not in {sums}");
        }
        let mut args = vec!["-cat"];
        args.extend(manifests.iter().map(String::as_str));
        let cat = dfs.fs_shell(&args);
        let want: Vec<u8> = on_hdfs
            .stores
            .iter()
            .flat_map(|st| remote_tree[&format!("{}/{MANIFEST}", engine::store_dir_name(&st.store))].clone())
            .collect();
        assert_eq!(cat.stdout, want);
    }
}

#[test]
fn files_get_the_requested_block_size_and_replication_and_span_blocks() {
    let Some(dfs) = minidfs::shared_or_skip("files_get_the_requested_block_size") else { return };
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("orders.ndjson");
    let mut f = std::fs::File::create(&input).unwrap();
    testdata_gen::OrderGen::new().with_seed(7).with_records(40_000).write_ndjson(&mut f).unwrap();
    drop(f);
    let opts = StorageOptions::new().with_block_size(512 * 1024).with_replication(2);
    let sink = hdfs(dfs, "/blocks", opts);
    let report = run(&input, sink.clone(), ConvertOptions::new().with_verify(true)).unwrap();
    let st = &report.stores[0];
    assert_eq!(st.counts.written, 40_000);
    let m: Manifest = serde_json::from_slice(&sink.read(&format!("orders/{MANIFEST}")).unwrap()).unwrap();
    let file = &m.files[0];
    assert!(file.bytes > 2 * 512 * 1024, "the file should span several blocks: {} bytes", file.bytes);
    let path = sink.full(&format!("orders/{}", file.path));
    let status = sink.block_on(sink.client().get_file_info(&path)).unwrap();
    assert_eq!((status.blocksize, status.replication), (Some(512 * 1024), Some(2)));
    let stat = dfs.fs_shell_ok(&["-stat", "%b %o %r", &path]);
    assert_eq!(stat.trim(), format!("{} {} 2", file.bytes, 512 * 1024));
    // Parquet reads back from HDFS: the row count of the footer is the manifest's.
    let bytes = bytes::Bytes::from(sink.read(&format!("orders/{}", file.path)).unwrap());
    let meta = parquet::file::reader::SerializedFileReader::new(bytes).unwrap();
    use parquet::file::reader::FileReader;
    assert_eq!(meta.metadata().file_metadata().num_rows() as u64, file.rows);
}

#[test]
fn a_failed_conversion_leaves_nothing_on_hdfs() {
    let Some(dfs) = minidfs::shared_or_skip("a_failed_conversion_leaves_nothing") else { return };
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bad.ndjson");
    // Enough good records before the bad one that data files are open when it fails.
    let mut text = String::new();
    for i in 0..5000 {
        text.push_str(&format!("{{\"a\":{i},\"b\":\"x{i}\"}}\n"));
    }
    text.push_str("{\"a\":\"four\",\"b\":\"w\"}\n");
    std::fs::write(&input, &text).unwrap();
    let inferred = engine::infer_path(&input, InferOptions::new(), None).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&inferred.to_json()).unwrap();
    v["stores"][0]["schema"]["fields"][0]["data_type"] = serde_json::json!("Int64");
    v["stores"][0]["schema"]["fields"][0]["metadata"] = serde_json::json!({});
    assert_eq!(v["stores"][0]["schema"]["fields"][0]["name"], "a");
    let pinned = SchemaDoc::from_json(&v.to_string()).unwrap();
    let sink = hdfs(dfs, "/failed", StorageOptions::new());
    let opts = ConvertOptions::new()
        .with_infer(InferOptions::new().with_pinned(Some(pinned)))
        .with_on_invalid(OnInvalid::Fail)
        .with_parquet(ParquetOptions { row_group_rows: 1000, ..ParquetOptions::default() });
    let err = run(&input, sink.clone(), opts).unwrap_err();
    assert!(err.is_invalid_record(), "{err}");
    assert_eq!(tree(sink.as_ref(), ""), BTreeMap::new(), "a failed job leaves no file on HDFS");
}

#[test]
fn put_and_get_round_trip_and_update_copies_only_what_changed() {
    let Some(dfs) = minidfs::shared_or_skip("put_and_get_round_trip") else { return };
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("shop");
    let opts = ConvertOptions::new().with_partition_by(vec!["day(created)".parse().unwrap()]);
    run(&fixture("dexie-shop.json"), Arc::new(LocalSink::new(&src)), opts).unwrap();
    let local = LocalSink::new(&src);
    let parent = hdfs(dfs, "/copies", StorageOptions::new());
    let t = engine::TransferOptions { verify: true, ..Default::default() };
    let up = engine::copy_tree(&local, "", parent.as_ref(), "shop", "j1", t, &|_| {}).unwrap();
    assert_eq!((up.files, up.copied), (tree(&local, "").len(), tree(&local, "").len()));

    let back = dir.path().join("back");
    let down = engine::copy_tree(parent.as_ref(), "shop", &LocalSink::new(dir.path()), "back", "j2", t, &|_| {});
    assert_eq!(down.unwrap().copied, up.files);
    assert_eq!(tree(&LocalSink::new(&back), ""), tree(&local, ""), "put then get gives the same tree");

    // Change one data file locally; an update copies it and the dataset's _SUCCESS only.
    let changed = tree(&local, "").keys().find(|p| p.ends_with(".parquet")).unwrap().clone();
    std::fs::write(src.join(&changed), b"changed").unwrap();
    let upd = engine::TransferOptions { update: true, ..t };
    let r = engine::copy_tree(&local, "", parent.as_ref(), "shop", "j3", upd, &|_| {}).unwrap();
    assert_eq!((r.copied, r.unchanged), (2, up.files - 2));
    let remote = tree(parent.as_ref(), "shop");
    assert_eq!(remote[&format!("shop/{changed}")], b"changed");
    assert!(remote.keys().all(|p| !p.contains("_temporary")));
    let again = engine::copy_tree(&local, "", parent.as_ref(), "shop", "j4", upd, &|_| {}).unwrap();
    assert_eq!(again.copied, 0);
}

#[test]
fn stores_download_from_hdfs_as_they_do_from_a_local_folder() {
    use engine::{download_store, DownloadFormat, DownloadOptions, ReadOptions, StoreReader};
    let Some(dfs) = minidfs::shared_or_skip("stores_download_from_hdfs") else { return };
    // Partitioned: `status` is an identity term, dropped from the files and restored on read.
    let parts = || vec!["day(created)".parse().unwrap(), "status".parse().unwrap()];
    let sink = hdfs(dfs, "/downloads/shop", StorageOptions::new());
    run(&fixture("dexie-shop.json"), sink.clone(), ConvertOptions::new().with_partition_by(parts())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let local: Arc<dyn Sink> = Arc::new(LocalSink::new(dir.path()));
    run(&fixture("dexie-shop.json"), local.clone(), ConvertOptions::new().with_partition_by(parts())).unwrap();
    for store in ["orders", "customers"] {
        for format in [DownloadFormat::Dexie, DownloadFormat::Ndjson] {
            let get = |s: Arc<dyn Sink>| {
                let r = StoreReader::open(s, store, &ReadOptions::new()).unwrap();
                let mut out = Vec::new();
                let report = download_store(&r, format, &DownloadOptions::new(), &mut out).unwrap();
                (out, report.rows)
            };
            let (from_hdfs, rows) = get(sink.clone());
            let (from_local, _) = get(local.clone());
            assert_eq!(rows, if store == "orders" { 50 } else { 10 });
            assert!(from_hdfs == from_local, "{store} as {format}: HDFS and local downloads differ");
        }
    }
    // Not committed on HDFS: refused, as locally.
    sink.remove_all("orders/_SUCCESS").unwrap();
    let err = StoreReader::open(sink, "orders", &ReadOptions::new()).unwrap_err().to_string();
    assert!(err.contains("not committed") && err.contains("hdfs://"), "{err}");
}
