"""What a run's steps share (`Search`), and the checks `evolve` makes before it starts.

`Search` holds the configuration, the search space and strategy, the data on the device,
the trainer, the fitness cache, the scores, the schedule and the records."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import jax

from vlga_jax.config import Config
from vlga_jax.core import distributed, streams
from vlga_jax.data.datasets import Dataset, load_dataset
from vlga_jax.genetics.genome import hashes_in
from vlga_jax.genetics.space import SearchSpace
from vlga_jax.networks.architecture import Architecture, from_description
from vlga_jax.networks.kinds import check_network_space
from vlga_jax.runs.records import CandidateRecord, GenerationRecord
from vlga_jax.search.fitness_cache import FitnessCache
from vlga_jax.search.schedule import Schedule
from vlga_jax.search.scoring import Scores
from vlga_jax.strategies import make_strategy, strategy_class
from vlga_jax.strategies.base import Strategy
from vlga_jax.training import feasibility
from vlga_jax.training.members import DeviceData, Outcome
from vlga_jax.training.objectives import Objective
from vlga_jax.training.trainer import Trainer, program_store

__all__ = ["Search", "SearchKeys", "check_crop_padding", "check_space", "configured_dataset"]

# Called in place of `Trainer.train`: evaluator(trainer, members, n_epochs, data=None,
# keep_opt_state=False) -> one Outcome per member.
Evaluator = Callable[..., list[Outcome]]


@dataclasses.dataclass(frozen=True)
class SearchKeys:
    """The run key split into its streams (`vlga_jax.core.streams.SEARCH_KEYS`)."""

    strategy: jax.Array
    train: jax.Array
    final: jax.Array

    @classmethod
    def split(cls, key: jax.Array) -> SearchKeys:
        return cls(*jax.random.split(key, len(streams.SEARCH_KEYS)))


@dataclasses.dataclass
class Search:
    """One run's collaborators and records (host side). Build it with `create`."""

    config: Config
    space: SearchSpace
    strategy: Strategy
    dataset: Dataset
    val_data: DeviceData  # training split + validation split (what the search trains on)
    test_data: DeviceData  # training split + test split (evaluated once, at the end)
    trainer: Trainer
    keys: SearchKeys
    objective: Objective
    evaluator: Evaluator | None = None
    callbacks: Sequence = ()
    cache: FitnessCache = dataclasses.field(init=False)
    scores: Scores = dataclasses.field(init=False)
    schedule: Schedule = dataclasses.field(init=False)
    candidates: list[CandidateRecord] = dataclasses.field(default_factory=list)
    generations: list[GenerationRecord] = dataclasses.field(default_factory=list)

    @classmethod
    def create(cls, key, config: Config, dataset: Dataset, evaluator: Evaluator | None = None,
               objective: Objective | None = None, space: SearchSpace | None = None,
               callbacks: Sequence = ()) -> Search:
        space = config.space.build() if space is None else space
        strategy = make_strategy(config.ga.strategy, space, config.ga)
        tc, d = config.train, dataset
        rows = max(len(d.val_y), len(d.test_y))  # equal shapes: one program evaluates both
        val_data = DeviceData.create(d.train_x, d.train_y, d.val_x, d.val_y,
                                     tc.eval_batch_size, eval_rows=rows)
        test_data = DeviceData.create(d.train_x, d.train_y, d.test_x, d.test_y,
                                      tc.eval_batch_size, eval_rows=rows)
        trainer = Trainer(val_data, batch_size=tc.batch_size, eval_batch=tc.eval_batch_size,
                          conv_impl=tc.conv_impl, pad_shapes=tc.pad_shapes,
                          cost_model=tc.cost_model, members_per_call=tc.members_per_call,
                          compile_workers=config.run.compile_workers,
                          max_programs=config.run.max_programs, augment=tc.augment,
                          crop_padding=tc.crop_padding, step_mode=tc.step_mode,
                          program_store=program_store(config.run),
                          devices=distributed.select_devices(config.run.devices))
        search = cls(config, space, strategy, dataset, val_data, test_data, trainer,
                     SearchKeys.split(key), objective or Objective(config.ga.objectives),
                     evaluator, callbacks)
        search.schedule = Schedule(tc, search.keys.train, val_data, search.train_members)
        search.cache = FitnessCache(search.schedule.retrain)
        search.scores = Scores(search.objective, search.cache)
        return search

    def train_members(self, members, n_epochs: int, **kw) -> list[Outcome]:
        """`Trainer.train`, or the evaluator given to `evolve` in its place."""
        if self.evaluator is None:
            return self.trainer.train(members, n_epochs, **kw)
        return self.evaluator(self.trainer, members, n_epochs, **kw)

    def notify(self, hook: str, *args) -> None:
        """Call ``hook(*args)`` on every callback that has that method."""
        for callback in self.callbacks:
            method = getattr(callback, hook, None)
            if method is not None:
                method(*args)

    def build(self, description: dict) -> Architecture:
        """The Architecture of a decoded genome on this run's data."""
        return from_description(description, input_shape=self.dataset.image_shape,
                                num_classes=self.dataset.num_classes,
                                defaults=self.config.train.defaults(),
                                kind=self.space.block_kind)

    def infeasible(self, arch: Architecture) -> str:
        """Why ``arch`` may not train (over ``train.max_candidate_gflop``), or ""."""
        return feasibility.infeasible_reason(arch, self.config.train.max_candidate_gflop)

    def warn_cost(self) -> None:
        """Tell callbacks with a ``cost_warning`` method if the largest network the
        search may train trains slowly here."""
        if any(hasattr(c, "cost_warning") for c in self.callbacks):
            ga, tc = self.config.ga, self.config.train
            rows = min(len(self.dataset.train_y), tc.examples_per_candidate or math.inf)
            warning = feasibility.start_warning(
                self.space, strategy_class(ga.strategy).deepest(ga, self.space), self.build,
                tc.max_candidate_gflop, rows, self.val_data.eval_x.shape[0],
                jax.default_backend())
            if warning:
                self.notify("cost_warning", warning)

    def needed(self, state) -> set[str]:
        """Hashes whose parameters are kept: what the strategy's ``state`` holds and the
        top ``run.top_k`` (and ``run.top_k_retrain`` when final training retrains
        several: the winner alone is in ``state``)."""
        run = self.config.run
        k = run.top_k if run.top_k_retrain == 1 else max(run.top_k, run.top_k_retrain)
        return hashes_in(state, self.space) | set(self.scores.top_hashes(k))

    def state_dict(self, state) -> dict:
        """The search's progress as plain data (what `RunDir.save` writes): counters, the
        fitness cache as `Evaluation`s (parameters needed only for the hashes in
        ``with_params``: those strategy ``state`` holds), the records, and the trainer's
        `Trainer.state_dict`."""
        return {"trained": self.schedule.trained, "retrained": self.cache.retrained,
                "params_held_max": self.cache.params_held_max,
                "spent_epochs": self.schedule.spent_epochs,
                "cache": list(self.cache.entries.values()),
                "with_params": self.needed(state),
                "candidates": list(self.candidates), "generations": list(self.generations),
                "trainer": self.trainer.state_dict()}

    def load_state_dict(self, saved: dict) -> None:
        """The inverse of `state_dict` (``with_params`` is not needed)."""
        self.schedule.trained, self.schedule.spent_epochs = (saved["trained"],
                                                             saved["spent_epochs"])
        self.cache.load(saved["cache"], saved["retrained"], saved["params_held_max"])
        self.candidates[:] = saved["candidates"]
        self.generations[:] = saved["generations"]
        self.trainer.load_state_dict(saved["trainer"])


