"""Peer readers read idbsync's Parquet output back: pyarrow and DuckDB (pinned in
requirements.txt) must see the expected types and exactly the expected values, row counts
and partition columns.

Expected values are computed from the fixture files themselves (idbfixtures.py undoes the
typeson tags), plus a few values hard-coded from testdata/exporter/records.mjs, so that a
mistake shared by idbsync and the test's own decoding cannot hide.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import math
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from idbfixtures import (
    ConvertFailed,
    FIXTURES,
    MISSING,
    UTC,
    Json,
    Row,
    datetime_to_ms,
    expect,
    for_duckdb,
    iso_to_datetime,
    ms_to_datetime,
    same,
    strip,
)

TS = pa.timestamp("ms", tz="UTC")
JSON = pa.json_()
BLOB = pa.struct([("type", pa.string()), ("data", pa.binary())])
REGEXP = pa.struct([("source", pa.string()), ("flags", pa.string())])
NULLS = pa.map_(pa.string(), pa.string())  # the __idb_nulls side column
NULLS_COLUMN = "__idb_nulls"

ORDERS_TYPES = {
    "customerId": pa.int64(),
    "created": TS,
    "status": pa.string(),
    "items": pa.list_(pa.struct([("sku", pa.string()), ("qty", pa.int64()), ("price", pa.float64())])),
    "shipping": pa.struct([("city", pa.string()), ("zip", pa.string()), ("method", pa.string())]),
    "tags": pa.list_(pa.string()),
    "total": pa.float64(),
    "note": JSON,  # a string in most rows, the number 42 in id 18: a lossless JSON-text column
    "id": pa.int64(),
    "giftMessage": pa.string(),
    "deliveredAt": TS,
    "discount": pa.float64(),
    "couponCode": pa.null(),  # only ever null or absent
    NULLS_COLUMN: NULLS,
}

ORDERS_DUCKDB_TYPES = {
    "customerId": "BIGINT",
    "created": "TIMESTAMP WITH TIME ZONE",
    "status": "VARCHAR",
    "items": "STRUCT(sku VARCHAR, qty BIGINT, price DOUBLE)[]",
    "shipping": 'STRUCT(city VARCHAR, zip VARCHAR, "method" VARCHAR)',
    "tags": "VARCHAR[]",
    "total": "DOUBLE",
    "note": ("VARCHAR", "JSON"),
    "id": "BIGINT",
    "giftMessage": "VARCHAR",
    "deliveredAt": "TIMESTAMP WITH TIME ZONE",
    "discount": "DOUBLE",
    "couponCode": '"NULL"',
    NULLS_COLUMN: "MAP(VARCHAR, VARCHAR)",
}

CUSTOMERS_TYPES = {
    "id": pa.int64(),
    "email": pa.string(),
    "name": pa.string(),
    "joined": TS,
    "vip": pa.bool_(),
}

THINGS_TYPES = {
    "name": pa.string(),
    "first": pa.string(),
    "last": pa.string(),
    "tags": pa.list_(pa.string()),
    "created": JSON,  # a Date in row 1, a string in row 8
    "invalid": TS,
    "epoch": TS,
    "beforeEpoch": TS,
    "nested": pa.struct(
        [("when", TS), ("label", pa.string()), ("deeper", pa.struct([("at", TS)])), ("pic", BLOB)]
    ),
    "weird": pa.struct([("a.b", pa.int64()), ("c~d", TS), ("e~1.f", TS)]),
    "x.y~z": TS,
    "dateList": pa.list_(TS),
    "opt": pa.string(),
    "id": pa.int64(),
    "blob": BLOB,
    "textBlob": BLOB,
    "emptyBlob": BLOB,
    "buf": pa.binary(),
    "emptyBuf": pa.binary(),
    "view": pa.binary(),
    "i8": pa.list_(pa.int8()),
    "u8": pa.list_(pa.uint8()),
    "u8c": pa.list_(pa.uint8()),
    "i16": pa.list_(pa.int16()),
    "u16": pa.list_(pa.uint16()),
    "i32": pa.list_(pa.int32()),
    "u32": pa.list_(pa.uint32()),
    "f32": pa.list_(pa.float32()),
    "f64": pa.list_(pa.float64()),
    "f64Special": pa.list_(pa.float64()),
    "emptyU8": pa.list_(pa.uint8()),
    "window": pa.list_(pa.uint8()),
    "sharedA": pa.list_(pa.uint16()),
    "sharedB": pa.list_(pa.uint8()),
    "mapStr": pa.map_(pa.string(), pa.int64()),
    "mapNum": pa.map_(pa.int64(), pa.string()),
    "mapDates": pa.map_(pa.string(), TS),
    "emptyMap": pa.map_(pa.string(), pa.null()),
    "set": pa.list_(pa.string()),
    "setNum": pa.list_(pa.int64()),
    "emptySet": pa.list_(pa.null()),
    "sparse": pa.list_(JSON),  # [1, hole, 3, hole, hole, hole, "end"]
    "extra": JSON,  # an array with a non-index key
    "arrUndef": pa.list_(pa.int64()),
    "nestedArr": pa.list_(pa.list_(JSON)),  # [[1, 2], [], [Date]]
    "emptyArr": pa.list_(pa.null()),
    "sameA": pa.struct([("shared", pa.bool_()), ("n", pa.int64())]),
    "sameB": pa.struct([("shared", pa.bool_()), ("n", pa.int64())]),
    "nan": pa.float64(),
    "inf": pa.float64(),
    "ninf": pa.float64(),
    "maxSafe": pa.int64(),
    "float": pa.float64(),
    "bigSmall": JSON,  # BigInt 42n in row 5, the number 1 in row 8
    "bigNeg": pa.int64(),
    "bigHuge": pa.decimal128(38, 0),
    "bigHugeNeg": pa.decimal128(38, 0),
    "bigBoxed": pa.int64(),
    "re": REGEXP,
    "re2": REGEXP,
    "reEmpty": REGEXP,
    "str": pa.string(),
    "num": pa.int64(),
    "bool": pa.bool_(),
    "nums": pa.list_(pa.float64()),
    "undef": pa.null(),
    "nullish": pa.null(),
    "events": pa.list_(
        pa.struct([("kind", pa.string()), ("at", TS), ("extra", pa.struct([("note", pa.string())]))])
    ),
    "boolFalse": pa.bool_(),
    "negZero": pa.int64(),
    "reDotAll": REGEXP,
    "i64": pa.struct([("0", pa.int64()), ("1", pa.int64())]),
    "u64": pa.struct([("0", pa.decimal128(38, 0))]),
    NULLS_COLUMN: NULLS,
}

THINGS_DUCKDB_TYPES = {
    "created": ("VARCHAR", "JSON"),
    "invalid": "TIMESTAMP WITH TIME ZONE",
    "dateList": "TIMESTAMP WITH TIME ZONE[]",
    "blob": 'STRUCT("type" VARCHAR, "data" BLOB)',
    "buf": "BLOB",
    "view": "BLOB",
    "i8": "TINYINT[]",
    "u8": "UTINYINT[]",
    "u8c": "UTINYINT[]",
    "i16": "SMALLINT[]",
    "u16": "USMALLINT[]",
    "i32": "INTEGER[]",
    "u32": "UINTEGER[]",
    "f32": "FLOAT[]",
    "f64": "DOUBLE[]",
    "mapStr": "MAP(VARCHAR, BIGINT)",
    "mapNum": "MAP(BIGINT, VARCHAR)",
    "mapDates": "MAP(VARCHAR, TIMESTAMP WITH TIME ZONE)",
    "set": "VARCHAR[]",
    "setNum": "BIGINT[]",
    "nan": "DOUBLE",
    "maxSafe": "BIGINT",
    "bigNeg": "BIGINT",
    "bigHuge": "DECIMAL(38,0)",
    "bigHugeNeg": "DECIMAL(38,0)",
    "re": 'STRUCT("source" VARCHAR, flags VARCHAR)',
    "bool": "BOOLEAN",
    "nums": "DOUBLE[]",
    "u64": 'STRUCT("0" DECIMAL(38,0))',
    NULLS_COLUMN: "MAP(VARCHAR, VARCHAR)",
}

KV_TYPES = {"__key": JSON, "__value": JSON, NULLS_COLUMN: NULLS}

PAIRS_TYPES = {
    "first": pa.string(),
    "last": pa.string(),
    "age": pa.int64(),
    "born": TS,
    "award": pa.null(),
    "ranks": pa.list_(pa.string()),
    NULLS_COLUMN: NULLS,
}

# Values from records.mjs, written out by hand (the ids are the auto-increment order).
CANCELLED_IDS = [9, 18, 27, 36, 45]  # i % 9 == 8


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------


def first_seen(rows: list[Row]) -> list[str]:
    """Top-level field names in first-seen order (idbsync's column order)."""
    names: list[str] = []
    for r in rows:
        names += [k for k in r.raw if k not in names]
    return names


def no_value_kind(r: Row, name: str) -> str | None:
    """The kind of "no value" a top-level field has in a row: absent, null, undefined,
    invalid (an invalid Date), or None for a value."""
    v = r.at([name])
    if v is MISSING:
        return "absent"
    if v is None:
        return "null"
    if r.tag([name]) == "undef":
        return "undefined"
    if r.tag([name]) == "date" and v == "NaN":
        return "invalid"
    return None


def no_value_kinds(rows: list[Row], name: str) -> list[str]:
    """Which kinds of "no value" a top-level field sees, in idbsync's order."""
    kinds = {no_value_kind(r, name) for r in rows}
    return [k for k in ("absent", "null", "undefined", "invalid") if k in kinds]


def expected_nulls(rows: list[Row], names: list[str]) -> list[dict]:
    """The __idb_nulls entries per row: for fields that see more than one kind of "no
    value", every kind other than the field's default (null when it occurs, else the first)."""
    out: list[dict] = [{} for _ in rows]
    for name in names:
        kinds = no_value_kinds(rows, name)
        if len(kinds) < 2:
            continue
        default = "null" if "null" in kinds else kinds[0]
        for i, r in enumerate(rows):
            kind = no_value_kind(r, name)
            if kind is not None and kind != default:
                out[i][name] = kind
    return out


def expected_rows(rows: list[Row], types: dict[str, pa.DataType], with_nulls: bool = True) -> list[dict]:
    data_cols = [c for c in types if c != NULLS_COLUMN]
    nulls = expected_nulls(rows, data_cols)
    out = []
    for r, n in zip(rows, nulls):
        e = {c: expect(r, [c], types[c]) for c in data_cols}
        if with_nulls and NULLS_COLUMN in types:
            e[NULLS_COLUMN] = n
        out.append(e)
    return out


def pyarrow_rows(table: pa.Table) -> list[dict]:
    rows = table.to_pylist()
    if NULLS_COLUMN in table.column_names:
        for r in rows:
            entries = r[NULLS_COLUMN]
            assert entries is not None, "the __idb_nulls map is never null itself"
            assert len({k for k, _ in entries}) == len(entries), f"duplicate keys in {entries}"
            r[NULLS_COLUMN] = dict(entries)
    return rows


def check_rows(actual: list[dict], expected: list[dict], label: str) -> None:
    assert len(actual) == len(expected), f"{label}: {len(actual)} rows, expected {len(expected)}"
    for i, (a, e) in enumerate(zip(actual, expected)):
        assert sorted(a) == sorted(e), f"{label} row {i}: columns {sorted(a)} != {sorted(e)}"
        for c in e:
            # __idb_nulls is a map: its entries' order carries no meaning
            same(a[c], e[c], f"{label} row {i} ({c})", key_order=c != NULLS_COLUMN)


def check_pyarrow_types(schema: pa.Schema, types: dict[str, pa.DataType], label: str) -> None:
    assert schema.names == list(types), f"{label}: columns {schema.names} != {list(types)}"
    for name, t in types.items():
        got = schema.field(name).type
        assert strip(got) == t, f"{label}.{name}: {got} is not {t}"


def duck_describe(duck, source: str) -> dict[str, str]:
    return {r[0]: r[1] for r in duck.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}


def check_duck_types(actual: dict[str, str], expected: dict[str, str | tuple], label: str) -> None:
    for name, want in expected.items():
        allowed = want if isinstance(want, tuple) else (want,)
        assert actual.get(name) in allowed, f"{label}.{name}: DuckDB type {actual.get(name)!r}, expected {want!r}"


def duck_rows(duck, sql: str) -> list[dict]:
    cur = duck.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def rp(glob: str) -> str:
    return f"read_parquet('{glob}', hive_partitioning = true)"


def parquet_files(store: Path) -> list[Path]:
    return sorted(store.rglob("*.parquet"))


def load_ndjson(path: Path) -> list[Row]:
    return [Row(json.loads(line), {}) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ---------------------------------------------------------------------------------------
# dexie-shop.json
# ---------------------------------------------------------------------------------------


def test_shop_output_is_committed_zstd_parquet(convert, shop):
    out = convert("dexie-shop.json")
    assert sorted(s["store"] for s in out.summary["stores"]) == sorted(shop.stores)
    for name, store in shop.stores.items():
        d = out.store(name)
        assert (d / "_SUCCESS").is_file(), f"{d} has no _SUCCESS"
        assert not (d / "_temporary").exists(), f"{d}/_temporary left behind"
        assert out.counts(name) == {"read": len(store.rows), "written": len(store.rows), "rejected": 0, "skipped": 0}
        files = parquet_files(d)
        assert files and all(f.name.endswith(".zstd.parquet") for f in files), files
        rows = 0
        for f in files:
            md = pq.ParquetFile(f).metadata
            rows += md.num_rows
            for g in range(md.num_row_groups):
                for c in range(md.num_columns):
                    col = md.row_group(g).column(c)
                    assert col.compression == "ZSTD", f"{f}: {col.path_in_schema} is {col.compression}"
        assert rows == len(store.rows) == shop.row_counts[name]


def test_shop_orders_pyarrow_types(convert, shop):
    out = convert("dexie-shop.json")
    rows = shop["orders"].rows
    schema = pq.read_table(out.store("orders")).schema
    assert list(ORDERS_TYPES) == first_seen(rows) + [NULLS_COLUMN]
    check_pyarrow_types(schema, ORDERS_TYPES, "orders")
    assert schema.field("created").type == pa.timestamp("ms", tz="UTC")
    assert schema.field("note").type == pa.json_(), "note: the arrow.json extension type"
    # required exactly where every record has a non-null value
    for name in first_seen(rows):
        assert schema.field(name).nullable == bool(no_value_kinds(rows, name)), name


def test_shop_orders_pyarrow_values(convert, shop):
    out = convert("dexie-shop.json")
    table = pq.read_table(out.store("orders"))
    assert table.num_rows == 50
    actual = pyarrow_rows(table.sort_by("id"))
    expected = expected_rows(shop["orders"].rows, ORDERS_TYPES)
    check_rows(actual, sorted(expected, key=lambda r: r["id"]), "orders")

    by_id = {r["id"]: r for r in actual}
    # spot values, by hand from records.mjs / the fixture
    assert by_id[1]["created"] == dt.datetime(2024, 3, 1, 0, 21, 35, 34000, tzinfo=UTC)
    assert by_id[1]["items"] == [{"sku": "SKU-0120", "qty": 4, "price": 19.24}]
    assert by_id[1]["shipping"] == {"city": "Berlin", "zip": "10115", "method": "express"}
    assert by_id[1]["total"] == 76.96
    assert by_id[1]["note"] == '"order 1"'
    assert by_id[18]["note"] == "42"  # the number 42: type drift
    assert by_id[5]["note"] is None  # absent in every 5th order
    assert by_id[3]["deliveredAt"] == dt.datetime(2024, 3, 5, 2, 0, tzinfo=UTC)  # base + 2 * 13 h + 3 days
    assert by_id[1]["deliveredAt"] is None and by_id[1]["giftMessage"] is None
    assert sorted(i for i, r in by_id.items() if r["status"] == "cancelled") == CANCELLED_IDS


def test_shop_orders_duckdb(convert, shop, duck):
    out = convert("dexie-shop.json")
    src = rp(out.glob("orders"))
    types = duck_describe(duck, src)
    assert list(types) == list(ORDERS_TYPES)
    check_duck_types(types, ORDERS_DUCKDB_TYPES, "orders")
    assert duck.execute(f"SELECT count(*) FROM {src}").fetchone()[0] == 50

    rows = shop["orders"].rows
    expected = sorted(expected_rows(rows, ORDERS_TYPES), key=lambda r: r["id"])
    expected = [{c: for_duckdb(v, ORDERS_TYPES[c]) for c, v in e.items()} for e in expected]
    check_rows(duck_rows(duck, f"SELECT * FROM {src} ORDER BY id"), expected, "orders (DuckDB)")

    # instants to the millisecond, straight from the export's epoch-ms numbers
    got = duck.execute(f"SELECT id, epoch_ms(created), epoch_ms(deliveredAt) FROM {src} ORDER BY id").fetchall()
    want = sorted(
        (r.raw["id"], r.raw["created"], r.raw["deliveredAt"] if "deliveredAt" in r.raw else None) for r in rows
    )
    assert got == want
    # the JSON text column is valid JSON to DuckDB's json extension, with the original types
    note_types = dict(duck.execute(f"SELECT id, json_type(note) FROM {src} WHERE note IS NOT NULL").fetchall())
    note_types = {i: "integer" if t in ("BIGINT", "UBIGINT") else t for i, t in note_types.items()}
    assert note_types == {
        r.raw["id"]: ("integer" if isinstance(r.raw["note"], int) else "VARCHAR") for r in rows if "note" in r.raw
    }
    assert duck.execute(f"SELECT note FROM {src} WHERE id = 18").fetchone()[0] == "42"
    assert duck.execute(f"SELECT note ->> '$' FROM {src} WHERE id = 2").fetchone()[0] == "order 2"
    # nested access
    assert duck.execute(f"SELECT items[1].sku, shipping.city FROM {src} WHERE id = 1").fetchone() == (
        "SKU-0120",
        "Berlin",
    )


def test_shop_customers(convert, shop, duck):
    out = convert("dexie-shop.json")
    table = pq.read_table(out.store("customers"))
    check_pyarrow_types(table.schema, CUSTOMERS_TYPES, "customers")
    rows = shop["customers"].rows
    expected = sorted(expected_rows(rows, CUSTOMERS_TYPES), key=lambda r: r["id"])
    check_rows(pyarrow_rows(table.sort_by("id")), expected, "customers")

    src = rp(out.glob("customers"))
    assert duck_describe(duck, src) == {
        "id": "BIGINT",
        "email": "VARCHAR",
        "name": "VARCHAR",
        "joined": "TIMESTAMP WITH TIME ZONE",
        "vip": "BOOLEAN",
    }
    check_rows(duck_rows(duck, f"SELECT * FROM {src} ORDER BY id"), expected, "customers (DuckDB)")
    assert duck.execute(f"SELECT email, name, joined, vip FROM {src} WHERE id = 3").fetchone() == (
        "chloe@example.com",
        "Chloé",
        dt.datetime(2022, 3, 3, 10, 0, tzinfo=UTC),
        False,
    )
    assert [r[0] for r in duck.execute(f"SELECT id FROM {src} WHERE vip ORDER BY id").fetchall()] == [1, 5, 9]


def test_shop_indexeddb_metadata_in_parquet(convert, shop):
    out = convert("dexie-shop.json")
    for name, store in shop.stores.items():
        for f in parquet_files(out.store(name)):
            kv = {k.decode(): v.decode() for k, v in pq.ParquetFile(f).metadata.metadata.items()}
            assert kv["idb.database"] == shop.database
            assert kv["idb.version"] == str(shop.version)
            assert kv["idb.store"] == name
            assert kv["idb.dexie_schema"] == store.schema
            assert kv["idb.inbound"] == "true"
    created = pq.read_schema(parquet_files(out.store("orders"))[0]).field("created")
    assert created.metadata[b"idb.tag"] == b"date"


# ---------------------------------------------------------------------------------------
# partitioned output
# ---------------------------------------------------------------------------------------


def test_partition_by_day(convert, duck):
    """orders.ndjson, ISO dates turned into timestamps, hive-partitioned by day(created)."""
    out = convert("orders.ndjson", "--store", "orders", "--detect-timestamps", "--partition-by", "day(created)")
    rows = load_ndjson(FIXTURES / "orders.ndjson")
    day_of = {r.raw["id"]: iso_to_datetime(r.raw["created"]).date() for r in rows}
    per_day = collections.Counter(day_of.values())
    store = out.store("orders")

    # one hive directory per day, and each file holds only that day's rows
    dirs = sorted(p.name for p in store.iterdir() if p.is_dir() and not p.name.startswith("_"))
    assert dirs == sorted(f"day={d.isoformat()}" for d in per_day)
    for f in parquet_files(store):
        day = dt.date.fromisoformat(f.parent.name.removeprefix("day="))
        t = pq.read_table(f)
        assert "day" not in t.column_names, f"{f}: the partition column is also inside the file"
        assert {c.astimezone(UTC).date() for c in t.column("created").to_pylist()} == {day}
        assert t.num_rows == per_day[day]

    # DuckDB: a `day` DATE column from the directory names, the right day per row
    src = rp(out.glob("orders"))
    assert duck_describe(duck, src)["day"] == "DATE"
    got = dict(duck.execute(f"SELECT id, day FROM {src}").fetchall())
    assert got == day_of
    assert duck.execute(f"SELECT count(*) FROM {src} WHERE day <> CAST(created AS DATE)").fetchone()[0] == 0
    assert dict(duck.execute(f"SELECT day, count(*) FROM {src} GROUP BY day").fetchall()) == dict(per_day)
    # a filter on the partition column returns exactly that day's rows
    d = dt.date(2024, 3, 7)
    got_ids = [r[0] for r in duck.execute(f"SELECT id FROM {src} WHERE day = DATE '2024-03-07' ORDER BY id").fetchall()]
    assert got_ids == sorted(i for i, day in day_of.items() if day == d) == [13]
    assert per_day[dt.date(2024, 3, 1)] == 2 and len(per_day) == 27  # by hand

    # pyarrow: hive partitioning with a typed partition schema, and read_table's default
    dset = ds.dataset(
        store, format="parquet", partitioning=ds.partitioning(pa.schema([("day", pa.date32())]), flavor="hive")
    )
    t = dset.to_table()
    assert t.num_rows == 50
    assert dict(zip(t.column("id").to_pylist(), t.column("day").to_pylist())) == day_of
    assert t.schema.field("created").type == TS
    assert dset.to_table(filter=ds.field("day") == d).column("id").to_pylist() == [13]
    t = pq.read_table(store)
    assert {i: dt.date.fromisoformat(s) for i, s in zip(t.column("id").to_pylist(), t.column("day").to_pylist())} == day_of

    # every other column is unchanged by partitioning
    types = dict(ORDERS_TYPES)
    expected = sorted(expected_rows(rows, types), key=lambda r: r["id"])
    actual = pyarrow_rows(dset.to_table().drop_columns(["day"]).sort_by("id"))
    check_rows(actual, expected, "orders by day")


def test_partition_by_identity_column(convert, duck):
    out = convert("orders.ndjson", "--store", "orders", "--partition-by", "status")
    rows = load_ndjson(FIXTURES / "orders.ndjson")
    status_of = {r.raw["id"]: r.raw["status"] for r in rows}
    counts = collections.Counter(status_of.values())
    store = out.store("orders")

    dirs = sorted(p.name for p in store.iterdir() if p.is_dir() and not p.name.startswith("_"))
    assert dirs == ["status=cancelled", "status=paid", "status=shipped"]
    for f in parquet_files(store):
        assert "status" not in pq.read_schema(f).names, f"{f}: the partition column is also inside the file"
        status = f.parent.name.removeprefix("status=")
        ids = pq.read_table(f).column("id").to_pylist()
        assert ids and all(status_of[i] == status for i in ids)

    src = rp(out.glob("orders"))
    assert duck_describe(duck, src)["status"] == "VARCHAR"
    assert dict(duck.execute(f"SELECT id, status FROM {src}").fetchall()) == status_of
    assert dict(duck.execute(f"SELECT status, count(*) FROM {src} GROUP BY ALL").fetchall()) == dict(counts)
    assert dict(counts) == {"cancelled": 5, "paid": 28, "shipped": 17}  # by hand
    got = [r[0] for r in duck.execute(f"SELECT id FROM {src} WHERE status = 'cancelled' ORDER BY id").fetchall()]
    assert got == CANCELLED_IDS

    t = pq.read_table(store)
    assert t.num_rows == 50
    assert dict(zip(t.column("id").to_pylist(), t.column("status").to_pylist())) == status_of
    t = pq.read_table(store, filters=[("status", "=", "cancelled")])
    assert sorted(t.column("id").to_pylist()) == CANCELLED_IDS


def test_partition_values_escaped_like_spark(convert, duck, tmp_path):
    """Values that need escaping, and null/absent, read back exactly by both readers."""
    values = {1: "a/b", 2: "x=y", 3: "50%", 4: "Köln", 5: None, 6: MISSING, 7: "sp ace?#", 8: "c:d*"}
    src_file = tmp_path / "esc.ndjson"
    src_file.write_text(
        "".join(json.dumps({"id": i} if v is MISSING else {"id": i, "k": v}) + "\n" for i, v in values.items()),
        encoding="utf-8",
    )
    out = convert(src_file, "--partition-by", "k")
    store = out.store("esc")
    dirs = sorted(p.name for p in store.iterdir() if p.is_dir() and not p.name.startswith("_"))
    assert dirs == sorted(
        ["k=a%2Fb", "k=x%3Dy", "k=50%25", "k=Köln", "k=__HIVE_DEFAULT_PARTITION__", "k=sp ace%3F%23", "k=c%3Ad%2A"]
    )
    want = {i: (None if v is MISSING else v) for i, v in values.items()}
    assert dict(duck.execute(f"SELECT id, k FROM {rp(out.glob('esc'))}").fetchall()) == want
    t = pq.read_table(store)
    assert dict(zip(t.column("id").to_pylist(), t.column("k").to_pylist())) == want
    nulls = dict(zip(t.column("id").to_pylist(), pyarrow_rows(t.select(["id", NULLS_COLUMN]))))
    assert {i: r[NULLS_COLUMN] for i, r in nulls.items()} == {
        i: ({"k": "absent"} if v is MISSING else {}) for i, v in values.items()
    }


# Regression: --partition-by used to apply to every store of a Dexie export, so a
# store without the column (customers) failed the whole job.
@pytest.mark.parametrize("term,column", [("day(created)", "day"), ("status", "status")])
def test_partition_dexie_export_with_several_stores(convert, duck, shop, term, column):
    out = convert("dexie-shop.json", "--partition-by", term)
    orders = pq.read_table(out.store("orders"))
    assert orders.num_rows == 50 and column in orders.column_names
    src = rp(out.glob("orders"))
    assert duck.execute(f"SELECT count(DISTINCT {column}) FROM {src}").fetchone()[0] > 1
    # the store without that column is still converted, whole
    assert pq.read_table(out.store("customers")).num_rows == 10


# ---------------------------------------------------------------------------------------
# dexie-alltags.json
# ---------------------------------------------------------------------------------------


def test_alltags_things_pyarrow(convert, alltags):
    out = convert("dexie-alltags.json")
    rows = alltags["things"].rows
    table = pq.read_table(out.store("things"))
    assert list(THINGS_TYPES) == first_seen(rows) + [NULLS_COLUMN]
    check_pyarrow_types(table.schema, THINGS_TYPES, "things")
    assert table.num_rows == 9

    actual = pyarrow_rows(table.sort_by("id"))
    check_rows(actual, sorted(expected_rows(rows, THINGS_TYPES), key=lambda r: r["id"]), "things")

    # spot values, by hand from records.mjs
    r = {x["name"]: x for x in actual}
    dates, binary, typed, coll, num = r["dates"], r["binary"], r["typed"], r["collections"], r["numbers"]
    assert dates["invalid"] is None  # new Date(NaN)
    assert dates["epoch"] == dt.datetime(1970, 1, 1, tzinfo=UTC)
    assert dates["beforeEpoch"] == dt.datetime(1969, 7, 20, 20, 17, 40, 123000, tzinfo=UTC)
    assert dates["nested"]["when"] == dt.datetime(2023, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
    assert dates["weird"] == {
        "a.b": 1,
        "c~d": dt.datetime(1970, 1, 1, tzinfo=UTC),
        "e~1.f": dt.datetime(2001, 1, 1, tzinfo=UTC),
    }
    assert dates["x.y~z"] == dt.datetime(1970, 1, 2, tzinfo=UTC)
    assert json.loads(dates["created"]) == {"$": 1709294400000, "$types": {"$": {"": "date"}}}
    assert r["drift"]["created"] == '"not a date"'
    ramp = lambda n, start=0: bytes((start + i * 37) & 0xFF for i in range(n))  # noqa: E731
    assert binary["blob"] == {"type": "application/octet-stream", "data": ramp(40)}
    assert binary["textBlob"] == {"type": "text/plain;charset=utf-8", "data": "héllo wörld ✓\n".encode()}
    assert binary["emptyBlob"] == {"type": "", "data": b""}
    assert binary["nested"]["pic"] == {"type": "image/png", "data": b"\x89PNG"}
    assert binary["buf"] == bytes([0, 1, 2, 127, 128, 254, 255])
    assert binary["emptyBuf"] == b""
    assert binary["view"] == ramp(8, 100)[2:6]
    assert typed["i8"] == [-128, -1, 0, 1, 127]
    assert typed["u8"] == [0, 1, 255] and typed["u8c"] == [0, 128, 255]
    assert typed["i16"] == [-32768, 0, 32767] and typed["u16"] == [0, 65535]
    assert typed["i32"] == [-2147483648, 0, 2147483647] and typed["u32"] == [0, 4294967295]
    assert typed["f32"] == [1.5, -0.25, 3.4028234663852886e38]
    assert typed["f64"] == [math.pi, -1e-300, 1.7976931348623157e308]
    same(typed["f64Special"], [math.nan, math.inf, -math.inf])
    assert typed["emptyU8"] == []
    assert typed["window"] == list(ramp(10, 50)[4:7])
    shared = ramp(16, 3)
    assert typed["sharedA"] == [int.from_bytes(shared[i : i + 2], "little") for i in range(0, 8, 2)]
    assert typed["sharedB"] == list(shared[8:16])
    assert coll["mapStr"] == [("a", 1), ("b", 2), ("c", 3)]
    assert coll["mapNum"] == [(1, "one"), (2, "two"), (10, "ten")]
    assert coll["mapDates"] == [
        ("start", dt.datetime(2024, 1, 1, tzinfo=UTC)),
        ("end", dt.datetime(2024, 12, 31, tzinfo=UTC)),
    ]
    assert coll["emptyMap"] == [] and coll["emptySet"] == [] and coll["emptyArr"] == []
    assert coll["set"] == ["x", "y", "z"] and coll["setNum"] == [3, 1, 2]
    assert coll["sparse"] == ["1", None, "3", None, None, None, '"end"']
    assert coll["arrUndef"] == [None, 1, None]
    assert coll["sameA"] == coll["sameB"] == {"shared": True, "n": 7}
    assert math.isnan(num["nan"]) and num["inf"] == math.inf and num["ninf"] == -math.inf
    assert r["drift"]["nan"] == 5.0
    assert num["maxSafe"] == 2**53 - 1 and num["float"] == 0.1
    assert num["bigNeg"] == -7 and num["bigBoxed"] == 10
    assert num["bigHuge"] == Decimal(2**64 + 1) and num["bigHugeNeg"] == Decimal(-(2**70))
    assert json.loads(num["bigSmall"]) == {"$": "42", "$types": {"$": {"": "bigint"}}}
    assert r["drift"]["bigSmall"] == "1"
    assert num["re"] == {"source": "ab+c", "flags": "gi"}
    assert num["re2"] == {"source": "^x\\d+$", "flags": "myu"}
    assert num["reEmpty"] == {"source": "(?:)", "flags": ""}
    assert (num["str"], num["num"], num["bool"]) == ("s", 3, True)
    same(num["nums"], [1.0, math.nan, math.inf, -math.inf, 2.5])
    assert r["sparse-record"]["events"][1] == {
        "kind": "stop",
        "at": dt.datetime(2024, 4, 1, 17, tzinfo=UTC),
        "extra": {"note": "late"},
    }
    assert r["exporter-losses"]["u64"] == {"0": Decimal(2**64 - 1)}
    # which kind of "no value" each record had, where a field sees several
    assert r["undefs"][NULLS_COLUMN] == {"undef": "undefined", "opt": "absent", "blob": "absent"}
    assert r["typed"][NULLS_COLUMN]["opt"] == "undefined"
    assert "opt" not in r["binary"][NULLS_COLUMN]  # null is the default kind


def test_alltags_things_duckdb(convert, alltags, duck):
    out = convert("dexie-alltags.json")
    src = rp(out.glob("things"))
    types = duck_describe(duck, src)
    assert list(types) == list(THINGS_TYPES)
    check_duck_types(types, THINGS_DUCKDB_TYPES, "things")

    rows = alltags["things"].rows
    expected = sorted(expected_rows(rows, THINGS_TYPES), key=lambda r: r["id"])
    expected = [{c: for_duckdb(v, THINGS_TYPES[c]) for c, v in e.items()} for e in expected]
    check_rows(duck_rows(duck, f"SELECT * FROM {src} ORDER BY id"), expected, "things (DuckDB)")

    def one(sql: str, name: str):
        return duck.execute(f"SELECT {sql} FROM {src} WHERE name = '{name}'").fetchone()[0]

    # Dates: exact instants, the invalid Date as NULL
    assert one("epoch_ms(beforeEpoch)", "dates") == -14182939877
    assert one("invalid IS NULL", "dates") is True
    assert one("epoch_ms(nested.deeper.at)", "dates") == 946684800000
    # Maps are MAPs
    assert one("mapStr['b']", "collections") == 2
    assert one("mapNum[10]", "collections") == "ten"
    assert one("map_keys(mapDates)", "collections") == ["start", "end"]
    assert one("epoch_ms(mapDates['end'])", "collections") == 1735603200000
    assert one("cardinality(emptyMap)", "collections") == 0
    # BigInt as DECIMAL(38,0), exact
    assert one("bigHuge::VARCHAR", "numbers") == "18446744073709551617"
    assert one("bigHugeNeg::VARCHAR", "numbers") == str(-(2**70))
    assert one("bigHuge + 1", "numbers") == Decimal(2**64 + 2)
    # non-finite floats
    assert one("isnan(nan) AND inf = 'infinity'::DOUBLE AND ninf = '-infinity'::DOUBLE", "numbers") is True
    assert one("list_filter(nums, lambda x: isnan(x))::VARCHAR", "numbers") == "[nan]"
    # typed arrays with their element types
    assert one("list_sum(u8)", "typed") == 256
    assert one("u32[2]", "typed") == 4294967295
    assert one("f32[3]", "typed") == 3.4028234663852886e38
    assert one("typeof(i16[1])", "typed") == "SMALLINT"
    # Blob {type, data} bytes, regexp struct
    assert one("octet_length(blob.data)", "binary") == 40
    assert one("decode(textBlob.data)", "binary") == "héllo wörld ✓\n"
    assert one("blob.type", "binary") == "application/octet-stream"
    assert one("re.source || '/' || re.flags", "numbers") == "ab+c/gi"
    # the JSON-text column parses as JSON
    assert one("json_extract(created, '$.\"$\"')::BIGINT", "dates") == 1709294400000


def test_alltags_kv_out_of_line_keys(convert, alltags, duck):
    out = convert("dexie-alltags.json")
    rows = alltags["kv"].rows
    table = pq.read_table(out.store("kv"))
    check_pyarrow_types(table.schema, KV_TYPES, "kv")
    assert table.num_rows == len(rows) == 14
    # rows stay in IndexedDB key order, as exported
    expected = [
        {
            "__key": Json(r.encapsulated([0])),
            "__value": expect(r, [1], JSON),
            NULLS_COLUMN: {"": "undefined"} if r.tag([1]) == "undef" else {},
        }
        for r in rows
    ]
    check_rows(pyarrow_rows(table), expected, "kv")
    src = rp(out.glob("kv"))
    types = duck_describe(duck, src)
    assert list(types) == list(KV_TYPES)
    check_duck_types(
        types, {"__key": ("VARCHAR", "JSON"), "__value": ("VARCHAR", "JSON"), NULLS_COLUMN: "MAP(VARCHAR, VARCHAR)"}, "kv"
    )
    check_rows(duck_rows(duck, f"SELECT * FROM {src}"), expected, "kv (DuckDB)")

    # by hand
    kv = {r[0]: r[1] for r in duck.execute(f"SELECT __key, __value FROM {src}").fetchall()}
    assert kv["-10"] == "42"
    assert kv['"gamma"'] == '"another string"'
    assert kv['"beta"'] is None and kv['"undef"'] is None
    date_key = next(k for k in kv if k.startswith("{") and '"date"' in k and "compound" not in k)
    assert json.loads(date_key) == {"$": 1704067200000, "$types": {"$": {"": "date"}}}
    assert json.loads(kv['"big"']) == {"$": "12345678901234567890", "$types": {"$": {"": "bigint"}}}
    assert json.loads(kv['"alpha"'])["$"] == datetime_to_ms(dt.datetime(2020, 2, 29, tzinfo=UTC))


def test_alltags_pairs_compound_key(convert, alltags, duck):
    out = convert("dexie-alltags.json")
    rows = alltags["pairs"].rows
    table = pq.read_table(out.store("pairs"))
    check_pyarrow_types(table.schema, PAIRS_TYPES, "pairs")
    expected = expected_rows(rows, PAIRS_TYPES)
    check_rows(pyarrow_rows(table), expected, "pairs")
    src = rp(out.glob("pairs"))
    check_rows(duck_rows(duck, f"SELECT * FROM {src}"), expected, "pairs (DuckDB)")
    assert duck.execute(f"SELECT born FROM {src} WHERE first = 'Ada'").fetchone()[0] == dt.datetime(
        1815, 12, 10, tzinfo=UTC
    )
    assert duck.execute(f"SELECT ranks FROM {src} WHERE last = 'Hopper'").fetchone()[0] == ["Rear Admiral"]


def test_alltags_indexeddb_metadata_in_parquet(convert, alltags):
    out = convert("dexie-alltags.json")
    for name, store in alltags.stores.items():
        for f in parquet_files(out.store(name)):
            kv = {k.decode(): v.decode() for k, v in pq.ParquetFile(f).metadata.metadata.items()}
            assert kv["idb.database"] == alltags.database == "alltags"
            assert kv["idb.version"] == str(alltags.version) == "3"
            assert kv["idb.store"] == name
            assert kv["idb.dexie_schema"] == store.schema
            assert kv["idb.inbound"] == ("true" if store.inbound else "false")


@pytest.mark.parametrize("rows_per_group", [1, 2, 4])
def test_alltags_row_groups(convert, alltags, duck, rows_per_group):
    """Small row groups (each encoded on its own, in parallel) read back exactly the same."""
    out = convert("dexie-alltags.json", "--row-group-rows", str(rows_per_group))
    for name, types in [("things", THINGS_TYPES), ("pairs", PAIRS_TYPES)]:
        rows = alltags[name].rows
        files = parquet_files(out.store(name))
        groups = sum(pq.ParquetFile(f).metadata.num_row_groups for f in files)
        assert groups == math.ceil(len(rows) / rows_per_group), f"{name}: {groups} row groups"
        expected = expected_rows(rows, types)
        check_rows(pyarrow_rows(pq.read_table(out.store(name))), expected, f"{name} / {rows_per_group}")
        expected = [{c: for_duckdb(v, types[c]) for c, v in e.items()} for e in expected]
        check_rows(duck_rows(duck, f"SELECT * FROM {rp(out.glob(name))}"), expected, f"{name} / {rows_per_group} (DuckDB)")


# ---------------------------------------------------------------------------------------
# the same shop, from the other export forms
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fixture,args",
    [
        ("orders.ndjson", ["--store", "orders"]),
        ("orders-array.json", ["--store", "orders"]),
        ("plain-shop.json", []),
    ],
)
def test_detect_timestamps(convert, shop, duck, fixture, args):
    """ISO-8601 strings become timestamp[ms, UTC] with --detect-timestamps, and every value
    equals the Dexie export's (whose Dates are epoch ms)."""
    plain = convert(fixture, *args)
    assert pq.read_schema(parquet_files(plain.store("orders"))[0]).field("created").type == pa.string()

    out = convert(fixture, *args, "--detect-timestamps")
    table = pq.read_table(out.store("orders"))
    assert table.schema.field("created").type == TS
    assert table.schema.field("deliveredAt").type == TS
    src = rp(out.glob("orders"))
    types = duck_describe(duck, src)
    assert types["created"] == types["deliveredAt"] == "TIMESTAMP WITH TIME ZONE"

    # the source's own ISO strings ...
    if fixture == "plain-shop.json":
        source = [Row(r, {}) for r in json.loads((FIXTURES / fixture).read_text(encoding="utf-8"))["orders"]]
    elif fixture.endswith(".ndjson"):
        source = load_ndjson(FIXTURES / fixture)
    else:
        source = [Row(r, {}) for r in json.loads((FIXTURES / fixture).read_text(encoding="utf-8"))]
    got = dict(duck.execute(f"SELECT id, created FROM {src}").fetchall())
    assert got == {r.raw["id"]: iso_to_datetime(r.raw["created"]) for r in source}
    # ... and the Dexie export's epoch ms: all the same instants and values
    dexie_created = {r.raw["id"]: ms_to_datetime(r.raw["created"]) for r in shop["orders"].rows}
    assert got == dexie_created
    data_cols = [c for c in ORDERS_TYPES if c != NULLS_COLUMN]
    expected = sorted(expected_rows(shop["orders"].rows, ORDERS_TYPES), key=lambda r: r["id"])
    actual = pyarrow_rows(table.select(data_cols + [NULLS_COLUMN]).sort_by("id"))
    check_rows(actual, expected, f"orders from {fixture}")
