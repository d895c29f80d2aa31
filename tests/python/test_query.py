"""`idbsync query` answers checked against DuckDB on the same Parquet files.

Each query runs twice: through `idbsync query ROOT SQL --format json` (DataFusion over
the committed datasets, partition columns typed from the folder names) and through DuckDB
over `read_parquet(store/**/*.parquet, hive_partitioning = true)`. The answers must be
equal, row for row.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from idbfixtures import REPO

# (name, idbsync SQL, DuckDB SQL over the view `orders`); both sort their rows.
QUERIES = [
    (
        "partition filter",
        "SELECT id, total FROM orders WHERE day = DATE '2024-03-05' ORDER BY id",
        "SELECT id, total FROM orders WHERE day = DATE '2024-03-05' ORDER BY id",
    ),
    (
        "partition range and group-by",
        "SELECT day, count(*) AS n, round(sum(total), 2) AS total FROM orders "
        "WHERE day BETWEEN DATE '2024-03-10' AND DATE '2024-03-20' GROUP BY day ORDER BY day",
        "SELECT day, count(*) AS n, round(sum(total), 2) AS total FROM orders "
        "WHERE day BETWEEN DATE '2024-03-10' AND DATE '2024-03-20' GROUP BY day ORDER BY day",
    ),
    (
        "group-by status",
        "SELECT status, count(*) AS n, max(total) AS top FROM orders GROUP BY status ORDER BY status",
        "SELECT status, count(*) AS n, max(total) AS top FROM orders GROUP BY status ORDER BY status",
    ),
    (
        "nested struct field",
        "SELECT shipping['city'] AS city, count(*) AS n FROM orders GROUP BY 1 ORDER BY 1",
        "SELECT shipping.city AS city, count(*) AS n FROM orders GROUP BY 1 ORDER BY 1",
    ),
    (
        "list of structs, unnested",
        "SELECT u['sku'] AS sku, sum(u['qty']) AS qty FROM (SELECT unnest(items) AS u FROM orders) "
        "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5",
        "SELECT u.sku AS sku, sum(u.qty) AS qty FROM (SELECT unnest(items) AS u FROM orders) "
        "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5",
    ),
    (
        "camelCase columns and nulls",
        "SELECT customerId, count(giftMessage) AS gifts, count(*) AS n FROM orders GROUP BY customerId ORDER BY customerId",
        'SELECT "customerId", count("giftMessage") AS gifts, count(*) AS n FROM orders GROUP BY 1 ORDER BY 1',
    ),
]


def idbsync_json(bin_: Path, root: Path, sql: str) -> list[dict]:
    p = subprocess.run(
        [str(bin_), "query", str(root), sql, "--format", "json"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert p.returncode == 0, f"idbsync query failed: {p.stderr}"
    return json.loads(p.stdout)


def normalise(rows: list[dict]) -> list[dict]:
    """Dates as ISO text and numbers as floats, so DuckDB's Python values and JSON compare."""
    out = []
    for r in rows:
        o = {}
        for k, v in r.items():
            if hasattr(v, "isoformat"):
                v = v.isoformat()
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                v = float(v)
            o[k] = v
        out.append(o)
    return out


@pytest.mark.parametrize("name,ours,theirs", QUERIES, ids=[q[0] for q in QUERIES])
def test_query_answers_equal_duckdb(convert, duck, idbsync_bin, name, ours, theirs):
    out = convert("dexie-shop.json", "--partition-by", "day(created)")
    duck.execute(f"CREATE VIEW orders AS SELECT * FROM read_parquet('{out.glob('orders')}', hive_partitioning = true)")
    cur = duck.execute(theirs)
    cols = [d[0] for d in cur.description]
    expected = [dict(zip(cols, row)) for row in cur.fetchall()]
    actual = idbsync_json(idbsync_bin, out.root, ours)
    assert expected, f"{name}: DuckDB returned no rows; the query checks nothing"
    assert normalise(actual) == normalise(expected), name
