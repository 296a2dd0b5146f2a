"""Paper-scale search: seconds per candidate, compile share, host and device memory.

Runs the "paper" preset (Xiao et al. 2020: population 20, 5 generations, 5 phases, the
full block space with 8-512 channels and kernels 1-9, 5 epochs, batch 128, fine-tuned
transfer) on CIFAR-10-shaped data: a prepared ``cifar10`` when ``--data-dir`` is given,
otherwise synthetic images (50,000 training + 10,000 test, 32x32x3 uint8, classes drawn
as a coarse colour template per class plus pixel noise, so labels are learnable). The
search stops after ``--max-candidates`` trained candidates (``ga.budget_epochs`` =
N x epochs); the final retraining is skipped (``train.final_epochs=0``) and every
compile is cold (no persistent compilation cache unless ``--compile-cache-dir``).

After every generation it prints the candidates trained, seconds per trained candidate,
compile seconds (trace + lower + backend of the programs that finished compiling) and
the part training waited for, the share of the generation's wall time that wait took,
host RSS (current from /proc/self/statm; "trimmed": the same after ``gc.collect()`` and
glibc's ``malloc_trim(0)``, i.e. without freed memory the allocator keeps; peak from
getrusage) and device memory (``memory_stats()``; "n/a" where the backend has none, as
on CPUs). At the end:

* host RSS growth per trained candidate after the first generation: (trimmed RSS at the
  end of the last generation - at the end of the first) / candidates trained after the
  first, against the target of <= 2 MB (1 MB = 10^6 bytes) per candidate; the same of
  the raw RSS is printed beside it (``--no-trim``: raw only);
* a projection of the full paper search's hours from this run's measured rates, with
  every input and assumption printed (see ``project``).

The full paper shapes are far too slow for CPUs (a random phase-1 candidate averages ~5
GFLOP per training example, ~1 PFLOP for 45,000 rows x 5 epochs). CPU runs subsample the
data and shorten the search; the projection scales back to the full search:

    python benchmarks/paper_scale.py                          # accelerator: full data
    python benchmarks/paper_scale.py --train-rows 160 --epochs 1 --population 4 \\
        --max-candidates 12                                   # 2 CPU cores, 2-4 min

``--train-rows R`` keeps R rows of the training pool (validation = 10% of them, as in
the full run), ``--test-rows`` defaults to R/5 then (the final test evaluation only);
``--population`` departs from the paper's 20 so that a short run reaches several
generations. Departures from the paper preset are listed in the output and the JSON.
Writes ``benchmarks/results/paper_scale_<backend>.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import gc
import importlib
import json
import math
import os
import platform
import resource
import sys
import time

import jax
import numpy as np

from vlga_jax.config import Config
from vlga_jax.data.datasets import Dataset, load_dataset
from vlga_jax.genetics import genome
from vlga_jax.networks.architecture import from_description

# the module (``vlga_jax.evolve`` as an attribute is the function)
evolve_module = importlib.import_module("vlga_jax.search.evolve")
# Where the search builds its `Trainer` (`TrainerProbe` swaps it there).
search_context = importlib.import_module("vlga_jax.search.context")

FULL_TRAIN_POOL = 50_000  # CIFAR-10 training images (validation is carved from them)
FULL_TEST = 10_000
IMAGE_SHAPE = (32, 32, 3)
NUM_CLASSES = 10
TARGET_MB_PER_CANDIDATE = 2.0
MB = 1e6
FLOP_SAMPLES = 200  # random genomes per phase for the FLOP estimate of later phases
MIN_FIT_R2 = 0.5  # below it the projection uses the overall seconds per FLOP instead


# ------------------------------------------------------------------------- memory


def rss_mb() -> float:
    """Current resident set size of this process, MB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / MB


def _libc_trim():
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


_MALLOC_TRIM = _libc_trim()


def trimmed_rss_mb() -> float | None:
    """RSS after ``gc.collect()`` and glibc's ``malloc_trim(0)``: freed heap memory that
    the allocator kept (XLA:CPU compiles in worker threads allocate GBs transiently, and
    glibc's per-thread arenas keep them) goes back to the OS, so what stays is memory
    that live objects hold. None where glibc is absent."""
    if _MALLOC_TRIM is None:
        return None
    gc.collect()
    _MALLOC_TRIM(0)
    return rss_mb()


