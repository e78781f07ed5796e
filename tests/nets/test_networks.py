"""The networks match the paper's architecture and behave as the paper's inference needs."""

import keras
import numpy as np
import pytest

from pix2pix_tf.nets.networks import PerImageBatchNorm, patchgan_discriminator, trainable_parameters, unet_generator


def conv(c_in: int, c_out: int, *, norm: bool = True) -> int:
    """A 4x4 (transposed) convolution: its kernel, plus gamma and beta of the norm after it or,
    where no norm follows, its bias."""
    return 16 * c_in * c_out + (2 * c_out if norm else c_out)


# The paper's 256x256 generator at ngf 64 (README "Recipe"), counted by hand layer by layer:
# encoder C64-C128-C256-C512-C512-C512-C512-C512, no norm on the first and the innermost layer;
# decoder CD512-CD512-CD512-C512-C256-C128-C64, each after the first reading its input concatenated
# with the matching skip (twice the channels), then the output layer to 3 channels.
GENERATOR_256 = {
    "down1": conv(3, 64, norm=False), "down2": conv(64, 128), "down3": conv(128, 256), "down4": conv(256, 512),
    "down5": conv(512, 512), "down6": conv(512, 512), "down7": conv(512, 512), "down8": conv(512, 512, norm=False),
    "up1": conv(512, 512), "up2": conv(1024, 512), "up3": conv(1024, 512), "up4": conv(1024, 512),
    "up5": conv(1024, 256), "up6": conv(512, 128), "up7": conv(256, 64), "out": conv(128, 3, norm=False),
}
# The 70x70 PatchGAN at ndf 64 on the 6-channel pair: C64 (no norm) - C128 - C256 - C512 (stride 1) - logits.
DISCRIMINATOR_70 = {"d1": conv(6, 64, norm=False), "d2": conv(64, 128), "d3": conv(128, 256), "d4": conv(256, 512),
                    "logits": conv(512, 1, norm=False)}


def parameters_by_block(model: keras.Model) -> dict[str, int]:
    counts: dict[str, int] = {}
    for layer in model.layers:
        block = layer.name.split("_")[0]
        counts[block] = counts.get(block, 0) + sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
    return {block: count for block, count in counts.items() if count}


def test_parameter_counts_are_the_hand_counts_of_the_paper_architecture():
    """Exact, block by block. (The PyTorch reference's unet_256 has 54,413,955: 576 fewer, as its innermost
    and outermost down-convolutions have no bias, 512 + 64.)"""
    generator = unet_generator(3, 3, depth=8, ngf=64)
    discriminator = patchgan_discriminator(3, 3, ndf=64)
    assert parameters_by_block(generator) == GENERATOR_256
    assert parameters_by_block(discriminator) == DISCRIMINATOR_70
    assert trainable_parameters(generator) == sum(GENERATOR_256.values()) == 54_414_531
    assert trainable_parameters(discriminator) == sum(DISCRIMINATOR_70.values()) == 2_768_705


