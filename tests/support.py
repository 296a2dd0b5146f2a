"""Helpers shared by test modules of several layers (a test module is never imported
by another: each would load twice)."""

import json
import os
import subprocess
import sys

import jax
import numpy as np

from vlga_jax import Config, DataConfig, GAConfig, RunConfig, SpaceConfig, TrainConfig
from vlga_jax.networks.architecture import Architecture, ConvBlock, ConvLayer
from vlga_jax.strategies import make_strategy

# from search/test_resume.py
KEY = 2


# from search/test_resume.py
CACHE_OPTIONS = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs",
                 "jax_persistent_cache_min_entry_size_bytes")


# from search/test_resume.py
def tiny_config(cache_dir) -> Config:
    """Also the CLI tests' config: same data and shapes, so they share compiled programs."""
    return Config(
        space=SpaceConfig(max_blocks=2, channels=(8,), kernels=(1, 3)),
        ga=GAConfig(population=4, generations=2, max_phases=2),
        train=TrainConfig(epochs=1, final_epochs=2, batch_size=32, eval_batch_size=32,
                          learning_rate=1e-2),
        data=DataConfig(subset=30),
        run=RunConfig(compile_cache_dir=cache_dir, verbose=False),
    )


# from search/test_resume.py
def shared_cache_dir(tmp_path_factory) -> str:
    """A persistent compilation cache shared by every test module of the session."""
    return str(tmp_path_factory.getbasetemp() / "xla_cache")


# from search/test_sharding.py
SCRIPT = os.path.join(os.path.dirname(__file__), "distributed_search.py")


# from search/test_sharding.py
def start(tmp_path, name: str, *args: str) -> tuple[subprocess.Popen, str]:
    """Start tests/distributed_search.py writing ``tmp_path/name.json``."""
    out = str(tmp_path / f"{name}.json")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, SCRIPT, out, *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, out


# from search/test_sharding.py
def finish(started: tuple[subprocess.Popen, str], timeout: float = 300) -> dict:
    """The Result (as written by the script) of a run that must succeed."""
    proc, out = started
    _, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    with open(out) as f:
        return json.load(f)


# from search/test_sharding.py
def same_search(a: dict, b: dict) -> None:
    """Same candidates' fitness, best architecture and accuracies."""
    assert a["fitness"] == b["fitness"]
    assert a["best"] == b["best"]
    assert (a["val"], a["test"]) == (b["val"], b["test"])


# from training/test_trainer.py
RTOL, ATOL = 1e-4, 1e-5


# from training/test_trainer.py
EPOCHS = 1


# from training/test_trainer.py
def assert_trees_close(x, y, rtol=RTOL, atol=ATOL, exact=False):
    assert jax.tree.structure(x) == jax.tree.structure(y)
    for (path, u), v in zip(jax.tree_util.tree_leaves_with_path(x), jax.tree.leaves(y),
                            strict=True):
        u, v = np.asarray(u), np.asarray(v)
        assert u.shape == v.shape, jax.tree_util.keystr(path)
        if exact:
            assert np.array_equal(u, v), jax.tree_util.keystr(path)
        else:
            np.testing.assert_allclose(u, v, rtol=rtol, atol=atol,
                                       err_msg=jax.tree_util.keystr(path))


# from training/test_trainer.py
def assert_outcomes_close(o1, o2, rtol=RTOL, atol=ATOL):
    assert o1.failed == o2.failed
    np.testing.assert_allclose(o1.val_acc, o2.val_acc, rtol=rtol, atol=atol)
    np.testing.assert_allclose(o1.val_loss, o2.val_loss, rtol=rtol, atol=atol)
    np.testing.assert_allclose(o1.train_loss, o2.train_loss, rtol=rtol, atol=atol)
    assert_trees_close(o1.params, o2.params, rtol, atol)
    assert_trees_close(o1.stats, o2.stats, rtol, atol)


# from training/test_trainer.py
def dropout_arch(channels: int):
    """One conv block with dropout 0.5 after it and before the head."""
    return Architecture((8, 8, 1), 10, (ConvBlock((ConvLayer(channels, 3),), pool="max",
                                                  dropout=0.5),),
                        dropout=0.5, learning_rate=1e-2)


# from strategies/test_strategies.py
PRESETS = ("binary-cnn", "mlp-ga", "grid", "tournament", "random-population", "random",
           "classical-ga")


# from strategies/test_strategies.py
def small(preset: str, population: int = 4, generations: int = 3):
    overrides = {"ga.population": population, "ga.generations": generations}
    if preset == "grid":  # a grid prefix: the whole grid holds 672 networks
        overrides["ga.budget_epochs"] = population * generations * 5
    if preset == "tournament":  # elites are off in the preset; on here to test them
        overrides["ga.elites"] = 2
    config = Config.preset(preset).override(**overrides)
    space = config.space.build()
    return make_strategy(config.ga.strategy, space, config.ga), space


# from strategies/test_strategies.py
# One instance per preset: their jitted breeding steps compile once for the module.
STRATEGY = {name: small(name) for name in PRESETS}


# from core/test_checkpoint.py
def hold_lock(path):
    """A plain Python process (no jax) holding an exclusive flock on ``path`` with its pid
    written in, as a running search does; stop it with .kill()."""
    import subprocess
    import sys

    script = ("import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
              "fcntl.flock(fd, fcntl.LOCK_EX); os.ftruncate(fd, 0); "
              "os.write(fd, f'{os.getpid()}\\n'.encode()); print('held', flush=True); "
              "sys.stdin.read()")
    proc = subprocess.Popen([sys.executable, "-c", script, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc
