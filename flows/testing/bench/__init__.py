"""Benchmarks that print figures: `python -m flows.bench WHAT`.

`google`: N unit sheets in the Google API emulator (50 ms per request): the requests and time
of the first pull and of a night with a few edits, ours against plain gspread, then 150 sheets
at Google's 60 reads/min quota (the limiter's waits skipped by a fake clock, and said so).

`cli`: a 9-unit `giamsat consolidate` end to end in Prefect's ephemeral mode, against a running
Prefect server, and the same work by the core alone; target: on a server ≤ 2× the core.

`checks`: N synthetic units of the real form held in memory (about 400 values each), then the
consolidation and every check (rules, outliers, completeness, timeliness) are timed — workbook
parsing aside. Target: 10,000 units in under 10 s and 2 GB on a 2-core machine.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m flows.bench")
    sub = parser.add_subparsers(dest="what", required=True)
    checks = sub.add_parser("checks", help="checks and consolidation on N synthetic units")
    checks.add_argument("--units", type=int, default=10_000)
    report = sub.add_parser("report", help="the consolidated report for N synthetic units")
    report.add_argument("--units", type=int, default=150)
    report.add_argument("--pdf", action="store_true", help="also time the LibreOffice PDF")
    read = sub.add_parser("read", help="reading N workbooks: ours against plain openpyxl")
    read.add_argument("--units", type=int, default=150)
    sub.add_parser("cli", help="a 9-unit consolidate: ephemeral vs server vs the core alone")
    google = sub.add_parser("google", help="Google Sheets pull: requests and time, vs gspread")
    google.add_argument("--units", type=int, default=150)
    google.add_argument("--changed", type=int, default=5)
    google.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    args = parser.parse_args(argv)
    if args.what == "google":
        from flows.testing.bench.google import bench_google

        bench_google(args.units, args.changed, args.latency)
    elif args.what == "checks":
        from flows.testing.bench.checks import bench_checks

        bench_checks(args.units)
    elif args.what == "read":
        from flows.testing.bench.read import run as read_run

        print("\n".join(read_run(args.units)))
    elif args.what == "cli":
        from flows.testing.bench.cli import run as cli_run

        print("\n".join(cli_run()))
    elif args.what == "report":
        from flows.testing.bench.report import run

        print("\n".join(run(args.units, args.pdf)))


if __name__ == "__main__":
    main(sys.argv[1:])
