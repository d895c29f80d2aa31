"""Spark reads what idbsync wrote, on HDFS (issue 17).

`idbsync push` keeps one Delta table per store; the point of Delta is that other engines
read those tables as they are. This module starts the project's test HDFS (Hadoop's
MiniDFSCluster, scripts/minidfs.sh), pushes seeded batches with the idbsync binary
($IDBSYNC_BIN) to hdfs://127.0.0.1:PORT/..., and has two independent readers read the
tables straight from the cluster:

* PySpark with delta-spark (jars from Maven Central, testdata/spark/pom.xml, passed as
  spark.jars): rows, row count and a group-by equal to the model (the pushed records,
  applied in Python) and to `idbsync pull` of the whole table; `DESCRIBE HISTORY` lists one
  commit per push (after delta-rs' CREATE TABLE at version 0) with the operation MERGE (a
  table's first push, streamed into the new table, WRITE, unless it gave way to a merge); the change data feed (`readChangeFeed`, `startingVersion`) has, for every version,
  exactly the inserts, updates and deletes the model expects, and from a checkpoint on it
  agrees with `idbsync pull --since`.
* The Python `deltalake` package (delta-rs; its PyPI wheels read hdfs:// through
  hdfs-native): rows, a group-by in its SQL (QueryBuilder), the deletes in `load_cdf`, the
  idbsync commit info in `history()` and the batch ids as application transactions.

The batches: two stores, `people` (key `id`, NDJSON) and `visits` (compound key
`[user+day]`, a `{store: [records]}` dump); two clients (`phone`, `laptop`) with their own
batch numbers; inserts, updates, unchanged records, deletes (`"_deleted": true`, also of
keys that are not there), a key changed twice in one batch, a field that later batches add
(a new column), a batch pushed twice (applied once), and a `--mirror` push.

Nothing is skipped: without HDFS, Java, Maven or Spark the tests fail. Outside CI,
IDBSYNC_SKIP_HDFS=1 skips the module (as it skips the Rust HDFS tests); under CI=true that
is refused.
"""

from __future__ import annotations

import collections
import glob
import json
import os
import random
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

REPO = Path(__file__).resolve().parents[2]
SPARK_POM = REPO / "testdata" / "spark" / "pom.xml"
JARS_DIR = REPO / "testdata" / "spark" / "target" / "jars"
IN_CI = os.environ.get("CI") in ("true", "1")
HIDDEN = ("_idb_key", "_idb_hash", "_idb_client", "_idb_batch", "_idb_updated_at")
CDF_COLUMNS = ("_change_type", "_commit_version", "_commit_timestamp")
READY_TIMEOUT = 180  # seconds for the MiniDFSCluster to come up
SEED = int(os.environ.get("INTEROP_SEED", "17"))

if os.environ.get("IDBSYNC_SKIP_HDFS") == "1":
    if IN_CI:
        raise RuntimeError("IDBSYNC_SKIP_HDFS=1 is not allowed under CI: the HDFS read-back must run")
    pytest.skip("IDBSYNC_SKIP_HDFS=1", allow_module_level=True)

WORDS = ["ada", "bob", "cy", "dee", "eve", "fay", "gus", "hal", "ivy", "jo", "kai", "lu"]
TEAMS = ["red", "green", "blue", "gold"]
CITIES = ["Austin", "Berlin", "Cairo", "Delhi", "Oslo"]
USERS = [f"u{i:02}" for i in range(1, 11)]
DAYS = [f"2026-03-{d:02}" for d in range(1, 13)]


# ---------------------------------------------------------------------------------------
# The model: what each table must hold after the pushes, computed from the records alone.


@dataclass
class Push:
    """One `idbsync push` and what the model expects of it."""

    client: str
    batch: int
    records: list[dict]
    mirror: bool = False
    #: set after the push: the --json report of its table
    report: dict = field(default_factory=dict)
    #: expected changes (keys), from the model's state before the push
    inserted: set = field(default_factory=set)
    updated: set = field(default_factory=set)
    deleted: set = field(default_factory=set)
    #: the rows the deletes removed and the updates replaced, as they were before
    before: dict = field(default_factory=dict)
    repeat: bool = False


