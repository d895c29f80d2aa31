//! `idbsync serve` over loopback: a real server on 127.0.0.1 (an ephemeral port), a
//! temporary root and tokens file, and an HTTP client. Push, pull and retries; then what
//! each kind of bad request gets, and that it wrote nothing.

use reqwest::StatusCode;
use serde_json::{json, Value};
use server::{new_token, ServeOptions, Server};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    base: String,
    addr: SocketAddr,
    rw: String,
    ro: String,
    other: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<()>,
}

impl Fixture {
    async fn start(edit: impl FnOnce(&mut ServeOptions)) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let tokens = dir.path().join("tokens");
        let rw = new_token(&tokens, &["shop".into()], true, true).unwrap();
        let ro = new_token(&tokens, &["shop".into()], true, false).unwrap();
        let other = new_token(&tokens, &["other".into()], true, true).unwrap();
        let mut opts = ServeOptions::new(root.display().to_string(), "127.0.0.1:0".parse().unwrap());
        opts.tokens = Some(tokens);
        opts.spool = Some(dir.path().to_owned());
        edit(&mut opts);
        let server = Server::bind(&opts).await.unwrap();
        let addr = server.local_addr();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let done = tokio::spawn(server.run(async move {
            let _ = rx.await;
        }));
        Fixture { _dir: dir, root, base: format!("http://{addr}"), addr, rw, ro, other, stop: Some(tx), done }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(30), &mut self.done).await.unwrap().unwrap();
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap()
}

fn export(rows: &str) -> String {
    format!(
        r#"{{"formatName":"dexie","formatVersion":1,"data":{{"databaseName":"shop","databaseVersion":1,"tables":[{{"name":"items","schema":"id,name","rowCount":0}}],"data":[{{"tableName":"items","inbound":true,"rows":[{rows}]}}]}}}}"#
    )
}

async fn push(f: &Fixture, token: &str, body: String, idem: Option<&str>) -> (StatusCode, Value) {
    let mut req = client().post(f.url("/v1/shop/push")).bearer_auth(token).header("content-type", "application/json");
    if let Some(k) = idem {
        req = req.header("idempotency-key", k);
    }
    let res = req.body(body).send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap())
}

fn table(v: &Value, name: &str) -> Value {
    v["tables"].as_array().unwrap().iter().find(|t| t["table"] == name).cloned().unwrap_or(Value::Null)
}

/// Asserts an error answer: its status, code, and that it names no server path.
async fn assert_error(res: reqwest::Response, status: StatusCode, code: &str, f: &Fixture) -> String {
    assert_eq!(res.status(), status);
    let text = res.text().await.unwrap();
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    assert_eq!(v["error"], code, "{text}");
    let detail = v["detail"].as_str().unwrap().to_owned();
    assert!(!detail.is_empty());
    let root = f.root.display().to_string();
    let parent = f.root.parent().unwrap().display().to_string();
    assert!(!text.contains(&root) && !text.contains(&parent), "a server path leaks: {text}");
    for t in [&f.rw, &f.ro, &f.other] {
        assert!(!text.contains(t.as_str()), "a token leaks: {text}");
    }
    detail
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_pull_and_retries_round_trip() {
    let f = Fixture::start(|_| {}).await;
    let c = client();
    // A first batch: three records, one with a Date.
    let rows = r#"{"id":1,"name":"pen","at":0,"$types":{"at":"date"}},{"id":2,"name":"ink"},{"id":3,"name":"pad"}"#;
    let (s, v) = push(&f, &f.rw, export(rows), Some("tab-1/1")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let t = table(&v, "items");
    assert_eq!(
        (t["read"].as_u64(), t["upserted"].as_u64(), t["status"].as_str()),
        (Some(3), Some(3), Some("committed"))
    );
    assert!(t.get("location").is_none(), "the table's location stays on the server: {t}");
    let first = t["checkpoint"].as_i64().unwrap();

    // The same batch again (its answer was lost): the first answer, nothing applied.
    let (s, again) = push(&f, &f.rw, export(rows), Some("tab-1/1")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again["replayed"], true, "{again}");
    assert_eq!(table(&again, "items")["checkpoint"].as_i64(), Some(first));

    // Batch 2: an update and a delete, gzip-compressed.
    let rows2 = r#"{"id":2,"name":"ink, blue"},{"id":3,"_deleted":true}"#;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(export(rows2).as_bytes()).unwrap();
    let res = c
        .post(f.url("/v1/shop/push"))
        .bearer_auth(&f.rw)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .header("idempotency-key", "tab-1/2")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    let t = table(&v, "items");
    assert_eq!((t["upserted"].as_u64(), t["deleted"].as_u64()), (Some(1), Some(1)), "{t}");
    let second = t["checkpoint"].as_i64().unwrap();
    assert!(second > first);

    // An older batch is refused.
    let (s, v) = push(&f, &f.rw, export(rows), Some("tab-1/1")).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"], "batch_refused");

    // Pull since the first checkpoint: the update, and the delete.
    let res = c
        .get(f.url(&format!("/v1/shop/pull?table=items&since={first}&format=ndjson")))
        .bearer_auth(&f.ro)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["idbsync-checkpoint"].to_str().unwrap(), second.to_string());
    let text = res.text().await.unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(lines.contains(&json!({"id": 2, "name": "ink, blue"})), "{text}");
    assert!(lines.iter().any(|l| l["_deleted"] == true && l["id"] == 3), "{text}");
    assert_eq!(lines.last().unwrap(), &json!({"_checkpoint": second}));

    // The whole table as a Dexie export, with the sidecar inside.
    let res = c.get(f.url("/v1/shop/pull?table=items&format=dexie")).bearer_auth(&f.ro).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["formatName"], "dexie");
    assert_eq!(v["idbsync"]["checkpoint"].as_i64(), Some(second));
    let rows = &v["data"]["data"][0]["rows"];
    assert_eq!(rows.as_array().unwrap().len(), 2, "{v}");
    // In file order: the row that has the Date is either.
    assert!(rows.as_array().unwrap().iter().any(|r| r["$types"]["at"] == "date"), "{rows}");

    // Tables, and a preview query (read-only).
    let res = c.get(f.url("/v1/shop/tables")).bearer_auth(&f.ro).send().await.unwrap();
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["tables"][0]["name"], "items");
    assert_eq!(v["tables"][0]["kind"], "delta");
    assert_eq!(v["tables"][0]["checkpoint"].as_i64(), Some(second));

    let m = c.get(f.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(m.contains("idbsync_rows_upserted_total 4"), "{m}");
    assert!(m.contains("idbsync_rows_deleted_total 1"), "{m}");
    assert!(m.contains("idbsync_conflicts_total 1"), "{m}");
    assert!(m.contains("route=\"/v1/{database}/push\",status=\"200\"} 3"), "{m}");
    assert_eq!(c.get(f.url("/healthz")).send().await.unwrap().text().await.unwrap(), "ok\n");
    f.stop().await;
}

