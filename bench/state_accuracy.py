"""State accuracy of the real agent CLIs: ground-truth transitions against the detected state changes.

For each installed CLI, N scripted turns (the first a slow text answer, the rest a tool call approved through its
dialog by keys in the pane; OpenClaw text only) run through the real CLI as a session of the real daemon, its
machine channels on, against the fake model endpoint (bench/agent_runs.py); the daemon's state.changed events
are what is measured.
Ground truth: starting->idle when the tests' markers first show the input box; ->working when the endpoint
receives the model request; ->waiting_permission when the tool call was streamed and the dialog is on screen;
->working when the dialog is gone after the approval; ->idle when the answer's stream ended and the answer is on
screen; ->exited when the pane is dead. Each is matched to the first detected change into that state between the
previous ground-truth transition and the next one (+1 s); a change before the truth counts as detected early
(delay 0). Run: ``.venv/bin/python -m bench.state_accuracy [--turns 3] [--cli claude ...]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.agent_clis import CliMissingError
from bench.agent_runs import RECIPES, Run, run_daemon
from bench.stats import histogram, percentile
from imcodes_core.states import SessionState as S
from imcodes_core.testing.model_endpoint import FakeModelEndpoint

LATE_GRACE = 1.0  # a detection this long after the next truth transition still counts for this one


def match(run: Run) -> list[tuple[S, float | None, str, bool]]:
    """Per truth transition: (state, delay ms (negative: early) or None if missed, winning source, early)."""
    found: list[tuple[S, float | None, str, bool]] = []
    for index, (state, at, _) in enumerate(run.truth):
        since = run.truth[index - 1][1] if index else float("-inf")
        until = run.truth[index + 1][1] + LATE_GRACE if index + 1 < len(run.truth) else float("inf")
        hit = next(((t, src) for s, t, src in run.detected if s is state and since <= t < until), None)
        if hit is None:
            found.append((state, None, "", False))
        else:
            found.append((state, (hit[0] - at) * 1000, hit[1], hit[0] < at))
    return found


def state_at(run: Run, when: float) -> S | None:
    last = [s for s, t, _ in run.detected if t <= when]
    return last[-1] if last else None


def report(run: Run, matched: list[tuple[S, float | None, str, bool]]) -> list[str]:
    lines = [f"== {run.cli}: {run.channel}"]
    if run.error:
        lines.append(f"   RUN ERROR (partial data): {run.error}")
    finals = [(state_at(run, t), S.IDLE) for t in run.turn_ends]
    if run.truth and run.truth[-1][0] is S.EXITED:
        finals.append((run.detected[-1][0] if run.detected else None, S.EXITED))
    right = sum(got is want for got, want in finals)
    delays = [max(0.0, d) for _, d, _, _ in matched if d is not None]  # early counts as 0 in the stats
    lines.append(
        f"   detected {len(delays)}/{len(matched)}  early {sum(e for *_, e in matched)}  finals right "
        f"{right}/{len(finals)} {[str(g) for g, _ in finals]}"
    )
    if delays:
        lines.append(f"   delay p50={percentile(delays, 50):7.0f} ms  p99={percentile(delays, 99):7.0f} ms")
    lines += per_transition(run, matched)
    lines.append(f"   {'transition':<34}{'delay ms':>10}  source")
    previous = S.STARTING
    for (state, _, proof), (_, delay, source, early) in zip(run.truth, matched, strict=True):
        shown = "MISSED" if delay is None else f"{delay:.0f}" + (" (early)" if early else "")  # negative: early
        lines.append(f"   {f'{previous}->{state}':<34}{shown:>14}  {source}  [{proof}]")
        previous = state
    lines.append("   detected trail: " + " ".join(f"{s}" for s, _, _ in run.detected))
    return lines


def per_transition(run: Run, matched: list[tuple[S, float | None, str, bool]]) -> list[str]:
    """Delay p50/p99 per kind of transition (early counts as 0), with the sources that won it."""
    kinds: dict[str, list[tuple[float | None, str]]] = {}
    previous = S.STARTING
    for (state, _, _), (_, delay, source, _) in zip(run.truth, matched, strict=True):
        kinds.setdefault(f"{previous}->{state}", []).append((delay, source))
        previous = state
    lines = [f"   {'per transition':<34}{'n':>3}{'p50 ms':>9}{'p99 ms':>9}  sources"]
    for kind, found in kinds.items():
        delays = [max(0.0, d) for d, _ in found if d is not None]
        won = Counter(src for d, src in found if d is not None)
        p50, p99 = (f"{percentile(delays, q):9.0f}" if delays else f"{'-':>9}" for q in (50, 99))
        lines.append(f"   {kind:<34}{len(found):>3}{p50}{p99}  {dict(won)} missed {len(found) - len(delays)}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--cli", action="append", choices=sorted(RECIPES), help="default: every installed CLI")
    args = parser.parse_args()
    all_delays: list[float] = []
    sources: Counter[str] = Counter()
    totals = Counter[str]()
    began = time.monotonic()
    with FakeModelEndpoint(tool_command="sleep 1 && touch fake_tool_output.txt", slow_seconds=2.0) as endpoint:
        for cli in args.cli or list(RECIPES):
            recipe = RECIPES[cli]
            endpoint.clear()
            with tempfile.TemporaryDirectory(prefix=f"imcodes-bench-{cli}-") as root:
                try:
                    run = run_daemon(recipe, args.turns, endpoint, Path(root))
                except CliMissingError as skipped:
                    print(f"== {cli}: SKIPPED: {skipped}")
                    continue
            matched = match(run)
            print("\n".join(report(run, matched)), flush=True)
            delays = [max(0.0, d) for _, d, _, _ in matched if d is not None]
            all_delays += delays
            sources.update(src for _, d, src, _ in matched if d is not None)
            totals.update(truth=len(matched), detected=len(delays))
            finals = [state_at(run, t) is S.IDLE for t in run.turn_ends]
            totals.update(
                finals=len(finals) + 1,
                finals_right=sum(finals) + bool(run.detected and run.detected[-1][0] is S.EXITED),
            )
    print(
        f"\n== overall ({time.monotonic() - began:.0f} s): detected {totals['detected']}/{totals['truth']}, "
        f"finals right {totals['finals_right']}/{totals['finals']}, winning sources {dict(sources)}"
    )
    if all_delays:
        print(
            f"   delay p50={percentile(all_delays, 50):.0f} ms  p99={percentile(all_delays, 99):.0f} ms  "
            f"max={max(all_delays):.0f} ms"
        )
        print(histogram([max(d, 1.0) for d in all_delays]))


if __name__ == "__main__":
    main()