@dataclass
class Table:
    """A synced table: its key, its pushes in order and the model's current state."""

    name: str
    key: str  # the key path given to push --key
    key_of: Callable[[dict], Any]
    fmt: str  # push input format: ndjson or stores
    pushes: list[Push] = field(default_factory=list)
    state: dict = field(default_factory=dict)  # key -> record
    writer: dict = field(default_factory=dict)  # key -> (client, batch) of the last write
    #: state after each checkpoint (table version)
    states: dict = field(default_factory=dict)
    pulled: list[dict] = field(default_factory=list)  # `idbsync pull` of the whole table

    def apply(self, push: Push) -> None:
        """Applies a push to the model (last record of a key wins; `_deleted` deletes)."""
        last: dict = {}
        for r in push.records:
            k = self.key_of(r)
            last.pop(k, None)  # keep input order of the last occurrence
            last[k] = r
        if push.mirror:
            for k in set(self.state) - set(last):
                push.deleted.add(k)
        for k, r in last.items():
            if r.get("_deleted"):
                if k in self.state:
                    push.deleted.add(k)
            elif k not in self.state:
                push.inserted.add(k)
            elif self.state[k] != r:
                push.updated.add(k)
        for k in push.deleted | push.updated:
            push.before[k] = self.state[k]
        for k in push.deleted:
            del self.state[k]
            del self.writer[k]
        for k in push.inserted | push.updated:
            self.state[k] = last[k]
            self.writer[k] = (push.client, push.batch)

    def committed(self) -> list[Push]:
        return [p for p in self.pushes if not p.repeat]


def person(rng: random.Random, i: int, city: bool) -> dict:
    r = {
        "id": i,
        "name": f"{rng.choice(WORDS)}-{i}",
        "team": rng.choice(TEAMS),
        "n": rng.randint(-500, 5000),
        "score": rng.randint(0, 99_999) + 0.5,  # never integral: stays a double
        "active": rng.random() < 0.5,
        "tags": rng.sample(WORDS, rng.randint(0, 3)),
        "meta": {"rank": rng.randint(1, 9), "label": rng.choice(WORDS)},
    }
    if city and rng.random() < 0.7:
        r["city"] = rng.choice(CITIES)  # the new column, from phone's batch 2 on
    return r


def visit(rng: random.Random, user: str, day: str, note: bool) -> dict:
    r = {"user": user, "day": day, "c": rng.randint(0, 50), "minutes": rng.randint(1, 600) + 0.25}
    if note:
        r["note"] = rng.choice(WORDS) + " " + rng.choice(WORDS)
    return r


def people_batches(rng: random.Random, table: Table):
    """The pushes of `people`, each made from the model's state at its turn (a generator:
    the caller applies each push before asking for the next)."""
    yield Push("phone", 1, [person(rng, i, False) for i in range(1, 151)])

    keys = sorted(table.state)
    recs = [person(rng, i, False) for i in range(151, 201)]
    recs += [person(rng, k, False) for k in rng.sample(keys, 25)]
    recs += [{"id": k, "_deleted": True} for k in rng.sample(keys, 10)]
    rng.shuffle(recs)
    yield Push("laptop", 1, recs)

    keys = sorted(table.state)
    picked = rng.sample(keys, 55)
    upd, dele, same, twice = picked[:30], picked[30:45], picked[45:50], picked[50:]
    recs = [person(rng, k, True) for k in upd]
    recs += [{"id": k, "_deleted": True} for k in dele]
    recs += [dict(table.state[k]) for k in same]  # equal to the row: unchanged
    recs += [{"id": k, "_deleted": True} for k in (9001, 9002, 9003)]  # not there
    recs += [person(rng, i, True) for i in range(201, 221)]
    rng.shuffle(recs)
    # changed twice in the batch: the last record wins
    recs += [person(rng, twice[0], True), {"id": twice[0], "_deleted": True}]
    recs += [{"id": twice[1], "_deleted": True}, person(rng, twice[1], True)]
    recs += [{"id": 221, "_deleted": True}, person(rng, 221, True)]
    yield Push("phone", 2, recs)

    keys = sorted(table.state)
    picked = rng.sample(keys, 30)
    recs = [person(rng, k, True) for k in picked[:20]]
    recs += [{"id": k, "_deleted": True} for k in picked[20:]]
    recs += [person(rng, i, True) for i in range(222, 242)]
    rng.shuffle(recs)
    push = Push("laptop", 2, recs)
    yield push
    yield Push("laptop", 2, push.records, repeat=True)  # the same batch again: applies nothing

    keys = sorted(table.state)
    picked = rng.sample(keys, 30)
    recs = [{"id": k, "_deleted": True} for k in picked[:20]]
    recs += [person(rng, k, True) for k in picked[20:]]
    yield Push("phone", 3, recs)