@pytest.mark.parametrize("synchronized", [False, True])
def test_batch_norm_training_mode_equals_the_hand_computation(synchronized):
    """Training: every channel normalised with the mean and biased variance of the whole batch,
    then scaled and shifted; inference: with each image's own statistics. Moving averages untouched."""
    rng = np.random.default_rng(4)
    x = (rng.normal(size=(3, 5, 4, 6)) * rng.uniform(0.5, 3.0, 6) + rng.normal(size=6)).astype("float32")
    gamma, beta = rng.normal(size=6).astype("float32"), rng.normal(size=6).astype("float32")
    layer = PerImageBatchNorm(epsilon=1e-5, synchronized=synchronized)
    layer.build(x.shape)
    layer.gamma.assign(gamma)
    layer.beta.assign(beta)
    moving = [w.numpy().copy() for w in layer.non_trainable_weights]

    def expected(axes):
        mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-5) * gamma + beta

    np.testing.assert_allclose(layer(x, training=True), expected((0, 1, 2)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer(x, training=False), expected((1, 2)), rtol=1e-5, atol=1e-5)
    for old, new in zip(moving, layer.non_trainable_weights):
        np.testing.assert_array_equal(old, new.numpy())


@pytest.mark.parametrize("n_layers, patches", [(3, 30), (1, 126), (0, 256)])
def test_discriminator_patch_grid(n_layers, patches):
    discriminator = patchgan_discriminator(3, 3, n_layers=n_layers, ndf=8)
    x = np.zeros((1, 256, 256, 3), "float32")
    assert discriminator([x, x]).shape == (1, patches, patches, 1)


def test_innermost_layer_has_no_norm_and_varies_at_batch_one():
    generator = unet_generator(3, 3, depth=8, ngf=8)
    names = [layer.name for layer in generator.layers]
    assert "down8_conv" in names and "down8_norm" not in names and "down7_norm" in names
    bottleneck = keras.Model(generator.input, generator.get_layer("down8_conv").output)
    rng = np.random.default_rng(0)
    outs = [bottleneck(rng.uniform(-1, 1, (1, 256, 256, 3)).astype("float32"), training=True).numpy()
            for _ in range(2)]
    assert outs[0].shape == (1, 1, 1, 64)
    assert np.abs(outs[0]).max() > 1e-4
    assert np.abs(outs[0] - outs[1]).max() > 1e-4


def test_generator_trained_at_256_runs_on_512x768():
    generator = unet_generator(3, 3, depth=8, ngf=4)
    x = np.random.default_rng(1).uniform(-1, 1, (1, 512, 768, 3)).astype("float32")
    y = generator(x, training=False).numpy()
    assert y.shape == (1, 512, 768, 3)
    assert np.all(np.abs(y) <= 1.0)


def test_leaky_slope_and_dropout_follow_the_paper():
    generator = unet_generator(3, 3, depth=8, ngf=4)
    slopes = {layer.negative_slope for layer in generator.layers if isinstance(layer, keras.layers.LeakyReLU)}
    assert slopes == {0.2}
    dropouts = [layer.name for layer in generator.layers if isinstance(layer, keras.layers.Dropout)]
    assert dropouts == ["up1_dropout", "up2_dropout", "up3_dropout"]


def test_inference_uses_each_images_own_statistics_and_updates_nothing():
    generator = unet_generator(3, 3, depth=5, ngf=4)
    before = [w.numpy().copy() for w in generator.weights]
    rng = np.random.default_rng(2)
    batch = rng.uniform(-1, 1, (4, 32, 32, 3)).astype("float32")
    together = generator(batch, training=False).numpy()
    alone = np.concatenate([generator(batch[i:i + 1], training=False).numpy() for i in range(4)])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    for old, new in zip(before, generator.weights):
        np.testing.assert_array_equal(old, new.numpy())


def test_paper_mode_keeps_dropout_on_at_inference():
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (1, 32, 32, 3)).astype("float32")
    paper = unet_generator(3, 3, depth=5, ngf=8, dropout_at_inference=True)
    deterministic = unet_generator(3, 3, depth=5, ngf=8)
    deterministic.set_weights(paper.get_weights())
    assert np.abs(paper(x, training=False) - paper(x, training=False)).max() > 1e-4
    np.testing.assert_array_equal(deterministic(x, training=False), deterministic(x, training=False))


@pytest.mark.parametrize("norm", ["instance", "none"])
def test_other_norms_build_and_run(norm):
    generator = unet_generator(1, 3, depth=5, ngf=4, norm=norm)
    discriminator = patchgan_discriminator(1, 3, ndf=4, norm=norm)
    x = np.zeros((2, 32, 32, 1), "float32")
    y = generator(x, training=True)
    assert y.shape == (2, 32, 32, 3)
    assert discriminator([x, y.numpy()]).shape == (2, 2, 2, 1)


@pytest.mark.parametrize("upsample", ["resize", "transpose", "subpixel"])
def test_every_kernel_starts_with_its_own_draw_and_a_seed_repeats_them(upsample):
    """The paper's N(0, 0.02) drawn independently for each layer: no two same-shape kernels start equal
    (down5-down8 and up2-up4 share shapes at depth 8), and the same seed gives the same start."""
    def kernels(seed):
        keras.utils.set_random_seed(seed)
        generator = unet_generator(3, 3, depth=8, ngf=4, upsample=upsample)
        discriminator = patchgan_discriminator(3, 3, ndf=4, n_layers=5, scales=2)
        return {f"{model.name}/{layer.name}": layer.kernel.numpy() for model in (generator, discriminator)
                for layer in model.layers if hasattr(layer, "kernel")}

    first = kernels(7)
    by_shape: dict[tuple, list[np.ndarray]] = {}
    for kernel in first.values():
        by_shape.setdefault(kernel.shape, []).append(kernel)
    assert max(len(same) for same in by_shape.values()) >= 3
    for same in by_shape.values():
        for i, a in enumerate(same):
            assert all(not np.array_equal(a, b) for b in same[i + 1:])
    again = kernels(7)
    assert all(np.array_equal(first[name], again[name]) for name in first)
    assert np.concatenate([k.ravel() for k in first.values()]).std() == pytest.approx(0.02, rel=0.05)
