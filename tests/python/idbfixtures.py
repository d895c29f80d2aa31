"""Expected values for the readback tests, computed from the fixture files themselves.

The Dexie exports in testdata/fixtures/ carry typeson `$types`; this module undoes the
tags a test needs (Date → datetime, Blob → {type, data}, typed arrays → numbers, …) and
shapes the result like pyarrow's ``to_pylist()`` for a given Arrow type, so that a test
can compare what a peer reader gets back with what the browser stored, row by row.

Tag encodings are described in testdata/exporter/README.md.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import struct
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "testdata" / "fixtures"

UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)

#: A key that is not in the object at all (as opposed to a JSON null).
MISSING = object()


class ConvertFailed(AssertionError):
    """`idbsync convert` exited non-zero (so that an xfail can name exactly this failure)."""


class Json:
    """Expected content of a JSON-text cell: compared with the parsed text."""

    def __init__(self, value: Any):
        self.value = value

    def __repr__(self) -> str:
        return f"Json({json.dumps(self.value)})"

#: typeson typed-array tag → struct format of one element (little-endian, as in browsers).
TYPED_ARRAYS = {
    "int8array2": "b",
    "uint8array2": "B",
    "uint8clampedarray2": "B",
    "int16array2": "h",
    "uint16array2": "H",
    "int32array2": "i",
    "uint32array2": "I",
    "float32array2": "f",
    "float64array2": "d",
}

SPECIAL_FLOATS = {"nan": math.nan, "infinity": math.inf, "negativeInfinity": -math.inf}


def ms_to_datetime(ms: int) -> dt.datetime:
    """Epoch milliseconds → aware UTC datetime (exact; also before 1900 and before 1970)."""
    return EPOCH + dt.timedelta(milliseconds=ms)


def iso_to_datetime(s: str) -> dt.datetime:
    """An ISO-8601 string as JavaScript's Date.prototype.toJSON writes it."""
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(UTC)


def datetime_to_ms(d: dt.datetime) -> int:
    delta = d - EPOCH
    return (delta.days * 86_400_000) + (delta.seconds * 1000) + delta.microseconds // 1000


# ---------------------------------------------------------------------------------------
# Dexie export files
# ---------------------------------------------------------------------------------------


class Row:
    """One record of an export: the JSON value and its typeson tags (keyed by escaped path)."""

    def __init__(self, raw: Any, types: dict[str, str]):
        self.raw = raw
        self.types = types

    def tag(self, path: list) -> str | None:
        return self.types.get(keypath(path))

    def at(self, path: list) -> Any:
        v = self.raw
        for seg in path:
            if isinstance(v, dict):
                if seg not in v:
                    return MISSING
                v = v[seg]
            elif isinstance(v, list):
                v = v[int(seg)]
            else:
                return MISSING
        return v

    def subtypes(self, path: list) -> dict[str, str]:
        """The tags under `path`, re-rooted there ("" is the value itself)."""
        p = keypath(path)
        if p == "":
            return dict(self.types)
        out = {}
        for k, v in self.types.items():
            if k == p:
                out[""] = v
            elif k.startswith(p + "."):
                out[k[len(p) + 1 :]] = v
        return out

    def encapsulated(self, path: list) -> Any:
        """The value at `path` as a JSON-text column holds it: the plain JSON value, or the
        typeson encapsulation ``{"$": value, "$types": {"$": tags}}`` when it carries tags."""
        v = self.at(path)
        t = self.subtypes(path)
        return {"$": v, "$types": {"$": t}} if t else v


class Store:
    def __init__(self, name: str, schema: str, inbound: bool, rows: list[Row]):
        self.name, self.schema, self.inbound, self.rows = name, schema, inbound, rows


