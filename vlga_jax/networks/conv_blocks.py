"""Conv blocks (`ConvBlock`, `ConvKey`): the ``conv`` kind and the ``binary_cnn`` kind,
which decodes the binary chromosome into conv blocks.

A conv block: conv a, batch norm a (knob), activation [, conv b, bn b, activation]
[+ 1x1 skip projection of the block input] [, 2x2 pool, max or average (knob)]
[, dropout (knob rate; binary-cnn stages)]. Parameters ``conv_a``, ``bn_a``, ``conv_b``,
``bn_b``, ``skip``.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from vlga_jax.core.names import block_name, bn_name, conv_name
from vlga_jax.genetics.space import BINARY_HEAD
from vlga_jax.networks.activations import ACTIVATE
from vlga_jax.networks.architecture import (
    MAX_CONVS,
    POOL_KINDS,
    ConvBlock,
    ConvKey,
    ConvLayer,
)
from vlga_jax.networks.kinds import BlockKind, register
from vlga_jax.networks.model import Conv, SwitchableBatchNorm, dropout, pool2x2

BINARY_HEAD_DROPOUT = 0.5
MAX_CHANNELS = 256


def _pooled(h: int, w: int) -> tuple[int, int]:
    return -(-h // 2), -(-w // 2)


class ConvBlockModule(nn.Module):
    """One conv block; pools when ``layer.pool`` and ``pool`` (the network may pool the
    last block itself)."""

    layer: ConvKey
    impl: str
    frozen: bool = False
    pool: bool = True
    activation_impl: str = "switch"

    @nn.compact
    def __call__(self, x, act, batchnorm, pool_max, use_b, train: bool):
        y = x
        for j, (channels, kernel) in enumerate(self.layer.convs):
            z = Conv(channels, kernel, self.impl, name=conv_name(j))(y)
            z = SwitchableBatchNorm(self.frozen, name=bn_name(j))(z, batchnorm[j], train)
            z = ACTIVATE[self.activation_impl](z, act)
            # A program shared with candidates that lack conv b passes conv a through.
            y = jnp.where(use_b, z, y) if j == 1 and z.shape == y.shape else z
        if self.layer.skip:
            y = y + Conv(y.shape[-1], 1, self.impl, name="skip")(x)
        if self.layer.pool and self.pool:
            y = pool2x2(y, pool_max)
        return y


class ConvKind(BlockKind):
    """Blocks of Xiao et al. 2020, Table 1 (genes ``channels_a``, ``kernel_a``, ...)."""

    name = "conv"
    block_type = ConvBlock
    key_type = ConvKey
    spatial = True
    block_genes = ("channels_a", "kernel_a", "batchnorm_a", "include_b", "channels_b",
                   "kernel_b", "batchnorm_b", "include_pool", "pool_type", "include_skip")
    required_genes = ("channels_a", "kernel_a")
    positive_int_genes = ("channels_a", "channels_b", "kernel_a", "kernel_b")
    choice_genes = {"pool_type": POOL_KINDS}

    # -- blocks -------------------------------------------------------------------------
    def check(self, block: ConvBlock) -> None:
        if not 1 <= len(block.convs) <= MAX_CONVS:
            raise ValueError(f"a conv block has 1..{MAX_CONVS} convs, got {len(block.convs)}")
        if block.pool not in (None, *POOL_KINDS):
            raise ValueError(f"pool must be None or one of {POOL_KINDS}, got {block.pool!r}")
        for c in block.convs:
            if c.kernel % 2 != 1:
                raise ValueError(f"kernel sizes must be odd, got {c.kernel}")

    def key(self, block: ConvBlock) -> ConvKey:
        return ConvKey(tuple((c.channels, c.kernel) for c in block.convs),
                       block.pool is not None, block.skip)

    def keyed_dropout(self, block: ConvBlock) -> bool:
        return block.dropout > 0

    def fill_knobs(self, block: ConvBlock, i: int, knobs: dict) -> None:
        for j, c in enumerate(block.convs):
            knobs["batchnorm"][i, j] = c.batchnorm
        knobs["pool_max"][i] = block.pool == "max"
        knobs["pool_on"][i] = block.pool is not None
        knobs["use_b"][i] = len(block.convs) == 2

    def describe(self, block: ConvBlock, activation: str) -> str:
        convs = " -> ".join(
            f"conv {c.channels}x{c.kernel}x{c.kernel}{' +bn' if c.batchnorm else ''}"
            for c in block.convs)
        extra = (" +skip" if block.skip else "") + (
            f" -> {block.pool}pool 2x2" if block.pool else "")
        extra += f" -> dropout {block.dropout}" if block.dropout else ""
        return f"{convs} ({activation}){extra}"

    # -- layer keys ---------------------------------------------------------------------
    def param_shapes(self, layer: ConvKey, in_shape: tuple) -> dict:
        c = cin = in_shape[-1]
        block = {}
        for j, (ch, k) in enumerate(layer.convs):
            block[conv_name(j)] = {"kernel": (k, k, cin, ch), "bias": (ch,)}
            block[bn_name(j)] = {"scale": (ch,), "bias": (ch,)}
            cin = ch
        if layer.skip:
            block["skip"] = {"kernel": (1, 1, c, cin), "bias": (cin,)}
        return block

    def stats_shapes(self, layer: ConvKey) -> dict:
        return {bn_name(j): {"mean": (ch,), "var": (ch,)}
                for j, (ch, _) in enumerate(layer.convs)}

    def out_shape(self, layer: ConvKey, in_shape: tuple) -> tuple:
        h, w, _ = in_shape
        if layer.pool:
            h, w = _pooled(h, w)
        return (h, w, layer.convs[-1][0])

    def convs(self, layer: ConvKey, in_shape: tuple) -> list[tuple[tuple, tuple]]:
        """The block's k x k convs (the 1x1 skip projection aside)."""
        h, w, cin = in_shape
        out = []
        for ch, k in layer.convs:
            out.append(((h, w, cin), (k, k, cin, ch)))
            cin = ch
        return out

    def macs(self, layer: ConvKey, in_shape: tuple) -> int:
        h, w, c = in_shape
        total = sum(h * w * k * k * cin * ch for (_, _, cin), (k, _, _, ch)
                    in self.convs(layer, in_shape))
        if layer.skip:
            total += h * w * c * layer.convs[-1][0]
        return total

    def activations(self, layer: ConvKey, in_shape: tuple) -> int:
        """Each conv's output, its batch norm's and its activation's; the skip
        projection's output and the sum; the pooled output."""
        h, w, _ = in_shape
        out = layer.convs[-1][0]
        total = sum(h * w * ch for ch, _ in layer.convs) * 3
        if layer.skip:
            total += 2 * h * w * out
        if layer.pool:
            ph, pw = _pooled(h, w)
            total += ph * pw * out
        return total

    def pad(self, layers: list[ConvKey]) -> ConvKey:
        """Channels and kernels to their maximum; a block where some keys have conv b and
        others do not gets both convs with equal channels, so that a skipped conv b can
        pass conv a's output through unchanged; pooling or a skip if any has one (a
        missing skip projection is an all-zero one)."""
        n_convs = max(len(b.convs) for b in layers)
        convs = [(max(b.convs[j][0] for b in layers if len(b.convs) > j),
                  max(b.convs[j][1] for b in layers if len(b.convs) > j))
                 for j in range(n_convs)]
        if n_convs == 2 and any(len(b.convs) == 1 for b in layers):
            width = max(convs[0][0], convs[1][0])
            convs = [(width, convs[0][1]), (width, convs[1][1])]
        return ConvKey(tuple(convs), any(b.pool for b in layers), any(b.skip for b in layers))

    def topology(self, layers: tuple) -> tuple:
        """Each block's pooling but the last's (global average pooling follows it)."""
        return (*(b.pool for b in layers[:-1]), None)

    def head_pool(self, layer: ConvKey) -> bool:
        return layer.pool

    def label(self, layer: ConvKey) -> str:
        text = ",".join(f"{c}k{k}" for c, k in layer.convs)
        return text + ("+skip" if layer.skip else "") + ("/p" if layer.pool else "")

    # -- Flax ---------------------------------------------------------------------------
    def apply(self, network, layer: ConvKey, i: int, x, knobs, train: bool):
        # The last block's pooling is a knob: global average pooling follows.
        pool_here = i < len(network.key.layers) - 1 or network.features
        x = ConvBlockModule(layer, network.impl, i < network.frozen_blocks, pool_here,
                            network.activation_impl, name=block_name(i))(
            x, knobs.activation[i], knobs.batchnorm[i], knobs.pool_max[i], knobs.use_b[i],
            train)
        if network.key.block_dropout and train:
            x = dropout(network.make_rng("dropout"), x, knobs.block_dropout[i], train)
        return x

    # -- genes --------------------------------------------------------------------------
    def decode(self, blocks: list[dict], genes: dict, input_shape: tuple) -> dict:
        out = []
        for b in blocks:
            convs = [ConvLayer(int(b["channels_a"]), int(b["kernel_a"]),
                               bool(b.get("batchnorm_a", False)))]
            if b.get("include_b", False):
                convs.append(ConvLayer(int(b["channels_b"]), int(b["kernel_b"]),
                                       bool(b.get("batchnorm_b", False))))
            pool = b.get("pool_type", "max") if b.get("include_pool", False) else None
            out.append(ConvBlock(tuple(convs), pool, bool(b.get("include_skip", False))))
        return {"blocks": out}