def peak_rss_mb() -> float:
    """Peak resident set size so far, MB (Linux ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB


def device_memory() -> dict | None:
    """bytes_in_use / peak_bytes_in_use of the first device, MB; None where unsupported."""
    try:
        stats = jax.devices()[0].memory_stats()
    except Exception:  # noqa: BLE001 - some backends raise instead of returning None
        return None
    if not stats:
        return None
    return {k: round(stats[k] / MB, 1) for k in ("bytes_in_use", "peak_bytes_in_use",
                                                   "bytes_limit") if k in stats}


def _round(v: float | None, digits: int = 1) -> float | None:
    return None if v is None else round(v, digits)


def fmt_mb(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.0f}"


def fmt_device(mem: dict | None) -> str:
    if mem is None:
        return "n/a"
    return f"{mem.get('bytes_in_use', 0):.0f}/{mem.get('peak_bytes_in_use', 0):.0f}"


# --------------------------------------------------------------------------- data


def synthetic_cifar(n_train: int, n_test: int, seed: int):
    """uint8 (N, 32, 32, 3) images and int labels: a per-class template (random colours
    on a 4x4 grid, upsampled to 32x32) times 24 plus N(0, 64^2) pixel noise around 128.
    Labels are balanced and a deterministic function of the template behind each image."""
    rng = np.random.default_rng([seed, 0])
    coarse = rng.standard_normal((NUM_CLASSES, 4, 4, 3)).astype(np.float32)
    templates = coarse.repeat(8, axis=1).repeat(8, axis=2)

    def draw(n: int, stream: int):
        r = np.random.default_rng([seed, stream])
        y = r.permutation(np.arange(n) % NUM_CLASSES)
        x = np.empty((n, *IMAGE_SHAPE), np.uint8)
        for i in range(0, n, 4096):
            j = min(n, i + 4096)
            noise = r.standard_normal((j - i, *IMAGE_SHAPE), dtype=np.float32)
            x[i:j] = np.clip(128.0 + 24.0 * templates[y[i:j]] + 64.0 * noise, 0, 255)
        return x, y

    return draw(n_train, 1), draw(n_test, 2)


def make_dataset(args) -> Dataset:
    rows, test_rows = args.train_rows, args.test_rows
    if args.data_dir:
        subset = None if rows >= FULL_TRAIN_POOL else max(2, rows // NUM_CLASSES)
        ds = load_dataset("cifar10", data_dir=args.data_dir, seed=args.seed, subset=subset)
        if test_rows < len(ds.test_y):
            ds = dataclasses.replace(ds, test_x=ds.test_x[:test_rows],
                                     test_y=ds.test_y[:test_rows])
        return ds
    (tx, ty), (ex, ey) = synthetic_cifar(rows, test_rows, args.seed)
    return Dataset.from_arrays(tx, ty, ex, ey, name="synthetic-cifar10",
                               num_classes=NUM_CLASSES, seed=args.seed)


# ----------------------------------------------------------------- trainer stats


class TrainerProbe:
    """Keeps the search's `Trainer` (to read its stats between generations) by swapping
    `vlga_jax.search.context.Trainer` for a subclass that records its instances, for the
    duration of the ``with`` block. Nothing in the engine changes."""

    def __init__(self):
        self.trainers: list = []
        self._original = None

    def __enter__(self):
        probe = self
        self._original = original = search_context.Trainer

        class RecordedTrainer(original):
            def __init__(self, *a, **k):
                super().__init__(*a, **k)
                probe.trainers.append(self)

        search_context.Trainer = RecordedTrainer
        return self

    def __exit__(self, *exc):
        search_context.Trainer = self._original

    def snapshot(self) -> dict:
        if not self.trainers:
            return {}
        s = self.trainers[-1].stats
        return {"compile_seconds": s.compile_seconds,
                "compile_wait_seconds": s.compile_wait_seconds,
                "train_seconds": s.train_seconds, "programs_compiled": s.programs_compiled}


# --------------------------------------------------------------------- monitor


class Monitor:
    """Generation callback: timings from the trainer's stats, memory, per-candidate data."""

    def __init__(self, probe: TrainerProbe, rows_per_epoch: int, eval_rows: int,
                 epochs: int, trim: bool = True):
        self.probe, self.trim = probe, trim
        self.rows_per_epoch, self.eval_rows, self.epochs = rows_per_epoch, eval_rows, epochs
        self.rows: list[dict] = []
        self.trained: list = []  # CandidateRecords of trained (not cache-hit) candidates
        self._start = None
        self.rss_before = rss_mb()

    def generation_started(self, phase: int, generation: int, n: int) -> None:
        self._start = {"t": time.perf_counter(), "stats": self.probe.snapshot(),
                       "rss": rss_mb(), "needs_eval": n}

    def __call__(self, record, candidates) -> None:
        start = self._start or {"t": time.perf_counter(), "stats": {}, "rss": rss_mb(),
                                "needs_eval": None}
        now = self.probe.snapshot()
        delta = {k: now.get(k, 0.0) - start["stats"].get(k, 0.0) for k in now}
        trained = [c for c in candidates if not c.cache_hit]
        self.trained.extend(trained)
        n = len(trained)
        wall = record.seconds
        params = sum(c.param_count for c in trained)
        row = {
            "phase": record.phase, "generation": record.generation,
            "needs_eval": start["needs_eval"], "trained": n, "cache_hits": record.cache_hits,
            "cumulative_trained": len(self.trained),
            "seconds": round(wall, 2),
            "seconds_per_trained": round(wall / n, 2) if n else None,
            "train_seconds": round(delta.get("train_seconds", 0.0), 2),
            "compile_seconds": round(delta.get("compile_seconds", 0.0), 2),
            "compile_wait_seconds": round(delta.get("compile_wait_seconds", 0.0), 2),
            "compile_wait_share": round(delta.get("compile_wait_seconds", 0.0) / wall, 3)
            if wall else None,
            "programs_compiled": int(delta.get("programs_compiled", 0)),
            "rss_start_mb": round(start["rss"], 1), "rss_end_mb": round(rss_mb(), 1),
            "rss_trimmed_mb": _round(trimmed_rss_mb() if self.trim else None),
            "peak_rss_mb": round(peak_rss_mb(), 1), "device_mb": device_memory(),
            "trained_params": params,
            "train_gflop_per_example_mean": round(
                sum(c.flops for c in trained) / n / 1e9, 3) if n else None,
            "best": round(record.best, 4), "mean": round(record.mean, 4),
        }
        self.rows.append(row)
        spc = row["seconds_per_trained"]
        share = row["compile_wait_share"]
        print(f"phase {row['phase']} gen {row['generation']}: {n:>2} trained "
              f"({row['cache_hits']} hits), {wall:6.1f} s, "
              f"{'-' if spc is None else f'{spc:.1f}'} s/cand; compile "
              f"{row['compile_seconds']:.1f} s, waited {row['compile_wait_seconds']:.1f} s "
              f"({'-' if share is None else f'{share:.0%}'} of wall), "
              f"{row['programs_compiled']} programs; RSS MB {row['rss_end_mb']:.0f} "
              f"(trimmed {fmt_mb(row['rss_trimmed_mb'])}, peak {row['peak_rss_mb']:.0f}); "
              f"device MB {fmt_device(row['device_mb'])}; best {record.best:.3f}", flush=True)


