"""Triage throughput benchmark, one command: ``.venv/bin/python -m bench.triage``.

On one core (pinned with ``os.sched_setaffinity`` where the platform has it), every reply
of ``tests/triage/labelled.jsonl`` repeated in whole passes to at least ``--calls``
(20,000) calls, after a warm-up pass:

(a) baseline: the JSON Lines contract's own I/O with no triage: read each input line from
    a StringIO, ``json.loads`` it, ``json.dumps`` a fixed small result, write it out.
    Measured before and after the rest; ratios are against the mean of both.
(b) ``reminders.triage.triage()`` alone, each call timed: replies/s, p50/p99/max
    latency, and latency by length class of the reply.
(c) the whole CLI path, ``reminders.triage.cli.run`` over an in-memory StringIO of the
    same lines (validation, triage, ``to_json``, ``json.dumps``).
(d) one synthetic 1,600-character reply (ten SMS segments run together, the longest a
    phone sends as one message) built from the labelled texts, so a long ramble's cost
    shows even though the labelled set has nothing that long.

The target is at least 2,000 replies a second on one core for (b). Figures are printed as
Markdown for docs/benchmarks.md. Nothing here is a timed test: the test runs ``measure``
on a tiny input and checks only that the report has its fields.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reminders.triage import triage  # noqa: E402
from reminders.triage.cli import run as cli_run  # noqa: E402

LABELLED = ROOT / "tests" / "triage" / "labelled.jsonl"
TARGET_PER_SECOND = 2_000
LONG_CHARS = 1_600  # 10 concatenated SMS segments of 160 characters
# The fields of the JSON Lines contract (and the triage() keywords) a labelled row may
# carry; gold labels (severity, categories) are left out so the CLI sees real input.
CONTRACT_FIELDS = (
    "text",
    "expects",
    "lang",
    "hours_since_procedure",
    "question",
    "asked",
    "concerning_answer",
)
# What the baseline writes for every line: the size of a typical CLI answer.
FIXED_RESULT = {"severity": "routine", "categories": ["other"], "parsed": {}}
# Upper bounds (exclusive) of the length classes, in characters.
LENGTH_CLASSES = ((20, "1–19"), (50, "20–49"), (100, "50–99"), (200, "100–199"))


@dataclass
class LengthClass:
    label: str
    replies: int
    calls: int
    mean_us: float
    p99_us: float


@dataclass
class Report:
    """Everything one run measured; ``markdown()`` renders it for docs/benchmarks.md."""

    started: datetime
    core: str
    replies: int
    passes: int
    calls: int
    triage_per_s: float
    cli_per_s: float
    baseline_per_s: float
    baseline_before_per_s: float
    baseline_after_per_s: float
    p50_us: float
    p99_us: float
    max_us: float
    max_chars: int
    long_chars: int
    long_mean_us: float
    by_length: list[LengthClass] = field(default_factory=list)

    @property
    def triage_ratio(self) -> float:
        return self.triage_per_s / self.baseline_per_s

    @property
    def cli_ratio(self) -> float:
        return self.cli_per_s / self.baseline_per_s

    @property
    def slowest_class(self) -> LengthClass:
        return max(self.by_length, key=lambda c: c.mean_us)

    @property
    def meets_target(self) -> bool:
        return self.triage_per_s >= TARGET_PER_SECOND

    def markdown(self) -> str:
        slow = self.slowest_class
        rows = [
            ("core", self.core),
            ("input", f"{self.replies} labelled replies × {self.passes} passes = "
                      f"{self.calls:,} calls (after one warm-up pass)"),
            ("(a) baseline: JSON Lines I/O, no triage, before / after",
             f"{self.baseline_before_per_s:,.0f} / {self.baseline_after_per_s:,.0f} lines/s"),
            ("(b) `triage()` alone", f"{self.triage_per_s:,.0f} replies/s"),
            ("(c) CLI path, `cli.run` over StringIO", f"{self.cli_per_s:,.0f} replies/s"),
            ("**(b)/(a)**, against the mean of both (a)",
             f"**{self.triage_ratio:.4f}** (a reply costs {1 / self.triage_ratio:.0f}× "
             f"the I/O)"),
            ("**(c)/(a)**", f"**{self.cli_ratio:.4f}** ({1 / self.cli_ratio:.0f}×)"),
            ("(c)/(b)", f"{self.cli_per_s / self.triage_per_s:.2f}"),
            ("`triage()` latency p50 / p99 / max",
             f"{self.p50_us:,.0f} µs / {self.p99_us:,.0f} µs / {self.max_us:,.0f} µs "
             f"(max on a {self.max_chars}-character reply)"),
        ]
        for c in self.by_length:
            what = "1 reply" if c.replies == 1 else f"{c.replies} replies"
            rows.append((f"latency, {c.label} characters ({what}, {c.calls:,} calls)",
                         f"mean {c.mean_us:,.0f} µs, p99 {c.p99_us:,.0f} µs"))
        rows += [
            ("slowest length class", f"{slow.label} characters: mean {slow.mean_us:,.0f} µs "
                                     f"({1e6 / slow.mean_us:,.0f} replies/s)"),
            (f"target ≥ {TARGET_PER_SECOND:,} replies/s on one core for (b)",
             "met" if self.meets_target else "**not met**"),
        ]
        lines = [f"Run of {self.started:%Y-%m-%d %H:%M} UTC", "", "| measure | value |",
                 "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in rows]
        return "\n".join(lines)


def load_rows(path: Path = LABELLED) -> list[dict[str, Any]]:
    """The labelled replies cut down to the contract's fields, in file order."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            labelled = json.loads(line)
            rows.append({k: labelled[k] for k in CONTRACT_FIELDS if k in labelled})
    return rows