class BinaryCnnKind(ConvKind):
    """The binary-encoded CNN GA's chromosome (`space.binary_cnn`) as conv blocks.

    Stage s: one or two ``kernel`` x ``kernel`` convs of ``filters * filter_scale**s``
    channels (at most 256), batch norm after each, the ``activation`` gene's activation
    (relu without one), a 2x2 max pool while the image is larger than 1x1 (8x8 digits
    pool in 3 stages at most), dropout. Then the dense head (2048, 1024 units, dropout
    0.5) and the classifier.

    The block gene is ``one_conv`` (True: one conv); spaces recorded before it read the
    block gene ``two_convs`` (True: two convs), and decode as they did.

    A kernel wider than 2 * size - 1 on a size x size image only ever reads the 'SAME'
    zero padding with its outer taps: it is stored as that smaller kernel (the same
    function, fewer FLOPs; a 7x7 conv on a 1x1 image is a 1x1 conv).
    """

    name = "binary_cnn"
    block_genes = ("one_conv", "two_convs")
    required_genes = ()
    global_genes = ("filters", "filter_scale", "kernel", "activation", "dropout", "optimizer",
                    "learning_rate", "weight_decay")
    positive_int_genes = ("filters", "kernel")
    choice_genes = {}

    def check_space(self, space) -> None:
        super().check_space(space)
        names = [g.name for g in space.block_genes]
        if len(names) != 1:
            raise ValueError(f"space: {space.block_kind} blocks need one block gene, "
                             f"'one_conv', got {tuple(names)}")

    def decode(self, blocks: list[dict], genes: dict, input_shape: tuple) -> dict:
        h, w = int(input_shape[0]), int(input_shape[1])
        out = []
        for s, b in enumerate(blocks):
            channels = min(MAX_CHANNELS,
                           int(round(genes["filters"] * genes["filter_scale"] ** s)))
            kernel = min(int(genes["kernel"]), 2 * max(h, w) - 1)
            conv = ConvLayer(channels, kernel, True)
            one = b["one_conv"] if "one_conv" in b else not b["two_convs"]
            convs = (conv,) if one else (conv, conv)
            pool = None
            if h > 1 or w > 1:
                pool = "max"
                h, w = _pooled(h, w)
            out.append(ConvBlock(convs, pool, False, float(genes["dropout"])))
        return {"blocks": out, "activation": str(genes.get("activation", "relu")),
                "dropout": BINARY_HEAD_DROPOUT, "head_units": BINARY_HEAD}


CONV = register(ConvKind())
BINARY_CNN = register(BinaryCnnKind())
