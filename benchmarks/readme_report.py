"""Regenerate the README's default-run report: run ``neurotrain train`` and paste what it prints.

The block between ``<!-- default-run-report:begin -->`` and ``<!-- default-run-report:end -->``
in ``README.md`` is rewritten with the report that ``neurotrain train --seed 0`` (the default
run, the perceptual-decision-making recipe) printed on this machine, the machine and the date,
and the spread over seeds 0-9 measured by ``benchmarks/bench_recipes.py``
(``benchmarks/results/recipes.json``): floating-point results differ between CPUs, so another
machine prints other numbers for the same seed, within that spread.

Usage::

    python benchmarks/readme_report.py            # train (about a minute), rewrite README.md
    python benchmarks/readme_report.py --check    # exit 1 if the README's block is not this script's layout
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import loadavg, machine, versions  # noqa: E402  (benchmarks/ is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SWEEP = ROOT / "benchmarks" / "results" / "recipes.json"
BEGIN, END = "<!-- default-run-report:begin -->", "<!-- default-run-report:end -->"


def run_default(seed: int = 0) -> tuple[str, float, float]:
    """``neurotrain train --seed SEED`` in a fresh process; returns (report, load before, after)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with tempfile.TemporaryDirectory(prefix="readme-report-") as tmp:
        out = Path(tmp) / "runs" / "perceptual-decision-making-leaky"
        before = os.getloadavg()[0]
        proc = subprocess.run([sys.executable, "-m", "neurotrain.cli", "train", "--seed", str(seed),
                               "--no-progress", "--out", str(out)], cwd=tmp, env=env, capture_output=True,
                              text=True)
        after = os.getloadavg()[0]
        if proc.returncode != 0:
            raise SystemExit(f"neurotrain train failed ({proc.returncode}):\n{proc.stderr}")
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        report = proc.stdout.replace(str(out), f"runs/perceptual-decision-making-leaky-{stamp}")
    return report.rstrip("\n"), before, after


def sweep_line() -> str:
    """The seed-sweep spread of the default run, from ``results/recipes.json``."""
    if not SWEEP.exists():
        return "The seed sweep (`benchmarks/bench_recipes.py`) has not been run yet."
    rows = [r for r in json.loads(SWEEP.read_text()) if r["case"] == "pdm" and r["status"] == "completed"]
    if not rows:
        return "The seed sweep (`benchmarks/bench_recipes.py`) has no default-run rows yet."
    gaps = [100 * (r["fresh_ideal"] - r["fresh"]) for r in rows]
    accs = [100 * r["fresh"] for r in rows]
    times = [r["train_s"] for r in rows]
    met = sum(bool(r.get("met")) for r in rows)
    seeds = sorted(r["seed"] for r in rows)
    return (f"Over seeds {seeds[0]}-{seeds[-1]} ({len(rows)} runs, `benchmarks/results/recipes.md`) the accuracy "
            f"is {min(accs):.1f} to {max(accs):.1f} % and the gap to the ideal observer {min(gaps):.1f} to "
            f"{max(gaps):.1f} points (median {statistics.median(gaps):.1f}; {met}/{len(rows)} within the "
            f"recipe's 3 points), with {statistics.median(times):.0f} s of training (median; "
            f"{min(times):.0f} to {max(times):.0f} s). Floating-point results differ between CPUs, so another "
            f"machine prints other numbers for seed 0: expect them within that range.")


def block(report: str, load: tuple[float, float], seed: int) -> str:
    today = datetime.date.today().isoformat()
    return "\n".join([
        BEGIN,
        f"On {machine()} ({today}; 1-minute load average {load[0]:.1f} before and {load[1]:.1f} after, "
        f"shared with other jobs), `neurotrain train --seed {seed}` printed:",
        "",
        "```",
        report,
        "```",
        "",
        sweep_line(),
        f"This block is written by `python benchmarks/readme_report.py` ({versions(('jax', 'neurotrain'))}).",
        END,
    ])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--check", action="store_true", help="only check that README.md has the markers")
    args = p.parse_args(argv)
    text = README.read_text()
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        print(f"README.md has no {BEGIN} ... {END} block", file=sys.stderr)
        return 1
    if args.check:
        return 0
    report, before, after = run_default(args.seed)
    README.write_text(pattern.sub(lambda _: block(report, (before, after), args.seed), text))
    print(block(report, (before, after), args.seed))
    print(f"(load now {loadavg()})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
