"""How a search hands its candidates to training (`vlga_jax.search.schedule`): with
``train.examples_per_candidate`` every search candidate trains on its own subset, drawn
from its first key through every rung, and final training on every example.

An evaluator that trains nothing records the members it is given (no compile: fast).
"""

import jax
import numpy as np

from vlga_jax import Config, GAConfig, RunConfig, SpaceConfig, TrainConfig, evolve
from vlga_jax.networks.params import init_params
from vlga_jax.training.members import Outcome

EXAMPLES = 64


class Recorder:
    """An evaluator recording (final training?, members) per call (accuracy from the
    architecture), and the callback that tells it final training started."""

    def __init__(self):
        self.final, self.calls = False, []

    def __call__(self, *args):  # the generation callback
        pass

    def final_started(self, *args):
        self.final = True

    def train(self, trainer, members, n_epochs, data=None, **kw):
        self.calls.append((self.final, list(members)))
        out = []
        for m in members:
            params, stats = ((m.params, m.stats or {}) if m.params is not None else
                             init_params(m.key, m.arch.shape_key()))
            acc = (m.arch.param_count % 89) / 100
            out.append(Outcome(params=params, stats=stats, val_acc=acc, val_loss=1 - acc,
                               train_loss=1.0, failed=False, reason="", seconds=0.0,
                               program=m.arch.shape_key()))
        return out


def key_bits(key) -> tuple:
    return tuple(np.asarray(jax.random.key_data(key)).ravel().tolist())


def test_search_candidates_train_on_subsets_and_final_training_on_all(digits_dataset):
    config = Config(
        space=SpaceConfig(max_blocks=2, channels=(8,), kernels=(1, 3)),
        ga=GAConfig(population=4, generations=2, max_phases=1),
        train=TrainConfig(epochs=2, halving_min_epochs=1, halving_eta=2, final_epochs=2,
                          batch_size=32, eval_batch_size=32,
                          examples_per_candidate=EXAMPLES),
        run=RunConfig(compile_cache_dir=None, verbose=False))
    recorder = Recorder()
    evolve(jax.random.key(3), config, dataset=digits_dataset, evaluator=recorder.train,
           callbacks=[recorder])
    search = [m for final, members in recorder.calls if not final for m in members]
    final = [m for is_final, members in recorder.calls if is_final for m in members]
    assert search and final
    assert all(m.examples == EXAMPLES for m in search)
    assert all(m.examples is None for m in final)  # final training: the whole split
    # Rung 0 trains from the candidate's key, which draws its subset; later rungs train
    # from fold_in(key, rung) but keep the subset of the first.
    first_keys = {key_bits(m.key) for m in search if key_bits(m.key) == key_bits(m.examples_key)}
    later = [m for m in search if key_bits(m.key) != key_bits(m.examples_key)]
    assert later and all(key_bits(m.examples_key) in first_keys for m in later)
