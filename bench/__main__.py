"""`python -m bench` (`make bench`): runs the benchmarks, prints their figures and writes
bench/RESULTS.md. See bench/README.md for what each figure means.

    python -m bench                      # everything, writes RESULTS.md
    python -m bench --only roundtrips    # some of them (coldstart, roundtrips, overhead, throughput)
    python -m bench --quick --no-write   # fewer repetitions, shorter load, RESULTS.md untouched
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

from bench import coldstart, overhead, roundtrips, throughput
from bench.common import Section, machine, services

RESULTS = Path(__file__).with_name("RESULTS.md")
NAMES = ("coldstart", "roundtrips", "overhead", "throughput")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default=",".join(NAMES), help="comma-separated benchmarks to run")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and a shorter load")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients of the throughput run")
    parser.add_argument(
        "--duration", type=float, default=15.0, help="seconds of orders in the throughput run"
    )
    args = parser.parse_args(argv)
    wanted = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(wanted) - set(NAMES)
    if unknown:
        parser.error(f"unknown benchmarks: {sorted(unknown)}; choose from {', '.join(NAMES)}")

    work = Path(tempfile.mkdtemp(prefix="shop-bench-"))
    info = machine()
    started = dt.datetime.now(dt.UTC)
    info["load_start"] = f"{os.getloadavg()[0]:.1f}"
    print(f"shop benchmarks - {info['cpu']}, {info['nproc']} CPUs, Python {info['python']} (logs: {work})")
    sections: list[Section] = []

    def attempt(name: str, step: object) -> None:
        began = time.perf_counter()
        print(f"\n== {name} ...", flush=True)
        try:
            section = step()  # type: ignore[operator]
        except Exception as exc:
            section = Section(f"{name}: FAILED")
            section.add("```", traceback.format_exc().rstrip(), "```")
            section.shortfalls.append(f"{name}: the benchmark failed ({type(exc).__name__}: {exc})"[:300])
        section.lines.append(f"\n_{name}: {time.perf_counter() - began:.0f} s_")
        print(section.markdown(), flush=True)
        sections.append(section)

    in_process = [name for name in wanted if name in ("coldstart", "roundtrips", "overhead")]
    if in_process:
        with services(work) as stack:
            if "coldstart" in in_process:
                attempt("coldstart", lambda: coldstart.run(stack, work, repeats=2 if args.quick else 5))
            if "roundtrips" in in_process:
                attempt("roundtrips", lambda: roundtrips.run(stack, work))
            if "overhead" in in_process:
                attempt("overhead", lambda: overhead.run(stack, work, iterations=40 if args.quick else 200))
    if "throughput" in wanted:
        duration = min(args.duration, 5.0) if args.quick else args.duration
        attempt("throughput", lambda: throughput.run(work, clients=args.clients, duration=duration))

    shortfalls = [item for section in sections for item in section.shortfalls]
    info["load_end"] = f"{os.getloadavg()[0]:.1f}"
    report = render(info, started, sections, shortfalls)
    if not args.no_write:
        RESULTS.write_text(report, encoding="utf-8")
        print(f"\nwrote {RESULTS}")
    print("\nTargets missed:" if shortfalls else "\nEvery target met.")
    for item in shortfalls:
        print(f"- {item}")
    failed = any(section.title.endswith("FAILED") for section in sections)
    return 1 if failed else 0


def render(
    info: dict[str, str],
    started: dt.datetime,
    sections: list[Section],
    shortfalls: list[str],
) -> str:
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m bench`); how to read them: [README.md](README.md).",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC",
        f"- Machine: {info['nproc']} CPUs (`nproc`), {info['cpu']}, {info['platform']}",
        f"- Python {info['python']}",
        f"- Load average (1 min) at the start {info.get('load_start')}, at the end {info.get('load_end')}: "
        "other processes on the machine share its CPUs with the run",
        "- Run: `" + " ".join(["python -m bench", *sys.argv[1:]]) + "`",
        "",
        "## Targets missed",
        "",
        *([f"- {item}" for item in shortfalls] or ["None."]),
        "",
    ]
    for section in sections:
        lines.append(section.markdown())
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    sys.exit(main())
