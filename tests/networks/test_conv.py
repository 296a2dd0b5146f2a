"""Every conv impl equals lax.conv_general_dilated: values, gradients, under vmap."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from vlga_jax.networks import conv
from vlga_jax.networks.conv import CONV_IMPLS, choose_impl, conv2d, default_impl

TOL = dict(rtol=1e-4, atol=1e-4)
# (k, Cin, Cout); N=2, H=6, W=5 (non-square to catch axis mix-ups).
CASES = [(1, 3, 4), (3, 1, 8), (3, 4, 4), (5, 4, 3), (7, 2, 5)]


def reference(x, w, b=None):
    y = lax.conv_general_dilated(
        x,
        w,
        (1, 1),
        "SAME",
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
        precision=lax.Precision.HIGHEST,
    )
    return y if b is None else y + b


def data(k, cin, cout, population=None, seed=0):
    lead = () if population is None else (population,)
    r = np.random.default_rng(seed)
    x = r.standard_normal((*lead, 2, 6, 5, cin), dtype=np.float32)
    w = r.standard_normal((*lead, k, k, cin, cout), dtype=np.float32) / k
    b = r.standard_normal((*lead, cout), dtype=np.float32)
    c = r.standard_normal((*lead, 2, 6, 5, cout), dtype=np.float32)  # linear functional
    return x, w, b, c


def grads(f, x, w, b, c):
    """Value and (dx, dw, db) of the random linear functional sum(c * f(x, w, b))."""
    return jax.value_and_grad(lambda x, w, b: jnp.sum(c * f(x, w, b)), argnums=(0, 1, 2))(x, w, b)


def assert_trees_close(a, b):
    jax.tree.map(lambda u, v: np.testing.assert_allclose(u, v, **TOL), a, b)


@pytest.mark.parametrize("impl", sorted(CONV_IMPLS))
@pytest.mark.parametrize("k,cin,cout", CASES)
def test_forward_and_grads_match_lax(impl, k, cin, cout):
    x, w, b, c = data(k, cin, cout)
    f = jax.jit(lambda x, w, b: conv2d(x, w, b, impl=impl))
    y, got = jax.jit(lambda *a: (f(*a[:3]), grads(f, *a)))(x, w, b, c)
    assert y.shape == (2, 6, 5, cout) and y.dtype == jnp.float32
    np.testing.assert_allclose(y, reference(x, w, b), **TOL)
    assert_trees_close(got, grads(reference, x, w, b, c))


@pytest.mark.parametrize("impl", sorted(CONV_IMPLS))
@pytest.mark.parametrize("k,cin,cout", CASES)
def test_vmap_over_population(impl, k, cin, cout):
    x, w, b, c = data(k, cin, cout, population=3)

    def step(x, w, b, c):
        return grads(lambda x, w, b: conv2d(x, w, b, impl=impl), x, w, b, c)

    got = jax.jit(jax.vmap(step))(x, w, b, c)
    want = [grads(reference, x[p], w[p], b[p], c[p]) for p in range(3)]
    assert_trees_close(got, jax.tree.map(lambda *a: jnp.stack(a), *want))


@pytest.mark.parametrize("impl", sorted(CONV_IMPLS))
@pytest.mark.parametrize("batched", ["x", "w"])
def test_vmap_over_one_argument(impl, batched):
    x, w, _, c = data(3, 2, 4, population=3)
    x0, w0 = x[0], w[0]
    if batched == "x":
        f = jax.vmap(lambda x, c: grads(lambda x, w, b: conv2d(x, w, b, impl=impl), x, w0, 0.0, c))
        got, want = f(x, c), jax.vmap(lambda x, c: grads(reference, x, w0, 0.0, c))(x, c)
    else:
        f = jax.vmap(lambda w, c: grads(lambda x, w, b: conv2d(x, w, b, impl=impl), x0, w, 0.0, c))
        got, want = f(w, c), jax.vmap(lambda w, c: grads(reference, x0, w, 0.0, c))(w, c)
    assert_trees_close(got, want)


@pytest.mark.parametrize("impl", ["lax_map", "lax_unrolled"])
def test_nested_vmap(impl):
    x, w, _, _ = data(3, 2, 4, population=2)
    x, w = jnp.stack([x, x + 1]), jnp.stack([w, -w])  # [2, 2, ...]
    f = jax.vmap(jax.vmap(lambda x, w: conv2d(x, w, impl=impl)))
    np.testing.assert_allclose(f(x, w), jax.vmap(jax.vmap(reference))(x, w), **TOL)


@pytest.mark.parametrize("impl", sorted(CONV_IMPLS))
def test_only_lax_becomes_a_grouped_conv(impl):
    x, w, b, c = data(3, 2, 4, population=3)
    step = jax.vmap(lambda *a: grads(lambda x, w, b: conv2d(x, w, b, impl=impl), *a))
    text = jax.jit(step).lower(x, w, b, c).as_text()
    grouped = "feature_group_count = 3" in text or "batch_group_count = 3" in text
    assert grouped == (impl == "lax")


def test_bad_impl_and_shapes_raise():
    x, w, _, _ = data(3, 2, 4)
    with pytest.raises(ValueError, match="shift_accumulate"):
        conv2d(x, w, impl="nope")
    with pytest.raises(ValueError, match="allowed"):
        choose_impl(2, x.shape, w.shape, impl="nope")
    with pytest.raises(ValueError):
        conv2d(x, w[:2, :2])  # even k
    with pytest.raises(ValueError):
        conv2d(x, w[:, :, :1])  # Cin mismatch


def test_default_impl(monkeypatch):
    monkeypatch.delenv(conv.ENV_VAR, raising=False)
    assert default_impl("cpu") in CONV_IMPLS
    assert default_impl("gpu") == default_impl("tpu") == "lax"
    monkeypatch.setenv(conv.ENV_VAR, "shift_concat")
    assert default_impl("gpu") == "shift_concat"
    monkeypatch.setenv(conv.ENV_VAR, "bogus")
    with pytest.raises(ValueError, match="allowed"):
        default_impl("cpu")


@pytest.fixture
def counted(monkeypatch):
    """Fresh choice cache; counts calls of the timer."""
    monkeypatch.delenv(conv.ENV_VAR, raising=False)
    monkeypatch.setattr(conv, "_CHOICES", {})
    calls = []
    real = conv._measure

    def measure(names, *args):
        calls.extend(names)
        return real(names, *args)

    monkeypatch.setattr(conv, "_measure", measure)
    return calls


def test_choose_impl_measures_once_and_caches(counted):
    xs, ws = (4, 6, 6, 2), (3, 3, 2, 4)
    backend = jax.default_backend()
    name = choose_impl(2, xs, ws, backend=backend)
    assert name in CONV_IMPLS
    assert counted and set(counted) <= set(CONV_IMPLS)
    n = len(counted)
    assert choose_impl(2, xs, ws, backend=backend) == name
    assert choose_impl(2, list(xs), list(ws)) == name  # same key: default backend, lists
    assert len(counted) == n


def test_choose_impl_overrides_skip_timing(counted, monkeypatch):
    xs, ws = (4, 6, 6, 2), (3, 3, 2, 4)
    assert choose_impl(2, xs, ws, impl="shift_concat") == "shift_concat"
    assert choose_impl(2, xs, (1, 1, 2, 4)) in CONV_IMPLS  # k=1: all impls are one matmul
    monkeypatch.setenv(conv.ENV_VAR, "shift_accumulate")
    assert choose_impl(2, xs, ws) == "shift_accumulate"
    assert choose_impl(2, xs, ws, impl="lax") == "lax"  # explicit argument beats env
    assert counted == []


def test_auto_uses_env_without_timing(counted, monkeypatch):
    x, w, _, _ = data(3, 2, 4)
    monkeypatch.setenv(conv.ENV_VAR, "shift_concat")
    used = []
    monkeypatch.setitem(CONV_IMPLS, "shift_concat", lambda x, w: used.append(1) or reference(x, w))
    np.testing.assert_allclose(conv2d(x, w), reference(x, w), **TOL)
    assert used and counted == []