class DexieExport:
    """A parsed dexie-export-import v1 file."""

    def __init__(self, path: Path):
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert doc["formatName"] == "dexie" and doc["formatVersion"] == 1, path
        data = doc["data"]
        self.database = data["databaseName"]
        self.version = data["databaseVersion"]
        schemas = {t["name"]: t["schema"] for t in data["tables"]}
        self.row_counts = {t["name"]: t["rowCount"] for t in data["tables"]}
        self.stores: dict[str, Store] = {}
        for t in data["data"]:
            rows = []
            for r in t["rows"]:
                if t["inbound"]:
                    r = dict(r)
                    types = r.pop("$types", {})
                    rows.append(Row(r, types))
                else:
                    # out-of-line: {"$": [key, value], "$types": {"$": {...}}}
                    rows.append(Row(r["$"], r.get("$types", {}).get("$", {})))
            self.stores[t["tableName"]] = Store(t["tableName"], schemas[t["tableName"]], t["inbound"], rows)

    def __getitem__(self, store: str) -> Store:
        return self.stores[store]


def escape_segment(seg: Any) -> str:
    return str(seg).replace("~", "~0").replace(".", "~1")


def keypath(path: list) -> str:
    return ".".join(escape_segment(s) for s in path)


def unkeypath(p: str) -> list[str]:
    return [s.replace("~1", ".").replace("~0", "~") for s in p.split(".")] if p else []


# ---------------------------------------------------------------------------------------
# Expected cell values, shaped like pyarrow's to_pylist()
# ---------------------------------------------------------------------------------------


def is_json(t: pa.DataType) -> bool:
    return isinstance(t, pa.BaseExtensionType) and t.extension_name == "arrow.json"


def expect(row: Row, path: list, t: pa.DataType) -> Any:
    """What pyarrow should return for the value at `path` of `row` in a column of type `t`."""
    v = row.at(path)
    tag = row.tag(path)
    if v is MISSING or v is None or tag in ("undef", "sparseUndefined"):
        return None
    if tag == "#":  # a second reference to an object of the same record
        target = unkeypath(v[1:])
        return expect(row, target, t)
    if is_json(t):
        return Json(row.encapsulated(path))
    if pa.types.is_null(t):
        raise AssertionError(f"a value at {keypath(path)} in a null column: {v!r}")
    if pa.types.is_timestamp(t):
        if tag == "date":
            return None if v == "NaN" else ms_to_datetime(v)
        assert isinstance(v, str), (path, v)
        return iso_to_datetime(v)
    if pa.types.is_decimal(t):
        assert tag in ("bigint", "bigintObject"), (path, tag)
        return Decimal(int(v))
    if pa.types.is_integer(t):
        if tag in ("bigint", "bigintObject"):
            return int(v)
        assert isinstance(v, int) and not isinstance(v, bool), (path, v)
        return v
    if pa.types.is_floating(t):
        if tag in SPECIAL_FLOATS:
            return SPECIAL_FLOATS[tag]
        return float(v)
    if pa.types.is_boolean(t):
        assert isinstance(v, bool), (path, v)
        return v
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        assert isinstance(v, str), (path, v)
        return v
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        if tag == "arraybuffer":
            return resolve_buffer(row, path)
        if tag == "dataview":
            b = base64.b64decode(v["encoded"])
            return b[v["byteOffset"] : v["byteOffset"] + v["byteLength"]]
        raise AssertionError(f"binary column, tag {tag!r} at {keypath(path)}")
    if pa.types.is_map(t):
        assert tag == "map", (path, tag)
        return [
            (expect(row, path + [i, 0], t.key_type), expect(row, path + [i, 1], t.item_type))
            for i in range(len(v))
        ]
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        if tag in TYPED_ARRAYS:
            buf = resolve_buffer(row, path + ["buffer"])
            fmt = TYPED_ARRAYS[tag]
            return list(struct.unpack_from(f"<{v['length']}{fmt}", buf, v["byteOffset"]))
        assert isinstance(v, list), (path, tag, v)
        return [expect(row, path + [i], t.value_type) for i in range(len(v))]
    if pa.types.is_struct(t):
        if tag == "blob2":
            return {"type": v["type"], "data": base64.b64decode(v["data"])}
        if tag == "regexp":
            return {"source": v["source"], "flags": v["flags"]}
        assert isinstance(v, dict), (path, v)
        return {f.name: expect(row, path + [f.name], f.type) for f in t}
    raise AssertionError(f"no expectation for type {t} at {keypath(path)}")