fn table_dir(f: &Fixture, db: &str, t: &str) -> PathBuf {
    f.root.join(db).join(t)
}

fn nothing_written(f: &Fixture) -> bool {
    !f.root.join("shop").join("items").join("_delta_log").exists() && !f.root.join("other").exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_their_status_and_write_nothing() {
    let f = Fixture::start(|o| {
        o.max_body = 4096;
        o.body_timeout = Duration::from_secs(1);
    })
    .await;
    let c = client();
    let body = export(r#"{"id":1,"name":"pen"}"#);
    let post = |path: &str| c.post(f.url(path)).header("content-type", "application/json").body(body.clone());

    let d =
        assert_error(post("/v1/shop/push").send().await.unwrap(), StatusCode::UNAUTHORIZED, "unauthorized", &f).await;
    assert!(d.contains("Bearer"), "{d}");
    let res = post("/v1/shop/push").bearer_auth("idb_0000").send().await.unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthorized", &f).await;
    let res = post("/v1/shop/push").header("authorization", "Basic eDp5").send().await.unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthorized", &f).await;
    let res = post("/v1/shop/push").bearer_auth(&f.other).send().await.unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "forbidden", &f).await;
    let res = post("/v1/shop/push").bearer_auth(&f.ro).send().await.unwrap();
    let d = assert_error(res, StatusCode::FORBIDDEN, "forbidden", &f).await;
    assert!(d.contains("may not write"), "{d}");
    let res = c.get(f.url("/v1/shop/tables")).send().await.unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthorized", &f).await;

    // Names: traversal, hidden, reserved.
    for path in ["/v1/..%2Fetc/push", "/v1/.hidden/push", "/v1/_delta_log/push", "/v1/a%20b/push"] {
        let res = post(path).bearer_auth(&f.rw).send().await.unwrap();
        assert_error(res, StatusCode::BAD_REQUEST, "bad_name", &f).await;
    }
    for t in ["..%2Fx", "_rejects", "a%2Fb"] {
        let res = c.get(f.url(&format!("/v1/shop/pull?table={t}"))).bearer_auth(&f.rw).send().await.unwrap();
        assert_error(res, StatusCode::BAD_REQUEST, "bad_name", &f).await;
    }
    let res = c.get(f.url("/v1/shop/pull?table=items")).bearer_auth(&f.rw).send().await.unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "no_table", &f).await;

    // Too large, declared or streamed; malformed; an encoding not spoken.
    let big = export(&format!(r#"{{"id":1,"name":"{}"}}"#, "x".repeat(8000)));
    let res = c.post(f.url("/v1/shop/push")).bearer_auth(&f.rw).body(big.clone()).send().await.unwrap();
    assert_error(res, StatusCode::PAYLOAD_TOO_LARGE, "too_large", &f).await;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(big.as_bytes()).unwrap();
    let res = c
        .post(f.url("/v1/shop/push"))
        .bearer_auth(&f.rw)
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::PAYLOAD_TOO_LARGE, "too_large", &f).await;
    let res = post("/v1/shop/push").bearer_auth(&f.rw).header("content-encoding", "br").send().await.unwrap();
    assert_error(res, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_encoding", &f).await;
    let res =
        c.post(f.url("/v1/shop/push")).bearer_auth(&f.rw).body("{\"formatName\":\"dexie\",").send().await.unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "bad_body", &f).await;
    let res = c
        .post(f.url("/v1/shop/push"))
        .bearer_auth(&f.rw)
        .header("content-type", "application/x-ndjson")
        .body("{\"id\":1}\n")
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "bad_request", &f).await;
    let res = post("/v1/shop/push").bearer_auth(&f.rw).header("idempotency-key", "x").send().await.unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "bad_request", &f).await;
    assert!(nothing_written(&f), "a refused request wrote a table");

    // A write statement in a query.
    let res = c
        .post(f.url("/v1/shop/query"))
        .bearer_auth(&f.rw)
        .json(&json!({"sql": "CREATE TABLE x AS SELECT 1", "limit": 5}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::FORBIDDEN, "read_only", &f).await;
    let res =
        c.post(f.url("/v1/shop/query")).bearer_auth(&f.rw).json(&json!({"sql": "SELECT 1"})).send().await.unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "no_table", &f).await;

    // A slow client: headers, then a body that stops coming.
    let mut s = tokio::net::TcpStream::connect(f.addr).await.unwrap();
    let head = format!(
        "POST /v1/shop/push HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{{\"formatName\"",
        f.rw
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut answer))
        .await
        .expect("the server answers")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"timeout\""), "{answer}");
    assert!(nothing_written(&f), "a refused request wrote a table");
    assert!(!table_dir(&f, "shop", "items").join("_delta_log").exists());
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_reads_only_when_asked() {
    let f = Fixture::start(|o| o.allow_anonymous_read = true).await;
    let c = client();
    let (s, _) = push(&f, &f.rw, export(r#"{"id":1,"name":"pen"}"#), None).await;
    assert_eq!(s, StatusCode::OK);
    let res = c.get(f.url("/v1/shop/pull?table=items")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = c.post(f.url("/v1/shop/push")).body(export(r#"{"id":2}"#)).send().await.unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthorized", &f).await;
    f.stop().await;
}

fn self_signed(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let ok = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?
        .success();
    ok.then_some((cert, key))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_http2() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path()).expect("openssl makes a test certificate");
    let pem = std::fs::read(&cert).unwrap();
    let f = Fixture::start(|o| o.tls = Some((cert, key))).await;
    let c =
        reqwest::Client::builder().add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap()).build().unwrap();
    let res = c.get(format!("https://localhost:{}/healthz", f.addr.port())).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.version(), reqwest::Version::HTTP_2, "ALPN gives HTTP/2");
    // Clear text on the TLS port gets nothing.
    assert!(client().get(f.url("/healthz")).send().await.is_err());
    f.stop().await;
}

/// The spool folders of this server's kind under `spool`.
fn serve_dirs(spool: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(spool)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("idbsync-serve-"))
        .collect();
    v.sort();
    v
}

/// A spool folder that a server killed with -9 left (its lock released by the kernel, a
/// body still in it) is removed when a server starts on the same spool folder; the folder
/// of a server still running there is left alone, and that server keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_servers_spool_is_removed_at_start_and_a_running_ones_kept() {
    let a = Fixture::start(|_| {}).await;
    let spool = a.root.parent().unwrap().to_owned();
    let live = serve_dirs(&spool);
    assert_eq!(live.len(), 1, "{live:?}");
    let dead = spool.join("idbsync-serve-4194304-x1y2z3");
    std::fs::create_dir_all(dead.join("idbsync-push-abc")).unwrap();
    std::fs::write(dead.join("lock"), b"").unwrap();
    std::fs::write(dead.join("idbsync-push-abc/body.json"), export(r#"{"id":1}"#)).unwrap();

    let b = Fixture::start(|o| o.spool = Some(spool.clone())).await;
    assert!(!dead.exists(), "the killed server's spool is gone");
    let now = serve_dirs(&spool);
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(now.contains(&live[0]), "the running server's spool is kept: {now:?}");
    let (status, v) = push(&a, &a.rw, export(r#"{"id":1,"name":"a"}"#), Some("phone/1")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = push(&b, &b.rw, export(r#"{"id":2,"name":"b"}"#), Some("phone/1")).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    b.stop().await;
    assert_eq!(serve_dirs(&spool), live, "a stopped server removes its spool folder");
    a.stop().await;
}