# ------------------------------------------------------------------ RSS growth


def _growth(rows: list[dict], field: str) -> dict | None:
    """RSS ``field`` growth per trained candidate after the first generation: (last -
    first generation's end) / candidates trained after it, and a least-squares slope
    over every generation's end (with 3 or more generations)."""
    if any(r[field] is None for r in rows):
        return None
    first, last = rows[0], rows[-1]
    after = last["cumulative_trained"] - first["cumulative_trained"]
    x = np.array([r["cumulative_trained"] for r in rows], float)
    y = np.array([r[field] for r in rows], float)
    per = (last[field] - first[field]) / after
    return {"first_generation_end_mb": first[field], "last_generation_end_mb": last[field],
            "per_candidate_mb": round(per, 3),
            "fit_slope_mb": round(float(np.polyfit(x, y, 1)[0]), 3) if len(rows) >= 3
            else None,
            "met": per <= TARGET_MB_PER_CANDIDATE}


def rss_growth(rows: list[dict]) -> dict:
    """Host RSS growth per trained candidate after the first generation (MB/candidate),
    of the trimmed RSS (the target's figure: memory live objects hold) and of the raw
    RSS, with what the candidates' own arrays and the compiled programs would explain."""
    if len(rows) < 2 or rows[-1]["cumulative_trained"] == rows[0]["cumulative_trained"]:
        return {"per_candidate_mb": None,
                "note": "no candidate trained after the first generation: raise "
                        "--max-candidates above the population or lower --population"}
    after = rows[-1]["cumulative_trained"] - rows[0]["cumulative_trained"]
    params_after = sum(r["trained_params"] for r in rows[1:])
    programs_after = sum(r["programs_compiled"] for r in rows[1:])
    trimmed, raw = _growth(rows, "rss_trimmed_mb"), _growth(rows, "rss_end_mb")
    main = trimmed or raw
    split = _split(rows, "rss_trimmed_mb" if trimmed else "rss_end_mb")
    return {
        "measure": "trimmed" if trimmed else "raw",
        "per_candidate_mb": main["per_candidate_mb"], "met": main["met"],
        "target_mb": TARGET_MB_PER_CANDIDATE, "candidates_after_first": after,
        "trimmed": trimmed, "raw": raw,
        # the candidates' own f32 arrays, were every one kept: parameters, and with
        # Adam's two moments
        "params_per_candidate_mb": round(4 * params_after / after / MB, 3),
        "params_and_adam_per_candidate_mb": round(12 * params_after / after / MB, 3),
        # compiled executables stay cached: growth may follow programs, not candidates
        "programs_after_first": programs_after,
        "split": split,
    }