def long_reply(rows: Sequence[dict[str, Any]], chars: int = LONG_CHARS) -> str:
    """A ``chars``-character reply made of the labelled texts run together, in order."""
    text = ""
    while len(text) < chars:
        for row in rows:
            text += row["text"] + ". "
            if len(text) >= chars:
                break
    return text[:chars]


def pin_one_core() -> str:
    """Pin this process to one CPU; say which, or why not (the report prints it)."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no os.sched_setaffinity on this platform)"
    allowed = sorted(os.sched_getaffinity(0))
    # The last CPU rather than CPU 0, which usually takes more of the interrupts.
    cpu = allowed[-1]
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu} of {len(allowed)} (os.sched_setaffinity)"


def measure(
    rows: Sequence[dict[str, Any]],
    *,
    calls: int = 20_000,
    core: str = "not pinned",
    long_chars: int = LONG_CHARS,
    long_calls: int = 200,
) -> Report:
    """Run (a)–(d) over ``rows`` repeated in whole passes to at least ``calls`` calls."""
    if not rows:
        raise ValueError("rows: no replies to triage")
    started = datetime.now(UTC)
    passes = max(1, math.ceil(calls / len(rows)))
    kwargs = [_triage_kwargs(row) for row in rows]
    lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows) * passes
    total = len(rows) * passes

    # Warm-up: imports, the lexicon's caches, the interpreter's specialised bytecode.
    for kw in kwargs:
        triage(**kw)
    cli_run(io.StringIO(lines[: len(lines) // passes]), io.StringIO())
    _baseline(lines)

    before = _baseline(lines)
    durations, elapsed = _triage_loop(kwargs, passes)
    cli_per_s = _cli(lines, total)
    after = _baseline(lines)

    n = len(rows)
    per_row: list[list[int]] = [durations[i::n] for i in range(n)]
    ordered = sorted(durations)
    slowest = max(range(len(durations)), key=durations.__getitem__)
    by_length = _by_length(rows, per_row)

    long_text = long_reply(rows, long_chars)
    long_kw: dict[str, Any] = {"text": long_text, "lang": "en"}
    triage(**long_kw)
    long_ns, _ = _triage_loop([long_kw], long_calls)
    long_mean_us = statistics.fmean(long_ns) / 1000
    by_length.append(LengthClass(f"{long_chars:,} (synthetic)", 1, long_calls, long_mean_us,
                                 _quantile(sorted(long_ns), 0.99) / 1000))

    return Report(
        started=started,
        core=core,
        replies=n,
        passes=passes,
        calls=total,
        triage_per_s=total / elapsed,
        cli_per_s=cli_per_s,
        baseline_per_s=(before + after) / 2,
        baseline_before_per_s=before,
        baseline_after_per_s=after,
        p50_us=_quantile(ordered, 0.50) / 1000,
        p99_us=_quantile(ordered, 0.99) / 1000,
        max_us=ordered[-1] / 1000,
        max_chars=len(rows[slowest % n]["text"]),
        long_chars=len(long_text),
        long_mean_us=long_mean_us,
        by_length=by_length,
    )


def _triage_kwargs(row: dict[str, Any]) -> dict[str, Any]:
    hours = row.get("hours_since_procedure")
    return {
        "text": row["text"],
        "expects": row.get("expects"),
        "lang": row.get("lang"),
        "hours_since_procedure": None if hours is None else float(hours),
        "question": row.get("question"),
        "asked": row.get("asked"),
        "concerning_answer": row.get("concerning_answer"),
    }


def _triage_loop(kwargs: list[dict[str, Any]], passes: int) -> tuple[list[int], float]:
    """Per-call nanoseconds and the loop's wall time; the two clock reads per call cost
    well under a microsecond, noise beside a triage call."""
    clock = time.perf_counter_ns
    durations: list[int] = []
    record = durations.append
    start = time.perf_counter()
    for _ in range(passes):
        for kw in kwargs:
            t0 = clock()
            triage(**kw)
            record(clock() - t0)
    return durations, time.perf_counter() - start


def _cli(lines: str, total: int) -> float:
    stdin, stdout = io.StringIO(lines), io.StringIO()
    start = time.perf_counter()
    cli_run(stdin, stdout)
    elapsed = time.perf_counter() - start
    answered = stdout.getvalue().count("\n")
    if answered != total:
        raise RuntimeError(f"cli: {answered} answers for {total} lines")
    return total / elapsed


def _baseline(lines: str) -> float:
    """Lines/s of the contract's I/O alone: what the CLI would cost with a free triage."""
    stdin, stdout = io.StringIO(lines), io.StringIO()
    count = 0
    start = time.perf_counter()
    for line in stdin:
        json.loads(line)
        stdout.write(json.dumps(FIXED_RESULT, ensure_ascii=False) + "\n")
        count += 1
    return count / (time.perf_counter() - start)


