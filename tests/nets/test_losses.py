"""``losses.image_metrics``, the one definition of L1, PSNR and SSIM that fit validates with and
evaluate reports, checked against values computed by hand."""

import math

import numpy as np
import pytest

from pix2pix_tf.nets.losses import image_metrics


def test_metrics_equal_hand_computed_values():
    # Constant images a = 0.25 and b = 0.75 on the [0, 1] scale (network range -0.5 and 0.5):
    #   L1 = 0.5;  PSNR = 10 log10(1 / 0.5**2) = 6.0206 dB;
    #   SSIM of constants (no variance) = (2ab + C1) / (a**2 + b**2 + C1), C1 = 0.01**2.
    a, b = 0.25, 0.75
    output = np.full((2, 16, 16, 3), 2 * a - 1, np.float32)
    target = np.full((2, 16, 16, 3), 2 * b - 1, np.float32)
    target[1] = output[1]  # the second example is a perfect match
    values = {k: v.numpy() for k, v in image_metrics(output, target).items()}
    c1 = 0.01 ** 2
    np.testing.assert_allclose(values["l1"], [0.5, 0.0], atol=1e-6)
    assert values["psnr"][0] == pytest.approx(10 * math.log10(1 / 0.25), abs=1e-4)
    assert math.isinf(values["psnr"][1])
    # (tf.image.ssim forms variances as E[x^2] - E[x]^2 in float32: ~1e-4 of rounding on constants)
    np.testing.assert_allclose(values["ssim"], [(2 * a * b + c1) / (a * a + b * b + c1), 1.0], atol=2e-4)

    # A checkerboard error of +-0.1 on the [0, 1] scale: L1 0.1, MSE 0.01, PSNR 20 dB exactly.
    rng = np.random.default_rng(0)
    target = rng.uniform(0.2, 0.8, (1, 16, 16, 1)).astype(np.float32)
    sign = np.where(np.indices((16, 16)).sum(axis=0) % 2, 1.0, -1.0)[None, ..., None]
    output = target + 0.1 * sign
    values = image_metrics(output * 2 - 1, target * 2 - 1)
    assert float(values["l1"][0]) == pytest.approx(0.1, abs=1e-5)
    assert float(values["psnr"][0]) == pytest.approx(20.0, abs=1e-3)
