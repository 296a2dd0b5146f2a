"""Checkpoints: the generic state codec, atomic checkpoint dirs, damaged-file fallback."""

import json
import os
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from support import hold_lock

from vlga_jax import Config, GAConfig, SpaceConfig
from vlga_jax.core import checkpoint as ckpt
from vlga_jax.runs import lock as run_lock
from vlga_jax.runs import rundir
from vlga_jax.runs.rundir import RunDir
from vlga_jax.strategies.vlga import VLGA, VLGAState


@pytest.fixture(scope="module")
def vlga_state():
    """A VLGA state in phase 1 (so phase_best_genome is a Genome, not None), told."""
    config = Config(space=SpaceConfig(max_blocks=2, channels=(8,), kernels=(1, 3)),
                    ga=GAConfig(population=4, generations=1, max_phases=2))
    strategy = VLGA(config.space.build(), config.ga)
    state = strategy.init(jax.random.key(0))
    population, state = strategy.ask(jax.random.key(1), state, None)
    state = strategy.tell(population, jnp.array([0.1, 0.5, np.nan, 0.3]), state, None)
    _, state = strategy.ask(jax.random.key(2), state, None)  # next phase
    assert state.phase == 1 and state.phase_best_genome is not None
    return state


def assert_same_tree(a, b):
    la, ta = jax.tree.flatten(a)
    lb, tb = jax.tree.flatten(b)
    assert ta == tb
    for x, y in zip(la, lb, strict=True):
        assert np.asarray(x).dtype == np.asarray(y).dtype
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_codec_round_trips_a_strategy_state_through_json(vlga_state):
    arrays = []
    enc = ckpt.encode(vlga_state, arrays)
    text = json.dumps(enc)  # the non-array half is plain JSON
    back = ckpt.decode(json.loads(text), arrays)
    assert isinstance(back, VLGAState)
    assert_same_tree(vlga_state, back)
    for field in ("phase", "generation", "told", "done", "phase_best", "stop_reason"):
        assert getattr(back, field) == getattr(vlga_state, field)
    assert isinstance(back.phase_best, tuple)


def test_codec_keeps_none_keys_and_nested_containers():
    arrays = []
    obj = {"key": jax.random.key(7), "none": None, "t": (1, 2.5, "x", [np.int32(3)]),
           "inf": -np.inf}
    back = ckpt.decode(json.loads(json.dumps(ckpt.encode(obj, arrays))), arrays)
    assert back["none"] is None and back["t"] == (1, 2.5, "x", [3]) and back["inf"] == -np.inf
    np.testing.assert_array_equal(jax.random.key_data(back["key"]),
                                  jax.random.key_data(obj["key"]))
    with pytest.raises(TypeError, match="state.bad"):
        ckpt.encode({"bad": object()}, [], "state")


def save_three(root, vlga_state):
    arrays = []
    enc = ckpt.encode(vlga_state, arrays)
    tree = {"state": {f"a{i}": a for i, a in enumerate(arrays)},
            "params": {"h": {"params": {"k": np.arange(6, dtype=np.float32)}, "stats": {}}}}
    for i in (1, 2, 3):
        ckpt.save(root, i, {"strategy": enc, "i": i}, tree, keep=2)


def test_files_name_dataclasses_by_their_module_before_the_layers():
    """Model files and checkpoints written before the layer subpackages read back, and
    new ones are written byte for byte as they were (``vlga_jax.genome:Genome``)."""
    from vlga_jax.genetics.genome import GeneMask
    from vlga_jax.networks.architecture import ConvBlock, ConvLayer

    block = ConvBlock((ConvLayer(8, 3),), pool="max")
    encoded = ckpt.encode({"b": block, "m": GeneMask(np.ones(2), np.ones(1))}, [])
    names = [v["__dataclass__"] for v in encoded["__dict__"].values()]
    assert names == ["vlga_jax.architecture:ConvBlock", "vlga_jax.genome:GeneMask"]
    assert ckpt.decode(json.loads(json.dumps(encoded)), [np.ones(2), np.ones(1)])["b"] == block


def test_save_is_atomic_and_keeps_the_newest_two(tmp_path, vlga_state):
    save_three(tmp_path, vlga_state)
    assert [p.name for p in ckpt.list_checkpoints(tmp_path)] == ["ckpt_000002", "ckpt_000003"]
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp")]
    state, tree, path = ckpt.load_latest(tmp_path)
    assert state["i"] == 3 and path.name == "ckpt_000003"
    arrays = [tree["state"][f"a{i}"] for i in range(len(tree["state"]))]
    assert_same_tree(ckpt.decode(state["strategy"], arrays), vlga_state)
    np.testing.assert_array_equal(tree["params"]["h"]["params"]["k"], np.arange(6))
    assert tree["params"]["h"]["stats"] == {}