def _by_length(rows: Sequence[dict[str, Any]], per_row: list[list[int]]) -> list[LengthClass]:
    found = []
    lower = 0
    bounds: list[tuple[float, str]] = [*LENGTH_CLASSES, (math.inf, f"{LENGTH_CLASSES[-1][0]}+")]
    for upper, name in bounds:
        picked = [i for i, row in enumerate(rows) if lower <= len(row["text"]) < upper]
        lower = int(min(upper, sys.maxsize))
        if not picked:
            continue
        samples = sorted(d for i in picked for d in per_row[i])
        found.append(LengthClass(name, len(picked), len(samples),
                                 statistics.fmean(samples) / 1000,
                                 _quantile(samples, 0.99) / 1000))
    return found


def _quantile(ordered: Sequence[int], q: float) -> float:
    return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


def _machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    python = platform.python_version()
    return f"{model}, {os.cpu_count()} CPUs, {platform.platform()}, Python {python}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--input", type=Path, default=LABELLED)
    args = parser.parse_args(argv)
    if args.calls < 1:
        parser.error("--calls: must be at least 1")
    try:
        load = float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        load = None
    if load is not None and load > 0.5:
        print(f"warning: load average {load} before starting; figures will be noisy",
              file=sys.stderr)
    core = pin_one_core()
    print(f"{core}; {_machine()}; load average {load}", file=sys.stderr)
    report = measure(load_rows(args.input), calls=args.calls, core=core)
    print(report.markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