def _split(rows: list[dict], field: str) -> dict | None:
    """RSS change over the later generations that trained candidates but compiled no new
    training program (compiled programs stay cached, so this isolates what a candidate
    itself leaves behind); None where there is no such generation."""
    pairs = [(prev, b) for prev, b in zip(rows, rows[1:], strict=False)
             if b["trained"] and not b["programs_compiled"]]
    if not pairs:
        return None
    n = sum(b["trained"] for _, b in pairs)
    change = sum(b[field] - prev[field] for prev, b in pairs)
    return {"measure": field, "generations": len(pairs), "candidates": n,
            "change_mb": round(change, 1), "mb_per_candidate": round(change / n, 2)}


# ------------------------------------------------------------------ projection


def phase_flops(config: Config, seed: int) -> list[float]:
    """Mean training FLOPs per example of candidates of each phase, estimated from
    ``FLOP_SAMPLES`` random genomes with phase+1 blocks (block 0 has conv b, as phase 0's
    population does): in the search, phase k's first k blocks are the previous winner's,
    which random blocks stand in for."""
    space = config.space.build()
    means = []
    for phase in range(config.ga.max_phases):
        key = jax.random.fold_in(jax.random.key(seed), phase)
        pop = genome.random_population(key, space, FLOP_SAMPLES, phase + 1)
        if space.has("include_b"):
            pop = genome.set_gene(pop, space, "include_b", True, block=0)
        flops = [from_description(genome.decode(g, space), input_shape=IMAGE_SHAPE,
                                  num_classes=NUM_CLASSES,
                                  defaults=config.train.defaults()).flops_per_example
                 for g in genome.unstack(pop)]
        means.append(float(np.mean(flops)))
    return means


def fit_seconds(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float | None, str]:
    """(intercept s, slope s/FLOP, R^2, description) of seconds = a + b x over the trained
    candidates (x: FLOPs computed); a ratio through the origin where a fit cannot
    separate the two (fewer than 3 candidates, one size, or a negative term)."""
    ratio = float(y.sum() / x.sum())
    if len(x) >= 3 and np.ptp(x) > 0:
        b, a = np.polyfit(x, y, 1)
        if a >= 0 and b > 0:
            residual = y - (a + b * x)
            r2 = 1.0 - float(residual @ residual) / float(((y - y.mean()) ** 2).sum() or 1.0)
            return float(a), float(b), round(r2, 3), "fit: seconds = a + b x FLOPs"
    return 0.0, ratio, None, "ratio: seconds / FLOPs (no fit)"


def expected_new_fraction(ga) -> float:
    """Share of a later generation that needs training if no child repeats a genome:
    survivors (the fit share, and each unfit member with its probability) keep their
    fitness unless mutated."""
    survive = ga.fit_survival_rate + (1 - ga.fit_survival_rate) * ga.unfit_survival_prob
    return 1.0 - survive * (1.0 - ga.mutation_rate)