def visits_batches(rng: random.Random, table: Table):
    pairs = [(u, d) for u in USERS for d in DAYS]
    rng.shuffle(pairs)
    yield Push("phone", 1, [visit(rng, u, d, False) for u, d in pairs[:60]])

    keys = sorted(table.state)
    picked = rng.sample(keys, 23)
    recs = [visit(rng, u, d, True) for u, d in picked[:15]]  # adds the column `note`
    recs += [{"user": u, "day": d, "_deleted": True} for u, d in picked[15:]]
    recs += [visit(rng, u, d, rng.random() < 0.5) for u, d in pairs[60:70]]
    rng.shuffle(recs)
    yield Push("laptop", 1, recs)

    # --mirror: the input is the whole store; the 10 keys it lacks are deleted
    keys = sorted(table.state)
    kept = rng.sample(keys, len(keys) - 10)
    recs = [dict(table.state[k]) for k in kept]
    for r in rng.sample(recs, 5):
        r["c"] += 1
    recs += [visit(rng, u, d, True) for u, d in pairs[70:75]]
    yield Push("phone", 2, recs, mirror=True)


# ---------------------------------------------------------------------------------------
# Fixtures: the binary, the cluster, the pushes, the Spark session.


@pytest.fixture(scope="module")
def idbsync_bin() -> Path:
    p = Path(os.environ.get("IDBSYNC_BIN", "target/debug/idbsync"))
    if not p.is_absolute():
        p = REPO / p
    if not (p.is_file() and os.access(p, os.X_OK)):
        pytest.fail(
            f"idbsync binary not found at {p} (from $IDBSYNC_BIN or the default target/debug/idbsync): "
            "build it with `cargo build -p idbsync`, or set IDBSYNC_BIN",
            pytrace=False,
        )
    return p