def configured_dataset(config: Config) -> Dataset:
    """The dataset ``config.data`` names, as `evolve` loads it when given none."""
    dc = config.data
    return load_dataset(dc.name, data_dir=dc.data_dir, val_fraction=dc.val_fraction,
                        seed=dc.seed, subset=dc.subset, resize=dc.resize, scaling=dc.scaling)


def check_crop_padding(config: Config, image_shape: tuple[int, ...]) -> None:
    """ValueError unless ``train.crop_padding`` is below the images' height and width
    (with "crop" in ``train.augment``: a padding as large as the image makes nearly
    every crop padding)."""
    tc = config.train
    if "crop" not in tc.augment or len(image_shape) != 3:
        return
    h, w = image_shape[:2]
    if tc.crop_padding >= min(h, w):
        raise ValueError(f"train.crop_padding must be < the images' size ({h}x{w}; e.g. "
                         f"{max(1, min(h, w) // 8)}), got {tc.crop_padding}")


def check_space(config: Config, space: SearchSpace | None) -> None:
    """ValueError unless a user ``space`` has the network genes and suits the strategy
    (`Strategy.check_space`: the VLGA needs ``ga.max_phases`` blocks, say)."""
    if space is None:
        return
    check_network_space(space)
    strategy_class(config.ga.strategy).check_space(config.ga, space)

