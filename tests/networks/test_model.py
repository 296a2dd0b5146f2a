"""The model's per-candidate activation: the vmappable formula equals each function."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from vlga_jax.networks.architecture import ACTIVATIONS
from vlga_jax.networks.model import activate, activate_family

REFERENCE = {
    "relu": jax.nn.relu, "tanh": jnp.tanh, "elu": jax.nn.elu, "selu": jax.nn.selu,
    "leaky_relu": lambda x: jax.nn.leaky_relu(x, 0.01), "sigmoid": jax.nn.sigmoid,
}
X = jnp.concatenate([jnp.linspace(-8.0, 8.0, 2001, dtype=jnp.float32),
                     jnp.zeros(1, jnp.float32)])  # x == 0 exactly: the kinks' gradients


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("fn", [activate, activate_family], ids=["switch", "family"])
def test_activation_values_and_gradients(fn, name):
    index = jnp.int32(ACTIVATIONS.index(name))
    ref = REFERENCE[name]
    np.testing.assert_allclose(fn(X, index), ref(X), rtol=1e-6, atol=2e-7)
    grad = jax.vmap(jax.grad(lambda x: fn(x, index)))(X)
    np.testing.assert_allclose(grad, jax.vmap(jax.grad(ref))(X), rtol=1e-5, atol=2e-7)


def test_family_under_vmap_with_mixed_indices():
    indices = jnp.arange(len(ACTIVATIONS), dtype=jnp.int32)
    out = jax.vmap(activate_family, in_axes=(None, 0))(X, indices)
    for i, name in enumerate(ACTIVATIONS):
        np.testing.assert_allclose(out[i], REFERENCE[name](X), rtol=1e-6, atol=2e-7)


def test_build_gives_the_trainers_initial_variables_and_a_clear_rng_error():
    import vlga_jax
    from vlga_jax.networks.architecture import from_description
    from vlga_jax.networks.params import init_params

    arch = from_description({"blocks": [{"channels_a": 4, "kernel_a": 3, "batchnorm_a": True}],
                             "globals": {"activation": "relu"}},
                            input_shape=(4, 4, 1), num_classes=3)
    net, variables, knobs = vlga_jax.build(arch, jax.random.key(0))
    params, stats = init_params(jax.random.key(0), arch.shape_key())
    for a, b in zip(jax.tree.leaves(variables), jax.tree.leaves({"batch_stats": stats,
                                                                 "params": params}),
                    strict=True):
        np.testing.assert_array_equal(a, b)
    x = jnp.ones((2, 4, 4, 1))
    assert net.apply(variables, x, knobs).shape == (2, 3)
    with pytest.raises(ValueError, match=r"rngs=\{'dropout': key\}"):
        net.apply(variables, x, knobs, train=True, mutable=["batch_stats"])
    logits, updates = net.apply(variables, x, knobs, train=True, mutable=["batch_stats"],
                                rngs={"dropout": jax.random.key(1)})
    assert logits.shape == (2, 3) and set(updates) == {"batch_stats"}
