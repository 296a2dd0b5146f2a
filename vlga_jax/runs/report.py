"""Reports of a run directory: a summary table and PNG plots (matplotlib, no pyplot).

`write_report(DIR)` reads ``DIR/logs/*.jsonl`` and ``DIR/result.json`` (if the run has
finished) and writes into ``DIR/report/``:

  fitness.png        each generation's best and mean fitness and the best so far,
                     phases shaded
  population.png     box plots of the population's fitness per generation
  accuracy_vs_params.png  validation accuracy against parameter count, every candidate
  architecture.png   the best architecture as a diagram (finished runs only)
  pareto.png         a multi-objective run's first two objectives, every candidate,
                     the Pareto front highlighted (finished runs only)
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np

from vlga_jax.runs.runlog import read_jsonl
from vlga_jax.training.objectives import fitness_label


@dataclasses.dataclass
class RunReport:
    """What a run directory holds: records as dicts (see `vlga_jax.runs.runlog`)."""

    path: Path
    generations: list[dict]
    candidates: list[dict]
    result: dict | None

    @classmethod
    def load(cls, directory: str | os.PathLike) -> RunReport:
        path = Path(directory)
        logs = path / "logs"
        if not (logs / "generations.jsonl").exists():
            raise ValueError(f"{directory}: not a vlga run directory "
                             "(no logs/generations.jsonl)")
        result_path = path / "result.json"
        try:
            result = json.loads(result_path.read_text()) if result_path.exists() else None
        except ValueError as err:
            raise ValueError(f"{result_path}: unreadable ({err})") from err
        return cls(path, read_jsonl(logs / "generations.jsonl"),
                   read_jsonl(logs / "candidates.jsonl"), result)


def _f(x) -> str:
    return "   -  " if x is None else f"{x:.4f}"


def summary_table(run: RunReport) -> str:
    """A per-generation table, then the best architecture and accuracies."""
    halving = any(len(g.get("rung_counts", ())) > 1 for g in run.generations)
    rungs = ""
    if halving:  # successive halving: how many new candidates reached each rung
        epochs = "/".join(str(r) for r, _ in run.generations[0]["rung_counts"])
        rungs = f"  reached rungs of {epochs} epochs"
    lines = [f"run {run.path}",
             "phase  gen  gen best  so far    mean  median  trained  cached  seconds"
             + rungs]
    for g, so_far in zip(run.generations, _so_far(run.generations), strict=True):
        reached = ("  " + "/".join(str(n) for _, n in g.get("rung_counts", ()))
                   if halving else "")
        lines.append(f"{g['phase']:5d} {g['generation']:4d}    {_f(g['best'])}  "
                     f"{_f(so_far)}  {_f(g['mean'])}"
                     f"  {_f(g['median'])}  {g['evaluated']:7d}  {g['cache_hits']:6d}"
                     f"  {g['seconds']:7.1f}{reached}")
    ok = [c for c in run.candidates if not c["failed"]]
    lines.append(f"candidates {len(run.candidates)} ({len(ok)} trained or cached without "
                 f"failure)")
    if run.result is None:
        lines.append("not finished: no result.json yet (resume with `vlga resume`)")
        return "\n".join(lines)
    r = run.result
    lines.append("best architecture:")
    lines += [f"  {s}" for s in r["architecture"]]
    label = fitness_label(r.get("objectives", ()))
    lines.append(f"  parameters {r['param_count']:,}  {label} "
                 f"{r['search_fitness']:.4f}  final val {r['val_accuracy']:.4f}  test "
                 f"{r['test_accuracy']:.4f}")
    lines.append(f"stopped: {r['stop_reason']}")
    for title, kept in (("top", r.get("top", [])), ("Pareto front", r.get("pareto", []))):
        if kept and (title != "top" or len(kept) > 1):
            lines.append(f"{title}:")
            lines += [f"  {c['rank']:3d}  " + "  ".join(f"{k} {v:.4g}" for k, v in
                                                       c["objectives"].items())
                      + f"  parameters {c['param_count']:,}" for c in kept]
    return "\n".join(lines)


def _so_far(generations: list[dict]) -> list[float | None]:
    """The best so far at each generation record: its ``best_so_far``, else (logs
    written without it) the best of the generations up to it."""
    out, running = [], None
    for g in generations:
        if g["best"] is not None:
            running = g["best"] if running is None else max(running, g["best"])
        out.append(g["best_so_far"] if g.get("best_so_far") is not None else running)
    return out


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def _shade_phases(ax, phases: list[int]) -> None:
    for p in sorted(set(phases)):
        idx = [i for i, q in enumerate(phases) if q == p]
        if p % 2:
            ax.axvspan(idx[0] - 0.5, idx[-1] + 0.5, color="0.93", zorder=0)
        ax.text((idx[0] + idx[-1]) / 2, 1.0, f"phase {p}", transform=ax.get_xaxis_transform(),
                ha="center", va="bottom", fontsize=8, color="0.35")


def _labels(run: RunReport) -> list[str]:
    return [f"g{g['generation']}" for g in run.generations]


def plot_fitness(run: RunReport, path: Path) -> Path:
    fig = _figure(6.4, 3.6)
    ax = fig.subplots()
    x = np.arange(len(run.generations))
    nan = float("nan")
    best = [nan if g["best"] is None else g["best"] for g in run.generations]
    mean = [nan if g["mean"] is None else g["mean"] for g in run.generations]
    so_far = [nan if v is None else v for v in _so_far(run.generations)]
    _shade_phases(ax, [g["phase"] for g in run.generations])
    ax.plot(x, so_far, "-", label="best so far", color="black", linewidth=2.5, alpha=0.35,
            drawstyle="steps-post")
    ax.plot(x, best, "o-", label="generation's best", color="tab:blue")
    ax.plot(x, mean, "s--", label="generation's mean", color="tab:orange")
    ax.set_xticks(x, _labels(run))
    ax.set_xlabel("generation (phases shaded)")
    ax.set_ylabel("fitness (validation accuracy)")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.savefig(path)
    return path


def plot_population(run: RunReport, path: Path) -> Path:
    fig = _figure(6.4, 3.6)
    ax = fig.subplots()
    data = []
    for g in run.generations:
        f = [v for v in g.get("population_fitness", []) if v is not None]
        data.append(f or [float("nan")])
    _shade_phases(ax, [g["phase"] for g in run.generations])
    ax.boxplot(data, positions=np.arange(len(data)), widths=0.6)
    ax.set_xticks(np.arange(len(data)), _labels(run))
    ax.set_xlabel("generation (phases shaded)")
    ax.set_ylabel("population fitness")
    ax.grid(alpha=0.3, axis="y")
    fig.savefig(path)
    return path


def plot_accuracy_vs_params(run: RunReport, path: Path) -> Path:
    fig = _figure(6.4, 3.8)
    ax = fig.subplots()
    trained = [c for c in run.candidates if not c["cache_hit"] and not c["failed"]]
    phases = sorted({c["phase"] for c in trained})
    for p in phases:
        cs = [c for c in trained if c["phase"] == p]
        ax.scatter([c["param_count"] for c in cs], [c["fitness"] for c in cs], s=18,
                   alpha=0.75, label=f"phase {p}")
    if trained:
        best = max(trained, key=lambda c: c["fitness"])
        ax.scatter([best["param_count"]], [best["fitness"]], s=160, facecolors="none",
                   edgecolors="black", label="best")
        ax.set_xscale("log")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_xlabel("parameters")
    ax.set_ylabel("validation accuracy")
    ax.grid(alpha=0.3)
    fig.savefig(path)
    return path


def plot_pareto(run: RunReport, path: Path) -> Path:
    """Every trained candidate's first two objectives; the Pareto front joined."""
    names = run.result["objectives"]
    shown = lambda name: name[1:] if name.startswith("-") else name  # noqa: E731
    sign = [-1.0 if n.startswith("-") else 1.0 for n in names[:2]]
    points = np.array([[s * v for s, v in zip(sign, c["objectives"][:2], strict=True)]
                       for c in run.candidates if not c["cache_hit"] and not c["failed"]
                       and c.get("objectives") and None not in c["objectives"][:2]])
    front = np.array([[s * p["objectives"][n] for s, n in zip(sign, names[:2], strict=True)]
                      for p in run.result["pareto"]])
    fig = _figure(6.4, 3.8)
    ax = fig.subplots()
    if points.size:
        ax.scatter(points[:, 0], points[:, 1], s=16, alpha=0.5, color="0.5",
                   label="candidates")
    front = front[np.argsort(front[:, 0])]
    ax.plot(front[:, 0], front[:, 1], "o-", color="tab:red", label="Pareto front")
    ax.set_xlabel(shown(names[0]) + (" (minimised)" if sign[0] < 0 else ""))
    ax.set_ylabel(shown(names[1]) + (" (minimised)" if sign[1] < 0 else ""))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.savefig(path)
    return path


