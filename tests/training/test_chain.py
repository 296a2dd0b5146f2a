"""Chained training (`vlga_jax.training.chain`): layer programs train a network as the fused
program does, are shared across networks, persist in a store and never change results.

Every test here shares one module-scoped chained Trainer (its layer programs compile
once) and tiny networks.
"""

import os

import jax
import numpy as np
import pytest
from jax.experimental.compilation_cache import compilation_cache

from vlga_jax.config import Config
from vlga_jax.networks.architecture import Architecture, ConvBlock, ConvLayer, DenseBlock
from vlga_jax.training import layer_programs as L
from vlga_jax.training.program_store import ProgramStore
from vlga_jax.training.trainer import Member, Trainer

BATCH = 32


def conv_arch(c1=8, activation="relu", dropout=0.0, bn=True):
    """conv 4k3 + bn + max pool; conv 8k3 [+bn], conv c1 k1 + 1x1 skip (a fan-out)."""
    return Architecture(
        input_shape=(8, 8, 1), num_classes=10,
        blocks=(ConvBlock((ConvLayer(4, 3, bn),), pool="max"),
                ConvBlock((ConvLayer(8, 3, bn), ConvLayer(c1, 1)), pool="avg", skip=True)),
        activation=activation, learning_rate=1e-2, dropout=dropout)


DENSE = Architecture(input_shape=(8, 8, 1), num_classes=10,
                     blocks=(DenseBlock(16, 0.25), DenseBlock(8)), activation="tanh",
                     learning_rate=1e-2)


@pytest.fixture(scope="module", autouse=True)
def jax_cache_off():
    """JAX's persistent compilation cache off while this module runs, whatever a test file
    run before it in this process turned on: the program store writes nothing while it is
    on (`vlga_jax.training.chain._jax_cache_on`), and these tests check what the store holds."""
    enabled = jax.config.jax_enable_compilation_cache
    jax.config.update("jax_enable_compilation_cache", False)
    compilation_cache.reset_cache()
    yield
    jax.config.update("jax_enable_compilation_cache", enabled)
    compilation_cache.reset_cache()


@pytest.fixture(scope="module")
def chain_trainer(jax_cache_off, device_data, tmp_path_factory):
    store = ProgramStore(str(tmp_path_factory.mktemp("programs")))
    return Trainer(device_data, batch_size=BATCH, eval_batch=BATCH, step_mode="chain",
                   program_store=store, compile_workers=1)


@pytest.fixture(scope="module")
def trained(chain_trainer):
    """Outcomes of a conv and a dense member, each trained 2 epochs."""
    members = [Member(conv_arch(), jax.random.key(1)), Member(DENSE, jax.random.key(2))]
    return chain_trainer.train(members, 2, keep_opt_state=True)


def assert_trees_equal(x, y):
    assert jax.tree.structure(x) == jax.tree.structure(y)
    for u, v in zip(jax.tree.leaves(x), jax.tree.leaves(y), strict=True):
        assert np.array_equal(np.asarray(u), np.asarray(v))


def test_chain_trains_like_the_fused_program(device_data, trained):
    fused = Trainer(device_data, batch_size=BATCH, eval_batch=BATCH, step_mode="fused",
                    compile_workers=0)
    [out] = fused.train([Member(conv_arch(), jax.random.key(1))], 2)
    chained = trained[0]
    assert not chained.failed
    assert abs(chained.val_acc - out.val_acc) <= 1 / 32  # one validation image at most
    assert chained.train_loss == pytest.approx(out.train_loss, rel=1e-3)
    assert jax.tree.structure(chained.params) == jax.tree.structure(out.params)
    for u, v in zip(jax.tree.leaves(chained.params), jax.tree.leaves(out.params),
                    strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-3, atol=1e-4)
    assert_trees_equal(jax.tree.structure(chained.stats), jax.tree.structure(out.stats))


def test_same_member_same_bits_whatever_ran_before(chain_trainer, trained):
    # Alone, in the other order, after the store was filled: identical to the first run.
    again = chain_trainer.train([Member(DENSE, jax.random.key(2)),
                                 Member(conv_arch(), jax.random.key(1))], 2)
    for a, b in zip(trained, again[::-1], strict=True):
        assert_trees_equal(a.params, b.params)
        assert_trees_equal(a.stats, b.stats)
        assert (a.val_acc, a.val_loss, a.train_loss) == (b.val_acc, b.val_loss, b.train_loss)


