"""The TensorFlow pix2pix tutorial's training recipe as a command, to time against `fit` process for
process (``benchmarks/throughput.py --whole-process``).

The recipe as the tutorial runs it: float32, Keras' Adam (2e-4, beta1 0.5) for both networks, one
``tf.function`` step in which one forward pass of D on the generated image serves both losses and
both gradients are taken before either update, a plain sequential ``tf.data`` pipeline, and a loop
that prints every 100 steps. The networks are this project's (the same architecture the tutorial
builds at its width, 64, with the paper's corrections, and its transposed-convolution upsampling), so
the difference in time is the recipe's.

    python benchmarks/tutorial_recipe.py --data ../shared/data/facades --steps 150
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import keras
import tensorflow as tf

from pix2pix_tf.core.config import new_config
from pix2pix_tf.data import pipeline as data_lib
from pix2pix_tf.nets import losses
from pix2pix_tf.nets.networks import build_discriminator, build_generator
from pix2pix_tf.train.training import prepare

FACADES = Path(__file__).resolve().parents[2] / "shared" / "data" / "facades"


def tutorial_recipe(data: str | Path, image_size: str, steps: int, seed: int = 0):
    """(config, generator, train_step, dataset): the tutorial's recipe on ``data``, ``steps`` batches long,
    its weights and shuffling drawn from ``seed``."""
    prepared = prepare(new_config({"data": str(data), "direction": "BtoA", "image_size": image_size, "seed": seed,
                                   "precision": "float32", "upsample": "transpose", "ngf": 64, "ndf": 64,
                                   "steps": steps}),
                       measure_precision=False)
    spec = prepared.config
    keras.mixed_precision.set_global_policy("float32")
    keras.utils.set_random_seed(seed)
    generator, discriminator = build_generator(spec), build_discriminator(spec)
    g_adam = keras.optimizers.Adam(spec.lr, beta_1=spec.beta1)
    d_adam = keras.optimizers.Adam(spec.lr, beta_1=spec.beta1)
    options = tf.data.Options()
    options.autotune.enabled = False
    dataset = data_lib.training_dataset(prepared.train_pairs, spec).with_options(options)  # fit's pairs: none held out

    @tf.function
    def train_step(source, target):
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = generator(source, training=True)
            real_logits = discriminator([source, target], training=True)
            fake_logits = discriminator([source, fake], training=True)
            g_loss = tf.reduce_mean(losses.adversarial_loss(fake_logits, True, "vanilla")
                                    + spec.lambda_l1 * losses.l1_distance(fake, target))
            d_loss = tf.reduce_mean(losses.adversarial_loss(real_logits, True, "vanilla")  # not halved
                                    + losses.adversarial_loss(fake_logits, False, "vanilla"))
        g_adam.apply_gradients(zip(g_tape.gradient(g_loss, generator.trainable_variables),
                                   generator.trainable_variables))
        d_adam.apply_gradients(zip(d_tape.gradient(d_loss, discriminator.trainable_variables),
                                   discriminator.trainable_variables))
        return g_loss, d_loss

    return spec, generator, train_step, dataset.take(steps)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(FACADES))
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--image-size", default="256")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    _, _, train_step, dataset = tutorial_recipe(args.data, args.image_size, args.steps)
    first = None
    for step, (source, target) in enumerate(dataset, start=1):
        g_loss, d_loss = train_step(source, target)
        if first is None:
            first = time.perf_counter() - began
        if step % 100 == 0:
            print(f"step {step}: g {float(g_loss):.3f} d {float(d_loss):.3f}", flush=True)
    print(f"tutorial recipe: {args.steps} steps in {time.perf_counter() - began:.1f} s "
          f"(first step after {first:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