def project(paper: Config, monitor: Monitor, totals: dict, wall: float, args,
            seed: int) -> dict:
    """Hours of the full paper search from this run's rates.

    train: a candidate's measured seconds (training and evaluation in its compiled call)
    are fitted as a + b x its computed FLOPs (training FLOPs of the rows actually trained,
    floor(rows/batch)*batch per epoch, plus forward FLOPs, a third of training FLOPs, of
    the evaluation rows the program computes, padded to the evaluation batch): a is a
    per-call cost, b the marginal seconds per FLOP (larger networks run at a better
    rate). Full: candidates x a + b x the full search's FLOPs (candidates per phase x mean
    FLOPs/example of random phase-k architectures x (full rows per epoch x epochs + full
    evaluation rows / 3)). Where the fit explains little (R^2 < MIN_FIT_R2: few
    candidates, a loaded machine) the full FLOPs at the run's overall seconds per FLOP
    are used instead (pessimistic: per-call costs weigh more in a subsampled run).
    A second figure scales the measured seconds per candidate by rows x epochs alone
    (the measured architectures stand for every phase).
    compile: measured programs compiled per trained candidate x candidates = programs;
    x measured compile seconds per program (all of them, and the part waited for).
    other: measured wall - training - compile wait, per candidate, x candidates.
    """
    ga, tc = paper.ga, paper.train
    trained = monitor.trained
    n = len(trained)
    if not n:
        return {"note": "no candidate trained"}
    train_seconds = sum(c.seconds for c in trained)
    work = monitor.rows_per_epoch * monitor.epochs + monitor.eval_rows / 3
    x = np.array([c.flops * work for c in trained], float)  # computed FLOPs per candidate
    y = np.array([c.seconds for c in trained], float)
    computed = float(x.sum())
    intercept, slope, r2, model = fit_seconds(x, y)
    # candidates the full search trains
    later = [r for r in monitor.rows if r["generation"] > 0
             and r["needs_eval"] is not None
             and r["trained"] + r["cache_hits"] >= r["needs_eval"]]  # not cut by the budget
    population_run = args.population or ga.population
    if later:
        new_fraction = sum(r["trained"] for r in later) / (population_run * len(later))
        fraction_source = (f"measured: {sum(r['trained'] for r in later)} trained in "
                           f"{len(later)} complete later generation(s) of {population_run}")
    else:
        new_fraction = expected_new_fraction(ga)
        fraction_source = ("assumed: 1 - (fit + unfit survivors) x (1 - mutation rate) = "
                           f"1 - {ga.fit_survival_rate + (1 - ga.fit_survival_rate) * ga.unfit_survival_prob:.2f}"  # noqa: E501
                           f" x {1 - ga.mutation_rate:.2f} (no cache hits among children)")
    per_phase = ga.population * (1 + (ga.generations - 1) * new_fraction)
    candidates = ga.max_phases * per_phase

    val_rows = FULL_TRAIN_POOL - round(FULL_TRAIN_POOL * (1 - paper.data.val_fraction))
    full_train_rows = FULL_TRAIN_POOL - val_rows
    full_rows_per_epoch = full_train_rows // tc.batch_size * tc.batch_size
    full_eval_rows = math.ceil(val_rows / tc.eval_batch_size) * tc.eval_batch_size
    flops = phase_flops(paper, seed)
    full_work = full_rows_per_epoch * tc.epochs + full_eval_rows / 3
    full_flops = sum(per_phase * f * full_work for f in flops)
    fit_h = (candidates * intercept + slope * full_flops) / 3600
    ratio_h = full_flops * train_seconds / computed / 3600
    use_fit = r2 is not None and r2 >= MIN_FIT_R2
    train_h = fit_h if use_fit else ratio_h
    measured_row_epochs = monitor.rows_per_epoch * monitor.epochs
    naive_train_h = (train_seconds / n * full_rows_per_epoch * tc.epochs
                     / measured_row_epochs * candidates / 3600)

    programs = totals["programs_compiled"]
    programs_per_candidate = programs / totals["trained"]
    compile_per_program = totals["compile_seconds"] / max(programs, 1)
    wait_per_program = totals["compile_wait_seconds"] / max(programs, 1)
    full_programs = programs_per_candidate * candidates
    compile_h = full_programs * compile_per_program / 3600
    wait_h = full_programs * wait_per_program / 3600
    other_per_candidate = max(0.0, wall - totals["train_seconds"]
                              - totals["compile_wait_seconds"]) / totals["trained"]
    other_h = other_per_candidate * candidates / 3600
    return {
        "candidates_full": round(candidates, 1),
        "candidates_formula": f"{ga.max_phases} phases x {ga.population} x (1 + "
                              f"{ga.generations - 1} x {new_fraction:.3f})",
        "new_fraction": round(new_fraction, 3), "new_fraction_source": fraction_source,
        "measured_trained": n, "measured_train_seconds": round(train_seconds, 2),
        "measured_rows_per_epoch": monitor.rows_per_epoch,
        "measured_epochs": monitor.epochs, "measured_eval_rows": monitor.eval_rows,
        "measured_computed_gflop": round(computed / 1e9, 1),
        "measured_gflop_per_s": round(computed / train_seconds / 1e9, 2),
        "seconds_model": model, "seconds_per_candidate_intercept": round(intercept, 3),
        "seconds_per_tflop": round(slope * 1e12, 3),
        "marginal_gflop_per_s": round(1 / slope / 1e9, 2), "fit_r2": r2,
        "full_rows_per_epoch": full_rows_per_epoch, "full_epochs": tc.epochs,
        "full_eval_rows": full_eval_rows,
        "phase_gflop_per_example": [round(f / 1e9, 3) for f in flops],
        "measured_gflop_per_example": round(sum(c.flops for c in trained) / n / 1e9, 3),
        "full_pflop": round(full_flops / 1e15, 2),
        "train_hours": round(train_h, 2),
        "train_hours_source": "fit" if use_fit else "ratio",
        "train_hours_fit": round(fit_h, 2), "train_hours_ratio": round(ratio_h, 2),
        "train_hours_measured_architectures": round(naive_train_h, 2),
        "programs_per_candidate": round(programs_per_candidate, 3),
        "programs_full": round(full_programs, 1),
        "compile_seconds_per_program": round(compile_per_program, 2),
        "compile_wait_seconds_per_program": round(wait_per_program, 2),
        "compile_hours": round(compile_h, 2), "compile_wait_hours": round(wait_h, 2),
        "other_seconds_per_candidate": round(other_per_candidate, 2),
        "other_hours": round(other_h, 2),
        "total_hours": round(train_h + wait_h + other_h, 2),
        "assumptions": [
            f"all {ga.max_phases} phases run (the stop rule may end the search earlier)",
            "phase k's candidates cost the mean FLOPs of random k-block architectures "
            f"({FLOP_SAMPLES} samples; the GA's selection may favour other sizes)",
            "the per-call seconds a and marginal seconds per FLOP b measured here (few, "
            "mostly phase-1 architectures, these rows, this device) hold for every phase "
            "and the full rows; a subsampled run's b is pessimistic where its largest "
            "candidates are smaller than the full search's",
            "programs per candidate, compile seconds per program and the compile wait "
            "share as measured here (a longer run reuses more programs: an upper bound)",
        ],
    }


