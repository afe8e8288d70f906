"""Timing: fresh arguments, calls timed one by one, rates, interleaved batches, percentiles.

Every comparison interleaves pythagoras and its peer (A B A B ...), so that a slow spell of a
shared machine falls on both sides of a ratio.
"""

from __future__ import annotations

import gc
import itertools
import statistics
import time
import timeit
from collections.abc import Callable, Sequence
from typing import Any

_fresh = itertools.count(10**9)  # every miss argument comes from here: none is ever seen twice


def fresh(n: int) -> list[int]:
    """``n`` integers never handed out before in this process (arguments of new calls)."""
    return [next(_fresh) for _ in range(n)]


def each(call: Callable[[int], Any], args: Sequence[int], expect: Callable[[int], Any]) -> list[float]:
    """Seconds of each ``call(x)``, one after the other, each value checked against ``expect(x)``."""
    times, clock = [], time.perf_counter
    for x in args:
        t0 = clock()
        value = call(x)
        times.append(clock() - t0)
        if value != expect(x):
            raise SystemExit(f"a call on {x} returned {value!r}, not {expect(x)!r}")
    return times


def rate(run: Callable[[list[int]], Sequence[Any]], args: list[int], expect: Callable[[int], Any]) -> float:
    """Calls per second of one ``run(args)`` (a map), its values checked."""
    gc.collect()
    t0 = time.perf_counter()
    values = list(run(args))
    seconds = time.perf_counter() - t0
    if values != [expect(a) for a in args]:
        raise SystemExit("a map returned wrong values")
    return len(args) / seconds


def stats(seconds: Sequence[float], unit: str = "ms") -> dict[str, Any]:
    """p50, p90, min, max and mean of ``seconds`` in ``unit`` (``ms`` or ``us``), and how many."""
    scale = {"ms": 1e3, "us": 1e6, "s": 1.0}[unit]
    v = sorted(s * scale for s in seconds)
    p90 = statistics.quantiles(v, n=10, method="inclusive")[8] if len(v) > 1 else v[0]
    return {"p50": round(statistics.median(v), 4), "p90": round(p90, 4), "min": round(v[0], 4),
            "max": round(v[-1], 4), "mean": round(statistics.fmean(v), 4), "n": len(v), "unit": unit}


def runs(rates: Sequence[float]) -> dict[str, Any]:
    """The median of several runs' rates, and the runs."""
    return {"median": round(statistics.median(rates), 1), "runs": [round(r, 1) for r in rates]}


def batches(sides: dict[str, tuple[str, dict[str, Any]]], *, repeat: int, batch_s: float,
            warmup_s: float) -> dict[str, dict[str, Any]]:
    """µs per call of each side's statement (``(stmt, globals)``): warmed for ``warmup_s``, then
    ``repeat`` timed batches of about ``batch_s`` each, the sides' batches interleaved; median.
    timeit turns the garbage collector off during each batch, on every side alike."""
    timers = {name: timeit.Timer(stmt, globals=env) for name, (stmt, env) in sides.items()}
    numbers = {name: _calibrated(t, batch_s, warmup_s) for name, t in timers.items()}
    per_call: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(repeat):
        for name, timer in timers.items():
            per_call[name].append(timer.timeit(numbers[name]) / numbers[name])
    return {name: {"median_us": round(statistics.median(t) * 1e6, 3), "min_us": round(min(t) * 1e6, 3),
                   "calls_per_batch": numbers[name], "batches": repeat} for name, t in per_call.items()}


def _calibrated(timer: timeit.Timer, batch_s: float, warmup_s: float) -> int:
    """Warm ``timer`` up for at least ``warmup_s``; the calls in a batch of about ``batch_s``."""
    number, spent = 1, 0.0
    while True:
        elapsed = timer.timeit(number)
        spent += elapsed
        if spent >= warmup_s and elapsed > 0.02:
            return max(3, round(batch_s * number / elapsed))
        number *= 2
