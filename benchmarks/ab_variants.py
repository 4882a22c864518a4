"""Same-process A/B of variants of the package, on the repository's own benchmarks.

Each variant is a directory holding a copy of ``digitorn_notify`` changed by hand (for
example one use of a technique replaced by the plain alternative). Each is copied
under a name of its own (``dn_<variant>``), so that all load in one process, and the
chosen benchmark's functions run against each in turn, interleaved, ``--rounds``
times: every variant sees the same machine. Prints each round, then min (median).

    .venv/bin/python benchmarks/ab_variants.py registry DIR_A DIR_B ... [--backend trio]
    .venv/bin/python benchmarks/ab_variants.py watchers DIR_A DIR_B ... [-n 10000]

(``scheduler`` runs scenario (a) of bench_scheduler.py.) Used for the figures of
"Stepping coroutines by hand" in docs/performance.md.
"""

from __future__ import annotations

import argparse
import gc
import logging
import shutil
import statistics
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

import anyio

BENCH = Path(__file__).resolve().parent


def renamed(variant: Path, root: Path) -> str:
    name = f"dn_{variant.name.lower().replace('-', '_')}"
    target = root / name
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(variant / "digitorn_notify", target, ignore=skip)
    for file in target.rglob("*.py"):
        file.write_text(file.read_text().replace("digitorn_notify", name))
    return name


def bench_module(bench: str, name: str) -> types.ModuleType:
    path = BENCH / f"bench_{bench}.py"
    module = types.ModuleType(f"bench_{bench}_{name}")
    module.__file__ = str(path)
    sys.modules[module.__name__] = module
    source = path.read_text().replace("digitorn_notify", name)
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


async def measure(bench: str, m: types.ModuleType, args: argparse.Namespace) -> dict[str, float]:
    if bench == "registry":
        return dict(await m.run(args.n))
    if bench == "watchers":
        base = await m.baseline_us(m.noop_check, 20_000)
        noop = await m.throughput(m.noop_check, args.n, 5.0, args.seconds)
        wbase = await m.baseline_us(m.waiting_check, 20_000)
        wait = await m.throughput(m.waiting_check, args.n, 5.0, args.seconds)
        return {
            "noop_engine_us": noop["cpu_us"] - base,
            "noop_skipped": noop["skipped"],
            "wait_engine_us": wait["cpu_us"] - wbase,
            "wait_skipped": wait["skipped"],
        }
    ours = await m.ours_all_due_now(args.n)
    direct = await m.direct_deliveries(args.n)
    return {"last_fire_s": ours, "direct_s": direct, "ratio": ours / direct}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench", choices=["registry", "watchers", "scheduler"])
    parser.add_argument("variants", nargs="+", type=Path, help="directories with digitorn_notify/")
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=8.0, help="watchers' measured window")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sys.path.insert(0, tmp)
        names = {variant.name: renamed(variant, Path(tmp)) for variant in args.variants}
        modules = {label: bench_module(args.bench, name) for label, name in names.items()}
        for name in names.values():
            logging.getLogger(name).setLevel(logging.ERROR)
        results: dict[str, list[dict[str, float]]] = {label: [] for label in modules}
        for round_ in range(args.rounds):
            for label, module in modules.items():
                gc.collect()
                figures: Any = anyio.run(measure, args.bench, module, args, backend=args.backend)
                results[label].append(figures)
                shown = ", ".join(f"{key} {value:.2f}" for key, value in figures.items())
                print(f"round {round_} {label}: {shown}", flush=True)
    print(f"== {args.bench} on {args.backend}, {args.rounds} interleaved rounds: min (median)")
    for label, runs in results.items():
        print(f"{label}: " + "; ".join(
            f"{key} {min(r[key] for r in runs):.2f} ({statistics.median(r[key] for r in runs):.2f})"
            for key in runs[0]
        ))


if __name__ == "__main__":
    main()