def print_growth(g: dict) -> None:
    if g["per_candidate_mb"] is None:
        print(f"RSS growth per candidate after the first generation: n/a ({g['note']})")
        return
    for name in ("trimmed", "raw"):
        m = g[name]
        if m is None:
            continue
        fit = "" if m["fit_slope_mb"] is None else f", least-squares slope {m['fit_slope_mb']:.2f}"
        print(f"{name} RSS after the first generation: {m['first_generation_end_mb']:.0f} -> "
              f"{m['last_generation_end_mb']:.0f} MB over {g['candidates_after_first']} "
              f"candidates = {m['per_candidate_mb']:.2f} MB/candidate{fit}")
    print(f"  (their parameters: {g['params_per_candidate_mb']:.2f} MB/candidate, "
          f"{g['params_and_adam_per_candidate_mb']:.2f} with Adam's moments; "
          f"{g['programs_after_first']} training programs compiled meanwhile)")
    if g["split"]:
        sp = g["split"]
        print(f"  in the {sp['generations']} later generation(s) that compiled no new "
              f"program: {sp['change_mb']:+.1f} MB over {sp['candidates']} candidates = "
              f"{sp['mb_per_candidate']:.2f} MB/candidate")
    print(f"target: host RSS growth <= {TARGET_MB_PER_CANDIDATE} MB per further trained "
          f"candidate ({g['measure']} RSS): {'PASS' if g['met'] else 'FAIL'} "
          f"({g['per_candidate_mb']:.2f} MB)")


