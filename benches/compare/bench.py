#!/usr/bin/env python3
"""idbsync side by side with the tools its users would otherwise reach for.

    bench.py COMMAND [OPTIONS]        (COMMAND --help: its options)

Usually run through benches/compare/bench.sh COMMAND (or the wrapper named after the
command: compare.sh, infer-vs-duckdb.sh, ...), which builds the release binaries and sets
up what the command needs first. Each command measures, then writes its Markdown report
to benches/results/ (or --out) and prints it. The shared machinery (options, measuring,
medians, report writing) is in harness.py; see benches/compare/README.md.
"""

from __future__ import annotations

import sys

sys.dont_write_bytecode = True  # keep benches/compare free of __pycache__

import argparse  # noqa: E402
import time  # noqa: E402

import compare  # noqa: E402  (same directory)
import convert_shapes  # noqa: E402
import convert_vs_duckdb  # noqa: E402
import harness  # noqa: E402
import infer_vs_duckdb  # noqa: E402
import put_vs_fsshell  # noqa: E402
import query_vs_duckdb  # noqa: E402
import sync_vs_spark  # noqa: E402

# Each command's module has HELP, add_arguments(parser), check(parser, args) (resolves
# the defaults, fails early on a missing binary or tool) and
# run(args, idbsync, gen, origin) -> (report, default path[, all checks passed]).
COMMANDS = {
    "compare": compare,
    "infer": infer_vs_duckdb,
    "convert": convert_vs_duckdb,
    "shapes": convert_shapes,
    "query": query_vs_duckdb,
    "put": put_vs_fsshell,
    "sync": sync_vs_spark,
}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="benches/compare/bench.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parsers = {}
    for name, mod in COMMANDS.items():
        parsers[name] = sub.add_parser(
            name, help=mod.HELP, description=mod.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        mod.add_arguments(parsers[name])
    args = p.parse_args(argv)
    args.argv = argv[argv.index(args.command) + 1 :]  # the command's own arguments
    mod = COMMANDS[args.command]
    mod.check(parsers[args.command], args)
    t0 = time.perf_counter()
    result = harness.with_snapshot(
        args.idbsync, lambda idbsync: mod.run(args, idbsync, args.gen.resolve(), args.idbsync.resolve())
    )
    report, path, ok = (*result, True)[:3]
    harness.write_report(args.out or path, report)
    print(f"took {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
