"""Shared fixtures: the idbsync binary, a `convert` runner, and a DuckDB connection.

The tests build nothing. They run the binary named by $IDBSYNC_BIN (default
target/debug/idbsync, relative to the repository root): run `cargo build -p idbsync` first,
or ./scripts/test.sh, which does both.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import duckdb
import pytest

from idbfixtures import FIXTURES, REPO, ConvertFailed, DexieExport


@pytest.fixture(scope="session")
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


class Converted:
    """The result of one `idbsync convert`: the output root and the --json summary."""

    def __init__(self, root: Path, summary: dict):
        self.root = root
        self.summary = summary

    def store(self, name: str) -> Path:
        return self.root / name

    def glob(self, name: str) -> str:
        """The DuckDB glob of every Parquet file of a store (hive directories included)."""
        return f"{self.root / name}/**/*.parquet"

    def counts(self, name: str) -> dict:
        return next(s["counts"] for s in self.summary["stores"] if s["store"] == name)


@pytest.fixture
def convert(idbsync_bin: Path, tmp_path: Path):
    """convert(fixture, *args) runs `idbsync convert FIXTURE --out TMP [args]` in a fresh
    folder of this test's tmp_path and returns a `Converted`."""
    n = 0

    def run(fixture: str | Path, *args: str) -> Converted:
        nonlocal n
        n += 1
        src = Path(fixture)
        if not src.is_absolute():
            src = FIXTURES / src
        out = tmp_path / f"out{n}"
        cmd = [str(idbsync_bin), "convert", str(src), "--out", str(out), "--json", "--quiet", *args]
        p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            raise ConvertFailed(
                f"`{' '.join(cmd)}` exited {p.returncode}\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}"
            )
        return Converted(out, json.loads(p.stdout))

    return run


@pytest.fixture
def duck():
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    yield con
    con.close()


@pytest.fixture(scope="session")
def shop() -> DexieExport:
    return DexieExport(FIXTURES / "dexie-shop.json")


@pytest.fixture(scope="session")
def alltags() -> DexieExport:
    return DexieExport(FIXTURES / "dexie-alltags.json")