def plot_architecture(result: dict, path: Path) -> Path:
    """The best architecture, top to bottom, one box per layer line."""
    layers = [s for s in result["architecture"] if not s.startswith("train:")]
    recipe = [s for s in result["architecture"] if s.startswith("train:")]
    height = 1.2 + 0.62 * len(layers)
    fig = _figure(6.4, height)
    ax = fig.subplots()
    ax.set_xlim(0, 1)
    ax.set_ylim(len(layers) - 0.5, -0.5)
    ax.axis("off")
    for i, text in enumerate(layers):
        color = "#dbe9f6" if text.startswith("block") else "#eeeeee"
        ax.text(0.5, i, text, ha="center", va="center", fontsize=9, family="monospace",
                bbox={"boxstyle": "round,pad=0.45", "facecolor": color, "edgecolor": "0.4"})
        if i:
            ax.annotate("", xy=(0.5, i - 0.28), xytext=(0.5, i - 0.72),
                        arrowprops={"arrowstyle": "->", "color": "0.4"})
    ax.set_title(f"best architecture: {result['param_count']:,} parameters, val "
                 f"{result['val_accuracy']:.3f}, test {result['test_accuracy']:.3f}\n"
                 + " ".join(recipe), fontsize=9)
    fig.savefig(path)
    return path


def write_report(directory: str | os.PathLike, out: str | os.PathLike | None = None
                 ) -> tuple[str, list[Path]]:
    """(summary table, written PNG paths) for the run in ``directory``."""
    run = RunReport.load(directory)
    out = Path(out) if out is not None else run.path / "report"
    out.mkdir(parents=True, exist_ok=True)
    paths = [plot_fitness(run, out / "fitness.png"),
             plot_population(run, out / "population.png"),
             plot_accuracy_vs_params(run, out / "accuracy_vs_params.png")]
    if run.result is not None:
        paths.append(plot_architecture(run.result, out / "architecture.png"))
        if run.result.get("pareto"):
            paths.append(plot_pareto(run, out / "pareto.png"))
    return summary_table(run), paths