def print_projection(p: dict) -> None:
    if "note" in p:
        print(f"projection: {p['note']}")
        return
    print("\nprojection of the full paper search (inputs printed; assumptions below):")
    print(f"  candidates trained: {p['candidates_formula']} = {p['candidates_full']:.0f}"
          f"  (new fraction {p['new_fraction_source']})")
    print(f"  measured: {p['measured_trained']} candidates, {p['measured_train_seconds']:.1f}"
          f" s training+evaluation, {p['measured_rows_per_epoch']} rows/epoch x "
          f"{p['measured_epochs']} epoch(s) + {p['measured_eval_rows']} evaluation rows, "
          f"{p['measured_computed_gflop']:.0f} GFLOP computed "
          f"({p['measured_gflop_per_s']:.1f} GFLOP/s overall)")
    r2 = "" if p["fit_r2"] is None else f", R^2 {p['fit_r2']:.2f}"
    print(f"  per candidate: {p['seconds_model']}: a = "
          f"{p['seconds_per_candidate_intercept']:.2f} s, b = {p['seconds_per_tflop']:.2f} "
          f"s/TFLOP ({p['marginal_gflop_per_s']:.1f} GFLOP/s){r2}")
    print(f"  full: {p['full_rows_per_epoch']} rows/epoch x {p['full_epochs']} epochs + "
          f"{p['full_eval_rows']} evaluation rows; GFLOP/example per phase "
          f"{p['phase_gflop_per_example']} (measured candidates: "
          f"{p['measured_gflop_per_example']}) -> {p['full_pflop']:.1f} PFLOP")
    print(f"  training: fit {p['candidates_full']:.0f} x a + b x {p['full_pflop']:.1f} PFLOP"
          f" = {p['train_hours_fit']:.1f} h; ratio {p['full_pflop']:.1f} PFLOP at "
          f"{p['measured_gflop_per_s']:.1f} GFLOP/s = {p['train_hours_ratio']:.1f} h; "
          f"using the {p['train_hours_source']} (the fit where R^2 >= {MIN_FIT_R2})")
    print(f"  (the measured architectures for every phase, scaled by rows x epochs alone: "
          f"{p['train_hours_measured_architectures']:.1f} h)")
    print(f"  compile: {p['programs_per_candidate']:.2f} programs/candidate x "
          f"{p['candidates_full']:.0f} = {p['programs_full']:.0f} programs x "
          f"{p['compile_seconds_per_program']:.1f} s = {p['compile_hours']:.2f} h, of which "
          f"training waits {p['compile_wait_seconds_per_program']:.1f} s/program = "
          f"{p['compile_wait_hours']:.2f} h")
    print(f"  other host work: {p['other_seconds_per_candidate']:.2f} s/candidate = "
          f"{p['other_hours']:.2f} h")
    print(f"  total (training + compile wait + other): {p['total_hours']:.1f} h")
    for a in p["assumptions"]:
        print(f"  assumes: {a}")