@pytest.mark.parametrize("damage", ["truncate_state", "corrupt_array", "drop_manifest"])
def test_damaged_latest_falls_back_with_a_warning_naming_the_file(tmp_path, vlga_state,
                                                                  damage):
    save_three(tmp_path, vlga_state)
    latest = tmp_path / "ckpt_000003"
    if damage == "truncate_state":
        victim = latest / "state.json"
        victim.write_bytes(victim.read_bytes()[:20])
    elif damage == "corrupt_array":
        victim = max((p for p in (latest / "arrays").rglob("*") if p.is_file()),
                     key=lambda p: p.stat().st_size)
        data = bytearray(victim.read_bytes())
        data[len(data) // 2] ^= 0xFF
        victim.write_bytes(bytes(data))
    else:
        victim = latest / "manifest.json"
        victim.unlink()
    with pytest.warns(RuntimeWarning, match=str(victim)):
        state, _, path = ckpt.load_latest(tmp_path)
    assert state["i"] == 2 and path.name == "ckpt_000002"


def test_every_checkpoint_damaged_is_an_error_naming_them(tmp_path, vlga_state):
    save_three(tmp_path, vlga_state)
    for p in ckpt.list_checkpoints(tmp_path):
        (p / "state.json").write_text("{")
    with pytest.raises(ckpt.CheckpointError, match="ckpt_000002.*state.json"):
        ckpt.load_latest(tmp_path)
    assert ckpt.load_latest(tmp_path / "nothing_here") is None


def test_run_dir_refuses_another_run(tmp_path, digits_dataset):
    config = Config(space=SpaceConfig(max_blocks=2, channels=(8,), kernels=(1, 3)),
                    ga=GAConfig(population=4, generations=1, max_phases=2))
    key = jax.random.key(0)
    RunDir(tmp_path / "run", config, key, digits_dataset)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # Same search; run options (not part of the search) may change on resume.
        RunDir(tmp_path / "run", config.override(**{"run.verbose": False}), key,
               digits_dataset)
    with pytest.raises(ValueError, match=r"ga\.population: 4 .* 6 now"):
        RunDir(tmp_path / "run", config.override(**{"ga.population": 6}), key,
               digits_dataset)
    with pytest.raises(ValueError, match=r"key\.data"):
        RunDir(tmp_path / "run", config, jax.random.key(1), digits_dataset)
    other = type(digits_dataset).from_arrays(
        digits_dataset.test_x[:60].round().astype(np.uint8), digits_dataset.test_y[:60],
        val_fraction=0.2, test_fraction=0.2)
    with pytest.raises(ValueError, match=r"dataset\.sha256"):
        RunDir(tmp_path / "run", config, key, other)
    # `vlga run` asks the same before saying a finished run has nothing to do.
    assert rundir.same_run(tmp_path / "run", config, key, digits_dataset)
    assert not rundir.same_run(tmp_path / "run", config, key, other)
    assert not rundir.same_run(tmp_path / "run", config, key, digits_dataset, space={"x": 1})
    assert not rundir.same_run(tmp_path / "nothing", config, key, digits_dataset)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("precious")
    with pytest.raises(ValueError, match="not empty and holds no vlga run"):
        RunDir(tmp_path / "mine", config, key, digits_dataset)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "precious"




def test_run_dir_is_locked_while_another_process_runs_it(tmp_path, digits_dataset):
    import subprocess
    import sys

    config = Config(space=SpaceConfig(max_blocks=2, channels=(8,), kernels=(1, 3)),
                    ga=GAConfig(population=4, generations=1, max_phases=2))
    key = jax.random.key(0)
    run = tmp_path / "run"
    RunDir(run, config, key, digits_dataset)
    RunDir(run, config, key, digits_dataset)  # this process again: fine
    assert (run / "lock").read_text().split()[0] == str(os.getpid())
    other = tmp_path / "other"
    RunDir(other, config, key, digits_dataset)
    run_lock.unlock(other)  # as a finished run does
    holder = hold_lock(other / "lock")  # a live process runs it
    try:
        with pytest.raises(ValueError, match=f"in use by another process \\(pid {holder.pid}"):
            RunDir(other, config, key, digits_dataset)
    finally:
        holder.kill()
        holder.wait()
    RunDir(other, config, key, digits_dataset)  # its lock died with it
    run_lock.unlock(other)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (other / "lock").write_text(f"{dead.pid}\n")  # a stale lock file: a dead holder's
    RunDir(other, config, key, digits_dataset)
    assert (other / "lock").read_text().split()[0] == str(os.getpid())


def test_run_dir_lock_is_atomic(tmp_path):
    """Forked processes claiming one directory at the same moment: exactly one gets it."""
    n = 12
    go_r, go_w = os.pipe()
    done_r, done_w = os.pipe()
    children = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # jax warns about fork; the children touch no jax
        for _ in range(n):
            pid = os.fork()
            if pid == 0:  # child: wait for the start, try, hold until told to exit
                code = 3
                try:
                    os.close(go_w)
                    os.read(go_r, 1)
                    try:
                        run_lock.lock(tmp_path)
                        code = 0
                    except ValueError:
                        code = 1
                    os.read(done_r, 1)
                finally:
                    os._exit(code)
            children.append(pid)
    os.write(go_w, b"x" * n)
    time.sleep(0.5)
    os.write(done_w, b"x" * n)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
    assert sorted(codes) == [0] + [1] * (n - 1), codes