def resolve_buffer(row: Row, path: list) -> bytes:
    v, tag = row.at(path), row.tag(path)
    if tag == "#":
        return resolve_buffer(row, unkeypath(v[1:]))
    assert tag == "arraybuffer", (path, tag)
    return base64.b64decode(v)


def same(actual: Any, expected: Any, where: str = "", key_order: bool = True) -> None:
    """Exact, recursive equality; NaN equals NaN, floats must be bit-identical (so 0.0 ≠ -0.0),
    and `Json` expectations compare JSON text by its parsed value."""
    if isinstance(expected, Json):
        assert isinstance(actual, str), f"{where}: expected JSON text, got {actual!r}"
        # Strict: 1 is not 1.0 nor true. Key order inside $types is free; object keys of the
        # stored value itself keep their order (a JavaScript object's property order).
        parsed = json.loads(actual)
        if isinstance(expected.value, dict) and set(expected.value) == {"$", "$types"}:
            assert isinstance(parsed, dict) and set(parsed) == {"$", "$types"}, f"{where}: {actual!r}"
            same(parsed["$"], expected.value["$"], f"{where}<json $>")
            same(parsed["$types"], expected.value["$types"], f"{where}<json $types>", key_order=False)
        else:
            same(parsed, expected.value, f"{where}<json>")
        return
    if isinstance(expected, float):
        assert isinstance(actual, float), f"{where}: {actual!r} is not a float ({expected!r})"
        if math.isnan(expected):
            assert math.isnan(actual), f"{where}: {actual!r} != NaN"
        else:
            assert struct.pack("<d", actual) == struct.pack("<d", expected), f"{where}: {actual!r} != {expected!r}"
        return
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is not a dict ({expected!r})"
        if key_order:
            assert list(actual) == list(expected), f"{where}: keys {list(actual)} != {list(expected)}"
        else:
            assert sorted(actual) == sorted(expected), f"{where}: keys {sorted(actual)} != {sorted(expected)}"
        for k in expected:
            same(actual[k], expected[k], f"{where}.{k}", key_order)
        return
    if isinstance(expected, (list, tuple)):
        assert isinstance(actual, (list, tuple)), f"{where}: {actual!r} is not a list ({expected!r})"
        assert len(actual) == len(expected), f"{where}: {len(actual)} items != {len(expected)}: {actual!r} vs {expected!r}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            same(a, e, f"{where}[{i}]", key_order)
        return
    if expected is None:
        assert actual is None, f"{where}: {actual!r} is not null"
        return
    assert type(actual) is type(expected) or (
        isinstance(actual, dt.datetime) and isinstance(expected, dt.datetime)
    ), f"{where}: {actual!r} ({type(actual).__name__}) vs {expected!r} ({type(expected).__name__})"
    if isinstance(expected, dt.datetime):
        assert actual.tzinfo is not None and actual.utcoffset() is not None, f"{where}: {actual!r} is naive"
    assert actual == expected, f"{where}: {actual!r} != {expected!r}"


# ---------------------------------------------------------------------------------------
# pyarrow → DuckDB Python shapes
# ---------------------------------------------------------------------------------------


def for_duckdb(value: Any, t: pa.DataType) -> Any:
    """Reshape a pyarrow-shaped expectation as DuckDB's Python client returns it:
    MAP → dict (pyarrow gives a list of (key, value) pairs); JSON text stays text."""
    if value is None or is_json(t):
        return value
    if pa.types.is_map(t):
        pairs = value.items() if isinstance(value, dict) else value
        return {for_duckdb(k, t.key_type): for_duckdb(v, t.item_type) for k, v in pairs}
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return [for_duckdb(v, t.value_type) for v in value]
    if pa.types.is_struct(t):
        return {f.name: for_duckdb(value[f.name], f.type) for f in t}
    return value


def strip(t: pa.DataType) -> pa.DataType:
    """The logical type alone: no nullability, field metadata or list/map field names."""
    if is_json(t):
        return pa.json_()
    if pa.types.is_map(t):
        return pa.map_(strip(t.key_type), strip(t.item_type))
    if pa.types.is_list(t):
        return pa.list_(strip(t.value_type))
    if pa.types.is_large_list(t):
        return pa.large_list(strip(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, strip(f.type)) for f in t])
    return t