@pytest.fixture(scope="module")
def hdfs(tmp_path_factory) -> str:
    """A MiniDFSCluster (scripts/minidfs.sh start): its hdfs://127.0.0.1:PORT URL. It stops
    when its stdin closes, at the end of the module (or when this process dies)."""
    base = tmp_path_factory.mktemp("minidfs") / "cluster"
    log = Path(f"{base}.log")  # minidfs.sh keeps the launcher's stderr there
    proc = subprocess.Popen(
        [str(REPO / "scripts" / "minidfs.sh"), "start", str(base)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    deadline = time.monotonic() + READY_TIMEOUT
    url = None
    while time.monotonic() < deadline and proc.poll() is None:
        ready = [ln for ln in list(lines) if ln.startswith("READY ")]
        if ready:
            url = ready[0].split()[1]
            break
        time.sleep(0.2)
    if url is None:
        proc.kill()
        proc.wait()
        tail = log.read_text(errors="replace")[-4000:] if log.exists() else "(no log)"
        pytest.fail(
            f"the test HDFS did not start within {READY_TIMEOUT} s (exit {proc.returncode}); "
            f"launcher log {log}:\n{tail}",
            pytrace=False,
        )
    yield url
    proc.stdin.close()  # end of stdin: the launcher shuts the cluster down and deletes its data
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    if p.returncode != 0:
        raise AssertionError(f"`{' '.join(cmd)}` exited {p.returncode}\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}")
    return p


def read_pull(path: Path) -> tuple[list[dict], list[dict], int]:
    """An ndjson pull: (records to upsert, deleted keys' lines, checkpoint)."""
    lines = [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]
    assert lines and set(lines[-1]) == {"_checkpoint"}, lines[-1:]
    body = lines[:-1]
    return [r for r in body if not r.get("_deleted")], [r for r in body if r.get("_deleted")], lines[-1]["_checkpoint"]


@dataclass
class Synced:
    root: str  # hdfs://127.0.0.1:PORT/idbsync-interop
    tables: dict[str, Table]
    pull: Callable[..., tuple[list[dict], list[dict], int]]

    def url(self, table: str) -> str:
        return f"{self.root}/{table}"


@pytest.fixture(scope="module")
def synced(idbsync_bin: Path, hdfs: str, tmp_path_factory) -> Synced:
    """Pushes every batch of both tables to the cluster with the binary, checking each
    push's report against the model, then pulls each whole table (ndjson)."""
    work = tmp_path_factory.mktemp("pushes")
    root = f"{hdfs}/idbsync-interop"
    rng = random.Random(SEED)
    tables = {
        "people": Table("people", "id", lambda r: r["id"], "ndjson"),
        "visits": Table("visits", "[user+day]", lambda r: (r["user"], r["day"]), "stores"),
    }
    plans = {"people": people_batches(rng, tables["people"]), "visits": visits_batches(rng, tables["visits"])}
    version = {name: 0 for name in tables}
    for name, plan in plans.items():
        t = tables[name]
        for i, push in enumerate(plan):
            if t.fmt == "ndjson":
                src = work / f"{name}-{i}.ndjson"
                src.write_text("".join(json.dumps(r) + "\n" for r in push.records))
                fmt = ["--store", name]
            else:
                src = work / f"{name}-{i}.json"
                src.write_text(json.dumps({name: push.records}))
                fmt = ["--format", "stores"]
            cmd = [str(idbsync_bin), "push", str(src), root, *fmt, "--key", t.key]
            cmd += ["--client", push.client, "--batch", str(push.batch), "--json", "-q"]
            if push.mirror:
                cmd.append("--mirror")
            report = json.loads(run(cmd).stdout)
            [push.report] = report["tables"]
            if not push.repeat:
                t.apply(push)
                # the first push creates the table (version 0, CREATE TABLE) and writes (1)
                version[name] = 1 if push.report["created"] else version[name] + 1
            t.pushes.append(push)
            r = push.report
            where = f"{name} push {i} ({push.client} batch {push.batch})"
            assert r["checkpoint"] == version[name], where
            if push.repeat:
                assert r["status"] == "already_applied", where
                assert (r["upserted"], r["deleted"]) == (0, 0), where
                continue
            assert r["status"] == "committed", where
            assert r["rejected"] == 0, (where, r["rejects"])
            assert r["upserted"] == len(push.inserted) + len(push.updated), where
            deleted = r["mirror_deleted"] + r["deleted"] if push.mirror else r["deleted"]
            assert deleted == len(push.deleted), where
            t.states[r["checkpoint"]] = dict(t.state)

    def pull(table: str, *args: str) -> tuple[list[dict], list[dict], int]:
        out = work / f"pull-{table}-{'-'.join(args) or 'all'}.ndjson"
        run([str(idbsync_bin), "pull", root, "--table", table, "--format", "ndjson", "--to", str(out), "-q", *args])
        return read_pull(out)

    for name, t in tables.items():
        t.pulled, deleted, checkpoint = pull(name)
        assert deleted == [] and checkpoint == max(t.states), name
    return Synced(root, tables, pull)


def spark_jars() -> list[str]:
    """delta-spark and delta-storage from Maven Central (testdata/spark/pom.xml); scripts/test.sh
    copies them first, and so does this when they are missing."""
    jars = sorted(glob.glob(str(JARS_DIR / "*.jar")))
    if len(jars) < 2:
        if shutil.which("mvn") is None:
            pytest.fail("mvn not found: Maven fetches the delta-spark jars (testdata/spark/pom.xml)", pytrace=False)
        run(["mvn", "-B", "-q", "-f", str(SPARK_POM), "dependency:copy-dependencies"])
        jars = sorted(glob.glob(str(JARS_DIR / "*.jar")))
    names = sorted(Path(j).name for j in jars)
    # exactly one of each: jars of another Delta version left in the folder would mix
    assert len(names) == 2 and names[0].startswith("delta-spark_") and names[1].startswith("delta-storage-"), (
        f"expected delta-spark and delta-storage in {JARS_DIR}, found {names}: remove the folder and run "
        f"`mvn -f {SPARK_POM.relative_to(REPO)} dependency:copy-dependencies`"
    )
    return jars


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    """One local Spark session with Delta for the whole module."""
    from pyspark.sql import SparkSession

    jars = spark_jars()
    tmp = tmp_path_factory.mktemp("spark")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("idbsync-delta-interop")
        # Spark's own download (spark.jars.packages, Ivy) is not used: Maven fetched the jars.
        .config("spark.jars", ",".join(jars))
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.warehouse.dir", str(tmp / "warehouse"))
        .config("spark.local.dir", str(tmp / "local"))
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.databricks.delta.snapshotPartitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


# ---------------------------------------------------------------------------------------
# Comparison helpers.


def plain(record: dict) -> dict:
    """A record as a reader's row compares with it: without idbsync's hidden columns, the
    change feed's columns and absent values (a column a row never had reads as null)."""
    return {k: v for k, v in record.items() if k not in HIDDEN and k not in CDF_COLUMNS and v is not None}


def spark_dicts(rows) -> list[dict]:
    return [row.asDict(recursive=True) for row in rows]


def arro3_dicts(table) -> list[dict]:
    cols = {name: table[name].to_pylist() for name in table.column_names}
    return [dict(zip(cols, values)) for values in zip(*cols.values())] if cols else []


def by_key(t: Table, records) -> dict:
    out = {}
    for r in records:
        k = t.key_of(r)
        assert k not in out, f"{t.name}: key {k!r} twice"
        out[k] = plain(r)
    return out


GROUP_BY = {
    # table -> (SQL over the table named t, the same computed in Python from records)
    "people": (
        "SELECT team, count(*) AS num, sum(n) AS n, min(score) AS lo, max(score) AS hi,"
        " count(city) AS with_city, sum(CASE WHEN active THEN 1 ELSE 0 END) AS active"
        " FROM t GROUP BY team",
        lambda rs: [
            {
                "team": team,
                "num": len(g),
                "n": sum(r["n"] for r in g),
                "lo": min(r["score"] for r in g),
                "hi": max(r["score"] for r in g),
                "with_city": sum(1 for r in g if r.get("city") is not None),
                "active": sum(1 for r in g if r["active"]),
            }
            for team, g in groupby(rs, "team").items()
        ],
    ),
    "visits": (
        "SELECT user, count(*) AS num, sum(c) AS c, max(minutes) AS longest, count(note) AS notes FROM t GROUP BY user",
        lambda rs: [
            {
                "user": user,
                "num": len(g),
                "c": sum(r["c"] for r in g),
                "longest": max(r["minutes"] for r in g),
                "notes": sum(1 for r in g if r.get("note") is not None),
            }
            for user, g in groupby(rs, "user").items()
        ],
    ),
}


def groupby(records, column: str) -> dict:
    groups = collections.defaultdict(list)
    for r in records:
        groups[r[column]].append(r)
    return groups


def sorted_groups(groups: list[dict]) -> list[dict]:
    return sorted(groups, key=lambda g: json.dumps(g, sort_keys=True))


def expected_changes(t: Table) -> dict[int, dict[str, set]]:
    """Table version -> change type -> keys, as the change data feed must show them."""
    out = {}
    for p in t.committed():
        out[p.report["checkpoint"]] = {
            "insert": set(p.inserted),
            "update_preimage": set(p.updated),
            "update_postimage": set(p.updated),
            "delete": set(p.deleted),
        }
    return out


def feed_changes(t: Table, rows: list[dict]) -> dict[int, dict[str, set]]:
    out: dict[int, dict[str, set]] = {}
    for r in rows:
        kinds = out.setdefault(r["_commit_version"], {k: set() for k in ("insert", "update_preimage", "update_postimage", "delete")})
        key = t.key_of(r)
        assert key not in kinds[r["_change_type"]], f"{t.name}: {r['_change_type']} of {key!r} twice in version {r['_commit_version']}"
        kinds[r["_change_type"]].add(key)
    return out


def net_since(t: Table, rows: list[dict], since: int) -> tuple[dict, set]:
    """What changed after version `since` according to the change feed rows: the latest
    state of each key whose last change is an upsert, and the keys whose last change is a
    delete."""
    last: dict = {}
    order = {"update_preimage": 0, "delete": 1, "insert": 2, "update_postimage": 2}
    for r in sorted(rows, key=lambda r: (r["_commit_version"], order[r["_change_type"]])):
        if r["_commit_version"] <= since or r["_change_type"] == "update_preimage":
            continue
        last[t.key_of(r)] = r
    upserts = {k: plain(r) for k, r in last.items() if r["_change_type"] != "delete"}
    deletes = {k for k, r in last.items() if r["_change_type"] == "delete"}
    return upserts, deletes


TABLES = ["people", "visits"]


# ---------------------------------------------------------------------------------------
# idbsync's own view first, so that a reader's mismatch is not the model's.


@pytest.mark.parametrize("name", TABLES)
def test_pull_equals_model(synced: Synced, name: str):
    t = synced.tables[name]
    assert {t.key_of(r): r for r in t.pulled} == t.state
    assert len(t.pulled) == len(t.state) > 50


# ---------------------------------------------------------------------------------------
# PySpark + delta-spark, by hdfs:// URL.


@pytest.mark.parametrize("name", TABLES)
def test_spark_reads_rows(spark, synced: Synced, name: str):
    t = synced.tables[name]
    df = spark.read.format("delta").load(synced.url(name))
    assert df.count() == len(t.state) == len(t.pulled)
    rows = spark_dicts(df.collect())
    assert by_key(t, rows) == {k: plain(r) for k, r in t.state.items()}
    assert by_key(t, rows) == by_key(t, t.pulled)
    # who wrote each row: the hidden columns name the client and batch of its last write
    assert {t.key_of(r): (r["_idb_client"], r["_idb_batch"]) for r in rows} == t.writer


def test_spark_schema_has_the_new_columns(spark, synced: Synced):
    people = spark.read.format("delta").load(synced.url("people")).schema
    types = {f.name: f.dataType.simpleString() for f in people.fields}
    assert types == {
        "id": "bigint",
        "name": "string",
        "team": "string",
        "n": "bigint",
        "score": "double",
        "active": "boolean",
        "tags": "array<string>",
        "meta": "struct<rank:bigint,label:string>",
        "city": "string",  # added by phone's batch 2
        "_idb_key": "string",
        "_idb_hash": "string",
        "_idb_client": "string",
        "_idb_batch": "bigint",
        "_idb_updated_at": "timestamp",
    }
    visits = spark.read.format("delta").load(synced.url("visits")).schema
    assert [f.name for f in visits.fields if not f.name.startswith("_idb_")] == ["user", "day", "c", "minutes", "note"]


@pytest.mark.parametrize("name", TABLES)
def test_spark_group_by(spark, synced: Synced, name: str):
    t = synced.tables[name]
    sql, model = GROUP_BY[name]
    spark.read.format("delta").load(synced.url(name)).createOrReplaceTempView("t")
    got = sorted_groups(spark_dicts(spark.sql(sql).collect()))
    assert got == sorted_groups(model(list(t.state.values())))
    assert got == sorted_groups(model(t.pulled))


@pytest.mark.parametrize("name", TABLES)
def test_idbsync_query_agrees_with_spark(spark, idbsync_bin: Path, synced: Synced, name: str):
    """idbsync's own SQL over the same hdfs:// table gives Spark's group-by and Spark's count
    of commits in `idbsync history`."""
    sql, _ = GROUP_BY[name]
    spark.read.format("delta").load(synced.url(name)).createOrReplaceTempView("t")
    want = sorted_groups(spark_dicts(spark.sql(sql).collect()))
    ours = run([str(idbsync_bin), "query", synced.root, sql.replace(" FROM t ", f" FROM {name} "), "--format", "json"])
    assert sorted_groups(json.loads(ours.stdout)) == want
    history = run([str(idbsync_bin), "history", synced.root, "--table", name, "--json"])
    spark_history = spark.sql(f"DESCRIBE HISTORY delta.`{synced.url(name)}`").collect()
    assert [c["version"] for c in json.loads(history.stdout)] == sorted((r["version"] for r in spark_history), reverse=True)


def push_op(t: Table, p: Push) -> str:
    """The Delta operation of push `p`'s commit to `t`: a MERGE, but the WRITE of a first
    push streamed into the table it created (it gives way to a MERGE when a key is twice
    in its records)."""
    keys = [t.key_of(r) for r in p.records]
    return "WRITE" if p.report["created"] and len(set(keys)) == len(keys) else "MERGE"


@pytest.mark.parametrize("name", TABLES)
def test_spark_history_lists_each_push(spark, synced: Synced, name: str):
    t = synced.tables[name]
    history = spark.sql(f"DESCRIBE HISTORY delta.`{synced.url(name)}`").select("version", "operation").collect()
    ops = {r["version"]: r["operation"] for r in history}
    commits = t.committed()  # the repeated batch committed nothing
    # delta-rs creates the table (version 0), then each push is one commit: a MERGE, or for
    # the push that created the table, the WRITE (append) of its streamed rows (a MERGE when
    # it gave way to one: a key twice in its batch, another writer first).
    assert len(history) == 1 + len(commits)
    assert ops[0] == "CREATE TABLE"
    assert sorted(ops) == [0] + [p.report["checkpoint"] for p in commits]
    assert all(ops[p.report["checkpoint"]] == push_op(t, p) for p in commits), ops


@pytest.mark.parametrize("name", TABLES)
def test_spark_change_feed(spark, synced: Synced, name: str):
    t = synced.tables[name]
    feed = (
        spark.read.format("delta")
        .option("readChangeFeed", "true")
        .option("startingVersion", 0)
        .load(synced.url(name))
    )
    rows = spark_dicts(feed.collect())
    assert feed_changes(t, rows) == expected_changes(t)
    # a delete carries the row as it was
    for p in t.committed():
        v = p.report["checkpoint"]
        gone = {t.key_of(r): plain(r) for r in rows if r["_commit_version"] == v and r["_change_type"] == "delete"}
        assert gone == {k: plain(p.before[k]) for k in p.deleted}, (p.client, p.batch)
    assert sum(len(p.deleted) for p in t.committed()) >= 10


@pytest.mark.parametrize("name", TABLES)
def test_spark_change_feed_since_agrees_with_pull_since(spark, synced: Synced, name: str):
    t = synced.tables[name]
    since = t.committed()[1].report["checkpoint"]  # after the second push
    feed = (
        spark.read.format("delta")
        .option("readChangeFeed", "true")
        .option("startingVersion", since + 1)
        .load(synced.url(name))
    )
    rows = spark_dicts(feed.collect())
    assert min(r["_commit_version"] for r in rows) == since + 1
    upserts, deletes = net_since(t, rows, since)
    pulled, pulled_deleted, checkpoint = synced.pull(name, "--since", str(since))
    assert checkpoint == max(t.states)
    assert upserts == by_key(t, pulled)
    assert deletes == {t.key_of(r) for r in pulled_deleted}
    # and both are the difference between the model's states
    then, now = t.states[since], t.state
    # (a key inserted and deleted after `since` is a delete too: deleting it is a no-op)
    assert set(then) - set(now) <= deletes
    assert not (deletes - (set(then) - set(now))) & (set(then) | set(now))
    assert upserts == {k: plain(r) for k, r in now.items() if then.get(k) != r}
    assert deletes  # the step is about deletes reaching readers


# ---------------------------------------------------------------------------------------
# The Python deltalake package (delta-rs), also by hdfs:// URL.


@pytest.mark.parametrize("name", TABLES)
def test_deltalake_reads_rows(synced: Synced, name: str):
    from deltalake import DeltaTable, QueryBuilder

    t = synced.tables[name]
    dt = DeltaTable(synced.url(name))
    assert dt.version() == max(t.states)
    # the README's promise to other readers: no table feature beyond reader 1 / writer 4
    protocol = dt.protocol()
    assert (protocol.min_reader_version, protocol.min_writer_version) == (1, 4)
    assert not protocol.reader_features and not protocol.writer_features
    rows = arro3_dicts(QueryBuilder().register("t", dt).execute("SELECT * FROM t").read_all())
    assert len(rows) == len(t.state)
    assert by_key(t, rows) == {k: plain(r) for k, r in t.state.items()}
    assert {t.key_of(r): (r["_idb_client"], r["_idb_batch"]) for r in rows} == t.writer
    sql, model = GROUP_BY[name]
    got = arro3_dicts(QueryBuilder().register("t", dt).execute(sql).read_all())
    assert sorted_groups(got) == sorted_groups(model(list(t.state.values())))


@pytest.mark.parametrize("name", TABLES)
def test_deltalake_change_feed_and_history(synced: Synced, name: str):
    from deltalake import DeltaTable

    t = synced.tables[name]
    dt = DeltaTable(synced.url(name))
    rows = arro3_dicts(dt.load_cdf(starting_version=0).read_all())
    assert feed_changes(t, rows) == expected_changes(t)
    # idbsync's commit info names the client and batch of each push
    info = {h["version"]: h for h in dt.history()}
    for p in t.committed():
        h = info[p.report["checkpoint"]]
        assert h["operation"] == push_op(t, p)
        assert (h["idbsync.client"], h["idbsync.batch"]) == (p.client, p.batch)
    # each client's last batch is the table's application transaction `idbsync:<client>`
    for client in ("phone", "laptop"):
        assert dt.transaction_version(f"idbsync:{client}") == max(p.batch for p in t.pushes if p.client == client)


# ---------------------------------------------------------------------------------------
# A partitioned table: `push --partition-by day(at) --partition-by city`.


def test_spark_reads_a_partitioned_table(spark, idbsync_bin: Path, hdfs: str, tmp_path_factory):
    """Delta partition columns `_idb_day` (generated: CAST(at AS DATE)) and `city`; a
    second push moves a row to another day and city, changes one in place, deletes one and
    adds one. Spark sees the partitioning, the rows as pulled, `_idb_day` equal to the UTC
    day of `at`, and a filter on the partition columns gives the rows of that partition."""
    work = tmp_path_factory.mktemp("partitioned")
    root = f"{hdfs}/idbsync-interop-partitioned"
    b1 = [
        {"id": 1, "city": "Oslo", "at": "2026-03-01T23:30:00Z", "n": 1},
        {"id": 2, "city": "Cairo", "at": "2026-03-02T00:30:00Z", "n": 2},
        {"id": 3, "city": "Oslo", "at": "2026-03-02T10:00:00Z", "n": 3},
        {"id": 4, "city": "Cairo", "at": "2026-03-01T00:00:00Z", "n": 4},
    ]
    b2 = [
        {"id": 1, "city": "Delhi", "at": "2026-03-09T12:00:00Z", "n": 10},
        {"id": 2, "city": "Cairo", "at": "2026-03-02T00:30:00Z", "n": 20},
        {"id": 3, "_deleted": True},
        {"id": 5, "city": "Delhi", "at": "2026-03-09T00:00:00Z", "n": 5},
    ]
    for i, (batch, extra) in enumerate([(b1, ["--partition-by", "day(at)", "--partition-by", "city"]), (b2, [])]):
        src = work / f"b{i}.ndjson"
        src.write_text("".join(json.dumps(r) + "\n" for r in batch))
        cmd = [str(idbsync_bin), "push", str(src), root, "--store", "orders", "--key", "id", "--detect-timestamps"]
        run(cmd + extra + ["-q"])
    model = {1: b2[0], 2: b2[1], 4: b1[3], 5: b2[3]}

    url = f"{root}/orders"
    detail = spark.sql(f"DESCRIBE DETAIL delta.`{url}`").collect()[0]
    assert list(detail["partitionColumns"]) == ["_idb_day", "city"]
    df = spark.read.format("delta").load(url)
    rows = {r["id"]: r for r in spark_dicts(df.collect())}
    assert set(rows) == set(model)
    for k, want in model.items():
        got = rows[k]
        assert (got["city"], got["n"]) == (want["city"], want["n"]), k
        assert got["at"].strftime("%Y-%m-%dT%H:%M:%SZ") == want["at"], k
        assert got["_idb_day"].isoformat() == want["at"][:10], k
    day9 = df.where("_idb_day = DATE'2026-03-09' AND city = 'Delhi'").select("id").collect()
    assert sorted(r["id"] for r in day9) == [1, 5]

    out = work / "pull.ndjson"
    run([str(idbsync_bin), "pull", root, "--table", "orders", "--to", str(out), "-q"])
    pulled, deleted, _ = read_pull(out)
    assert deleted == []
    assert {r["id"]: (r["city"], r["n"], r["at"][:19]) for r in pulled} == {
        k: (r["city"], r["n"], r["at"][:19]) for k, r in model.items()
    }
    assert all("_idb_day" not in r for r in pulled)


# ---------------------------------------------------------------------------------------
# A push that changes a column's type (issue 17's JSON-text fallback) rewrites the table
# in one commit: both readers read the rewritten table, and its change data feed from the
# rewrite on.


def test_a_widened_table_reads_in_spark_and_deltalake(spark, idbsync_bin: Path, hdfs: str, tmp_path):
    from deltalake import DeltaTable

    root = f"{hdfs}/idbsync-widen"
    url = f"{root}/things"

    def push(name: str, records: list[dict]) -> dict:
        src = tmp_path / name
        src.write_text("".join(json.dumps(r) + "\n" for r in records))
        p = run([str(idbsync_bin), "push", str(src), root, "--store", "things", "--key", "id", "--json"])
        return json.loads(p.stdout)["tables"][0]

    push("a.ndjson", [{"id": 1, "n": 1}, {"id": 2, "n": 2}, {"id": 9, "n": 9}])
    r = push("b.ndjson", [{"id": 3, "n": "three"}, {"id": 4, "n": {"a": [1]}}, {"id": 9, "_deleted": True}])
    assert [(w["column"], w["from"], w["to"]) for w in r["widened_columns"]] == [("n", "Int64", "JSON text")], r
    widened_at = r["checkpoint"]
    r = push("c.ndjson", [{"id": 5, "n": True}, {"id": 1, "n": 1.5}])
    assert (r["widened_columns"], r["upserted"]) == ([], 2), r
    values = {1: 1.5, 2: 2, 3: "three", 4: {"a": [1]}, 5: True}

    # Spark: the column is a string holding each value's JSON text.
    rows = spark_dicts(spark.read.format("delta").load(url).select("id", "n").collect())
    assert {r["id"]: json.loads(r["n"]) for r in rows} == values
    # and its change feed after the rewrite is the later push's
    feed = spark_dicts(
        spark.read.format("delta").option("readChangeFeed", "true").option("startingVersion", widened_at + 1).load(url).collect()
    )
    assert sorted((r["id"], r["_change_type"]) for r in feed) == [
        (1, "update_postimage"), (1, "update_preimage"), (5, "insert")
    ]

    # Across the rewrite, Spark refuses the change feed (as README says; `pull --since`
    # answers such a range with the whole table and the keys deleted since).
    with pytest.raises(Exception, match="DELTA_CHANGE_DATA_FEED_INCOMPATIBLE_DATA_SCHEMA"):
        spark.read.format("delta").option("readChangeFeed", "true").option("startingVersion", 0).load(url).collect()

    # Python deltalake: the same rows, the table's protocol unchanged.
    from deltalake import QueryBuilder

    dt = DeltaTable(url)
    assert (dt.protocol().min_reader_version, dt.protocol().min_writer_version) == (1, 4)
    got = arro3_dicts(QueryBuilder().register("t", dt).execute("SELECT id, n FROM t").read_all())
    assert {r["id"]: json.loads(r["n"]) for r in got} == values
    # The rewrite commit lists every row the table had then as inserted (and as deleted).
    rewrite = arro3_dicts(dt.load_cdf(starting_version=widened_at, ending_version=widened_at).read_all())
    assert sorted(r["id"] for r in rewrite if r["_change_type"] == "insert") == [1, 2, 3, 4]