# -------------------------------------------------------------------------- main


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=None,
                   help="directory with a prepared cifar10 (default: synthetic data)")
    p.add_argument("--max-candidates", type=int, default=30,
                   help="stop after this many trained candidates (ga.budget_epochs)")
    p.add_argument("--train-rows", type=int, default=FULL_TRAIN_POOL,
                   help="rows of the training pool (validation is 10%% of them)")
    p.add_argument("--test-rows", type=int, default=None,
                   help="test rows (default: 10,000, or train rows / 5 when subsampled)")
    p.add_argument("--epochs", type=int, default=None, help="train.epochs (paper: 5)")
    p.add_argument("--population", type=int, default=None, help="ga.population (paper: 20)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-programs", type=int, default=None,
                   help="run.max_programs: compiled programs kept in memory (default: the "
                        "config's); host memory stops growing once that many were compiled")
    p.add_argument("--no-trim", action="store_true",
                   help="skip gc.collect() + malloc_trim(0) after each generation (the "
                        "target then uses the raw RSS)")
    p.add_argument("--compile-cache-dir", default=None,
                   help="persistent compilation cache (default: none, every compile cold)")
    p.add_argument("--out", default=None,
                   help="JSON path (default: benchmarks/results/paper_scale_<backend>.json)")
    args = p.parse_args(argv)
    if args.test_rows is None:
        args.test_rows = (FULL_TEST if args.train_rows >= FULL_TRAIN_POOL
                          else max(NUM_CLASSES * 2, args.train_rows // 5))
    return args


def run_config(args) -> tuple[Config, Config, list[str]]:
    """(the paper preset, the config this run uses, its departures from the paper)."""
    paper = Config.preset("paper")
    epochs = args.epochs or paper.train.epochs
    over = {"ga.budget_epochs": args.max_candidates * epochs, "train.final_epochs": 0,
            "run.compile_cache_dir": args.compile_cache_dir, "run.verbose": False}
    if args.epochs:
        over["train.epochs"] = args.epochs
    if args.population:
        over["ga.population"] = args.population
    if args.max_programs:
        over["run.max_programs"] = args.max_programs
    departures = [f"{k}={v}" for k, v in over.items()
                  if k in ("train.epochs", "ga.population") and v != eval_field(paper, k)]
    if args.train_rows < FULL_TRAIN_POOL:
        departures.append(f"training pool {args.train_rows} rows (paper: {FULL_TRAIN_POOL})")
    if args.test_rows < FULL_TEST:
        departures.append(f"test split {args.test_rows} rows (paper: {FULL_TEST})")
    if not args.data_dir:
        departures.append("synthetic CIFAR-10-shaped data")
    departures.append(f"stops after {args.max_candidates} trained candidates; no final "
                      "retraining (train.final_epochs=0)")
    return paper, paper.override(**over), departures


def eval_field(config: Config, dotted: str):
    section, _, field = dotted.partition(".")
    return getattr(getattr(config, section), field)


def main(argv=None) -> None:
    args = parse_args(argv)
    t0 = time.perf_counter()
    paper, config, departures = run_config(args)
    device = jax.devices()[0]
    print(f"jax {jax.__version__} ({jax.default_backend()}: {device.device_kind}), "
          f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}; "
          f"load average {[round(v, 2) for v in os.getloadavg()]}", flush=True)
    rss_start = rss_mb()
    dataset = make_dataset(args)
    data_s = time.perf_counter() - t0
    print(f"{dataset.summary()} (prepared in {data_s:.1f} s); RSS {rss_start:.0f} -> "
          f"{rss_mb():.0f} MB", flush=True)
    print("paper preset; departures: " + "; ".join(departures), flush=True)

    tc = config.train
    n_train, n_val = len(dataset.train_y), len(dataset.val_y)
    rows_per_epoch = n_train // tc.batch_size * tc.batch_size
    eval_rows = math.ceil(n_val / tc.eval_batch_size) * tc.eval_batch_size
    probe = TrainerProbe()
    monitor = Monitor(probe, rows_per_epoch, eval_rows, tc.epochs, trim=not args.no_trim)
    start = time.perf_counter()
    with probe:
        result = evolve_module.evolve(jax.random.key(args.seed), config, dataset=dataset,
                                      callbacks=[monitor])
    wall = time.perf_counter() - start
    t = result.totals

    print(f"\n{t['trained']} candidates trained ({t['cache_hits']} cache hits, "
          f"{t['failed']} failed) in {len(monitor.rows)} generation(s); stopped: "
          f"{result.stop_reason}")
    print(f"wall {wall:.1f} s = {wall / max(t['trained'], 1):.1f} s per trained candidate; "
          f"training {t['train_seconds']:.1f} s; compile {t['compile_seconds']:.1f} s "
          f"({t['programs_compiled']} training programs, {t['program_reuses']} reuses, "
          f"{len(t['programs'])} compiles incl. evaluation), training waited "
          f"{t['compile_wait_seconds']:.1f} s = {t['compile_wait_seconds'] / wall:.0%} of wall;"
          f" padded FLOPs +{100 * t['padded_flop_overhead']:.0f}%")
    print(f"host RSS: {rss_start:.0f} MB at start, {monitor.rss_before:.0f} MB with the data, "
          f"{rss_mb():.0f} MB at the end, peak {peak_rss_mb():.0f} MB; device MB in use/peak "
          f"{fmt_device(device_memory())}")
    growth = rss_growth(monitor.rows)
    print_growth(growth)
    projection = project(paper, monitor, t, wall, args, args.seed)
    print_projection(projection)

    elapsed = time.perf_counter() - t0
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                   f"paper_scale_{jax.default_backend()}.json")
    summary = {
        "jax": jax.__version__, "backend": jax.default_backend(),
        "device": device.device_kind, "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "load_average_end": [round(v, 2) for v in os.getloadavg()],
        "argv": sys.argv[1:], "args": vars(args), "departures": departures,
        "config": config.to_dict(),
        "data": {"summary": dataset.summary(), "train": n_train, "val": n_val,
                 "test": len(dataset.test_y), "rows_per_epoch": rows_per_epoch,
                 "eval_rows_computed": eval_rows, "prepare_seconds": round(data_s, 2)},
        "generations": monitor.rows,
        "totals": {k: v for k, v in t.items() if k != "programs"},
        "programs": t["programs"],
        "stop_reason": result.stop_reason, "search_fitness": result.search_fitness,
        "test_accuracy": result.test_accuracy,
        "wall_seconds": round(wall, 2),
        "rss_mb": {"start": round(rss_start, 1), "with_data": round(monitor.rss_before, 1),
                   "end": round(rss_mb(), 1), "peak": round(peak_rss_mb(), 1)},
        "rss_growth": growth, "projection": projection, "elapsed_seconds": round(elapsed, 1),
    }
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "w") as f:
        json.dump(summary, f, indent=2, default=str)
    print(f"wrote {out} ({elapsed:.0f} s)")


if __name__ == "__main__":
    main()