def test_programs_are_per_layer_shape_and_shared_across_networks(chain_trainer, trained,
                                                                   device_data):
    met = len(chain_trainer.stats.layer_programs_met)
    # Another network: only its conv of 16 channels (and what follows it) is new.
    chain_trainer.train([Member(conv_arch(c1=16), jax.random.key(3))], 1)
    new = chain_trainer.stats.layer_programs_met[met:]
    assert new and all("(8, 8, 1)" not in k for k in new)  # block 0's programs: reused
    assert any(k.startswith("('forward', ConvOp(in_shape=(4, 4, 8), features=16") for k in new)
    assert any(k.startswith("('backward', ConvOp(in_shape=(4, 4, 8), features=16") for k in new)
    assert chain_trainer.stats.programs_compiled >= len(chain_trainer.stats.layer_programs_met)


def test_store_loads_what_was_compiled_with_identical_results(device_data, chain_trainer,
                                                             trained):
    store = chain_trainer.chain.store
    assert store.size_bytes() > 0
    fresh = Trainer(device_data, batch_size=BATCH, eval_batch=BATCH, step_mode="chain",
                    program_store=ProgramStore(store.directory), compile_workers=0)
    [out] = fresh.train([Member(conv_arch(), jax.random.key(1))], 2)
    assert_trees_equal(out.params, trained[0].params)
    assert out.val_acc == trained[0].val_acc
    sources = {p["source"] for p in fresh.stats.programs}
    assert sources == {"store"} and fresh.stats.compile_seconds == 0.0


def test_damaged_store_entries_are_recompiled(device_data, chain_trainer, trained, tmp_path):
    store = ProgramStore(str(tmp_path / "programs"))
    first = Trainer(device_data, batch_size=BATCH, eval_batch=BATCH, step_mode="chain",
                    program_store=store, compile_workers=0)
    first.train([Member(DENSE, jax.random.key(2))], 2)
    entries = sorted(os.listdir(store.directory))
    for name in entries[::2]:  # truncate half of them, empty the rest of that half
        with open(os.path.join(store.directory, name), "r+b") as f:
            f.truncate(10)
    again = Trainer(device_data, batch_size=BATCH, eval_batch=BATCH, step_mode="chain",
                    program_store=ProgramStore(store.directory), compile_workers=0)
    [out] = again.train([Member(DENSE, jax.random.key(2))], 2)
    assert_trees_equal(out.params, trained[1].params)
    sources = [p["source"] for p in again.stats.programs]
    assert "compiled" in sources and "store" in sources


def test_store_keeps_within_its_byte_budget(tmp_path, chain_trainer, trained):
    src = chain_trainer.chain.store
    store = ProgramStore(str(tmp_path / "small"), max_bytes=1)
    key = ("eval_batch", (32, 8, 8, 1), BATCH)
    compiled = chain_trainer.chain.wait(chain_trainer.chain.submit(key, jax.random.key(0).dtype))
    store.save(key, compiled)
    assert store.size_bytes() == 0  # over budget: the least recently used go, this one too
    assert src.load(("not", "a", "key")) is None


def test_frozen_blocks_stay_bit_identical_and_opt_state_round_trips(chain_trainer, trained):
    conv = trained[0]
    frozen = chain_trainer.train([Member(conv_arch(), jax.random.key(4), params=conv.params,
                                         stats=conv.stats, frozen_blocks=1)], 1,
                                 keep_opt_state=True)[0]
    assert_trees_equal(frozen.params["block_0"], conv.params["block_0"])
    assert_trees_equal(frozen.stats["block_0"], conv.stats["block_0"])
    assert not np.array_equal(frozen.params["block_1"]["conv_a"]["kernel"],
                              conv.params["block_1"]["conv_a"]["kernel"])
    structure = chain_trainer.opt_state_structure(conv.program, conv_arch(), 1)
    assert jax.tree.structure(frozen.opt_state) == structure
    assert set(frozen.opt_state) == {"block_1/conv_a", "block_1/bn_a", "block_1/conv_b",
                                     "block_1/bn_b", "block_1/skip", "head"}
    # Continuing from an optimizer state: the structure of a whole network's states.
    assert jax.tree.structure(conv.opt_state) == chain_trainer.opt_state_structure(
        conv.program, conv_arch())


def test_dropout_only_where_its_rate_is_above_zero():
    plain = [type(n.op).__name__ for n in L.nodes_of(conv_arch())]
    assert "Dropout" not in plain and plain[-1] == "HeadOp"
    assert not L.nodes_of(conv_arch())[-1].op.dropout
    assert L.nodes_of(conv_arch(dropout=0.3))[-1].op.dropout
    dense = [type(n.op).__name__ for n in L.nodes_of(DENSE)]
    assert dense == ["DenseOp", "Act", "Dropout", "DenseOp", "Act", "HeadOp"]


def test_step_mode_is_checked(device_data):
    with pytest.raises(ValueError, match="step_mode"):
        Trainer(device_data, batch_size=BATCH, eval_batch=BATCH, step_mode="layers")
    with pytest.raises(ValueError, match="train.step_mode"):
        Config().override(**{"train.step_mode": "layers"})
