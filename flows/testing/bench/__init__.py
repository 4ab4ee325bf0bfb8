"""Benchmarks that print figures: `python -m flows.bench WHAT`.

`google`: N unit sheets in the Google API emulator (50 ms per request): the requests and time
of the first pull and of a night with a few edits, ours against plain gspread, then 150 sheets
at Google's 60 reads/min quota (the limiter's waits skipped by a fake clock, and said so).

`cli`: a 9-unit `giamsat consolidate` end to end in Prefect's ephemeral mode, against a running
Prefect server, and the same work by the core alone; target: on a server ≤ 2× the core.

`checks`: N synthetic units of the real form held in memory (about 400 values each), then the
consolidation and every check (rules, outliers, completeness, timeliness) are timed — workbook
parsing aside. Target: 10,000 units in under 10 s and 2 GB on a 2-core machine.

`report`: the consolidated report (Word, HTML, appendix workbook, charts; PDF with `--pdf`) for
N synthetic units, each stage timed. Target: 150 units in under 10 s.

`scale`: a nation in one run (`--units`, default 3,321, the communes of Vietnam since 2025):
the consolidation and every check, then the whole report without PDF (published and internal),
each stage timed, with the process's peak memory. Target: checks + report under 60 s and 3 GB
on a 2-core machine. Then the Google side over `--accounts` (default 1) service accounts: the
sheets of a nation in the loopback emulator with Google's quotas enforced and a fake clock, for
the first night and a night with 10% of the sheets changed (`scale_google.google_figures`).
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
    scale = sub.add_parser("scale", help="a nation: checks and report for 3,321 units")
    scale.add_argument("--units", type=int, default=3321)
    scale.add_argument("--accounts", type=int, default=1,
                       help="Google service accounts the sheets are read over")
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
    elif args.what == "scale":
        scale_figures(args.units, args.accounts)


def scale_figures(units: int, accounts: int) -> None:
    """`bench scale`: the CPU side (`scale.core_figures`), then the Google side."""
    from flows.testing.bench.scale import core_figures
    from flows.testing.bench.scale_google import google_figures

    print("\n".join(core_figures(units)), flush=True)
    print("\n".join(google_figures(units, accounts)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
