"""The realism score of the paper (Isola et al., section 4.2): the FCN-score, with a judge of our own.

A judge is a segmentation network trained on *real* target-domain images (facades: photo -> label
map). Run on *generated* images, it recovers the label map they were generated from only as well as
they look real. Per the paper and the PyTorch reference's Cityscapes script, one confusion matrix is
accumulated over all test images (rows: true class, columns: predicted) and

    pixel accuracy = trace / total
    class accuracy = nanmean(diagonal / row sums)
    class IoU      = nanmean(diagonal / (row sums + column sums - diagonal))

so a class absent from the images and never predicted is left out of the means (0/0 = nan), and a
class absent but predicted counts as IoU 0.

The judge is a run directory like any other, trained by ``training.train`` with ``task='judge'``:
the project's U-Net with one logit per palette class, per-pixel cross-entropy, the same data
pipeline, checkpoints, resume and TensorBoard. ``Segmenter`` is its training model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from pix2pix_tf.config import Config, load_config
from pix2pix_tf.errors import UserError
from pix2pix_tf.losses import to_unit_range
from pix2pix_tf.model import SteppedModel
from pix2pix_tf.networks import unet_generator
from pix2pix_tf.optim import apply_update
from pix2pix_tf.palette import Palette
from pix2pix_tf.rundir import RunDir, checkpoint_path, checkpoint_step, restore

SCORES = ("pixel_acc", "class_acc", "class_iou")
SCORE_LABELS = {"pixel_acc": "pixel accuracy", "class_acc": "class accuracy", "class_iou": "class IoU"}
# The judge's palette must describe the run's label maps: their median pixel must lie this close to a
# palette colour (facades with their own palette: 4.6 RGB units; with a wrong palette: 37 and more).
PALETTE_FIT_RGB = 24.0


# --------------------------------------------------------------------------- scores


def confusion_matrices(true: tf.Tensor, predicted: tf.Tensor, num_classes: int) -> tf.Tensor:
    """(batch, H, W) class maps -> (batch, n, n) int64 confusion matrices, rows = true class."""
    batch = tf.shape(true)[0]
    true = tf.reshape(tf.cast(true, tf.int64), [batch, -1])
    predicted = tf.reshape(tf.cast(predicted, tf.int64), [batch, -1])
    cells = true * num_classes + predicted
    counts = tf.math.bincount(cells, minlength=num_classes * num_classes, maxlength=num_classes * num_classes,
                              dtype=tf.int64, axis=-1)
    return tf.reshape(counts, [batch, num_classes, num_classes])


def scores_from_confusion(matrix: np.ndarray) -> dict:
    """Pixel accuracy, class accuracy, class IoU (nan-means over classes) and per-class IoU."""
    matrix = np.asarray(matrix, np.float64)
    diagonal = np.diag(matrix)
    rows, cols, total = matrix.sum(axis=1), matrix.sum(axis=0), matrix.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        per_class_acc = diagonal / rows
        per_class_iou = diagonal / (rows + cols - diagonal)
    return {
        "pixel_acc": float(diagonal.sum() / total) if total else float("nan"),
        "class_acc": _nanmean(per_class_acc),
        "class_iou": _nanmean(per_class_iou),
        "per_class_iou": [float(v) for v in per_class_iou],
    }


def _nanmean(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else float("nan")


# --------------------------------------------------------------------------- the training model


def build_segmenter_network(config: Config, palette: Palette) -> keras.Model:
    """The project's U-Net with one logit per class (no tanh): the judge's network."""
    return unet_generator(config.input_nc, palette.num_classes, depth=config.depth, ngf=config.ngf,
                          norm=config.norm, dropout=config.dropout, leaky_slope=config.leaky_slope,
                          init_std=config.init_std, norm_epsilon=config.norm_epsilon,
                          output_activation="linear", name="segmenter")


class Segmenter(SteppedModel):
    """Per-pixel cross-entropy against the nearest-palette-colour class of each target pixel.

    Its network is ``generator`` as in ``Pix2Pix``, so the run directory, checkpoints, callbacks and
    ``fit()`` driving are the same code for both.
    """

    VAL_METRIC = "pixel_acc"

    def __init__(self, network: keras.Model, palette: Palette, **kwargs):
        super().__init__({name: keras.metrics.Mean(name=name) for name in ("loss", "pixel_acc")}, **kwargs)
        self.generator = network
        self.palette = palette

    def compile(self, g_optimizer: keras.optimizers.Optimizer, **kwargs):
        """Builds the optimiser now, so a checkpoint restores its slots before the first step."""
        super().compile(**kwargs)
        self.g_optimizer = g_optimizer
        g_optimizer.build(self.generator.trainable_variables)

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def _per_example(self, source, target, training: bool):
        labels = self.palette.classify_tensor(target)
        logits = tf.cast(self.generator(source, training=training), tf.float32)
        per_pixel = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        per_example = tf.reduce_mean(tf.reshape(per_pixel, [tf.shape(per_pixel)[0], -1]), axis=1)
        correct = tf.cast(tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), labels), tf.float32)
        return per_example, tf.reduce_mean(tf.reshape(correct, [tf.shape(correct)[0], -1]), axis=1)

    def train_step(self, data):
        source, target = data
        with tf.GradientTape() as tape:
            per_example, accuracy = self._per_example(source, target, training=True)
            loss = tf.nn.compute_average_loss(per_example)
            scaled = self.g_optimizer.scale_loss(loss)
        variables = self.generator.trainable_variables
        self._count_step(apply_update(self.g_optimizer, tape.gradient(scaled, variables), variables))
        self._trackers["loss"].update_state(self._logged(loss))
        self._trackers["pixel_acc"].update_state(tf.reduce_mean(accuracy))
        logs = {name: tracker.result() for name, tracker in self._trackers.items()}
        logs["lr"] = self.g_optimizer.learning_rate
        return logs

    def test_step(self, data):
        source, target = data
        per_example, accuracy = self._per_example(source, target, training=False)
        self._trackers["loss"].update_state(tf.reduce_mean(per_example))
        self._trackers["pixel_acc"].update_state(tf.reduce_mean(accuracy))
        return {name: tracker.result() for name, tracker in self._trackers.items()}

    def sample_images(self, sources) -> tf.Tensor:
        """Predicted label maps in the palette's colours, on the [0, 1] scale of the sample grids."""
        classes = tf.argmax(self.generator(sources, training=False), axis=-1)
        return tf.gather(tf.constant(self.palette.colors, tf.float32) / 255.0, classes)


# --------------------------------------------------------------------------- a trained judge


@dataclass
class Judge:
    """A trained judge read back from its run directory, in float32, deterministic."""

    config: Config
    palette: Palette
    network: keras.Model
    checkpoint: str

    @property
    def step(self) -> int:
        return checkpoint_step(self.checkpoint)

    @property
    def run_dir(self) -> str:
        return str(Path(self.checkpoint).parent.parent)

    def classes(self, images: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
        """Predicted classes of ``images`` ([-1, 1]) at ``size``: the judge sees them at its own
        training size and its logits are resized back, so any run size can be judged."""
        hw = self.config.crop_hw
        inputs = tf.image.resize(images, hw, method="bilinear", antialias=True) \
            if tuple(images.shape[1:3]) != hw else images
        logits = self.network(inputs, training=False)
        if tuple(logits.shape[1:3]) != tuple(size):
            logits = tf.image.resize(logits, size, method="bilinear")
        return tf.argmax(logits, axis=-1, output_type=tf.int32)

    def confusion(self, images: tf.Tensor, label_maps: tf.Tensor) -> tf.Tensor:
        """Per-image confusion matrices of the judge on ``images`` against colour ``label_maps``."""
        true = self.palette.classify_tensor(label_maps)
        predicted = self.classes(images, tuple(label_maps.shape[1:3]))
        return confusion_matrices(true, predicted, self.palette.num_classes)

    def check_fits(self, run_config: Config, label_maps: np.ndarray, run_dir: str | Path) -> None:
        """Refuse, in one line, a judge that cannot score this run: the run's outputs must be the
        judge's inputs, and the run's inputs must be label maps in the judge's palette."""
        where = f"--judge {self.run_dir}"
        if run_config.direction == self.config.direction:
            raise UserError(f"{where}: it reads the {self.config.direction[:1]} side and {run_dir} generates the "
                            f"{run_config.direction[-1]} side; a judge for this run is trained with "
                            f"--direction {run_config.direction}")
        if run_config.output_nc != self.config.input_nc:
            raise UserError(f"{where}: it reads {self.config.input_nc}-channel images but {run_dir} generates "
                            f"{run_config.output_nc}-channel ones")
        if run_config.input_nc != 3:
            raise UserError(f"{where}: {run_dir} takes {run_config.input_nc}-channel inputs, not colour label maps")
        rgb = (np.asarray(label_maps, np.float32) + 1.0) * 127.5
        nearest = self.palette.colors_distance(rgb)
        median = float(np.median(nearest))
        if median > PALETTE_FIT_RGB:
            raise UserError(f"{where}: its palette ({self.palette.source or 'unnamed'}) does not describe the label "
                            f"maps of {run_dir}: their median pixel is {median:.0f} RGB units from the nearest "
                            f"palette colour (at most {PALETTE_FIT_RGB:.0f} expected)")


def load_judge(run_dir: str | Path, checkpoint: str | int = "latest") -> Judge:
    """A judge run's segmenter at ``checkpoint``; a run that is not a judge is refused."""
    run = RunDir(Path(run_dir))
    config = load_config(run.root)
    if config.task != "judge" or config.palette is None:
        raise UserError(f"--judge {run.root}: not a judge run directory (train one with python -m pix2pix_tf.judge)")
    palette = Palette.from_dict(config.palette, str(run.config))
    path = checkpoint_path(run, checkpoint)
    keras.mixed_precision.set_global_policy("float32")
    network = build_segmenter_network(config, palette)
    restore(tf.train.Checkpoint(generator=network), path)
    return Judge(config, palette, network, path)


def format_scores(scores: dict, names: tuple[str, ...] | list[str] | None = None) -> str:
    """One line of the three scores, then (given class names) the per-class IoU."""
    line = "   ".join(f"{SCORE_LABELS[k]} {scores[k]:.3f}" for k in SCORES)
    if names is None or "per_class_iou" not in scores:
        return line
    per_class = ", ".join(f"{name} {'n/a' if math.isnan(v) else f'{v:.2f}'}"
                          for name, v in zip(names, scores["per_class_iou"]))
    return f"{line}\n  per-class IoU: {per_class}"


def sample_grid_rows(judge: Judge, images: tf.Tensor, label_maps: tf.Tensor) -> list[list[np.ndarray]]:
    """image | judge's labels | true labels, on the [0, 1] scale, for figures."""
    predicted = judge.classes(images, tuple(label_maps.shape[1:3])).numpy()
    colours = judge.palette.colorize(predicted).astype(np.float32) / 255.0
    return [[to_unit_range(i).numpy(), c, to_unit_range(t).numpy()]
            for i, c, t in zip(images, colours, label_maps)]


def score_real_images(judge: Judge, data: str | Path | None = None, split: str | None = None,
                      batch_size: int = 8) -> dict:
    """The judge on real held-out images (the paper's "ground truth" row, the ceiling of the score):
    its own held-out split by default."""
    from pix2pix_tf import data as data_lib
    from pix2pix_tf.rundir import data_root, validation_split

    root = Path(data) if data is not None else data_root(judge.config)
    split = split or validation_split(judge.config, root)
    if split is None:
        raise UserError(f"--data {root}: no val/ or test/ split to score the judge on")
    pairs = data_lib.list_pairs(root, split)
    pairs, _ = data_lib.check_pairs(pairs, judge.config, what=split)
    confusion = tf.function(judge.confusion, reduce_retracing=True)
    total = np.zeros((judge.palette.num_classes,) * 2, np.int64)
    for images, label_maps in data_lib.evaluation_dataset(pairs, judge.config, batch_size):
        total += confusion(images, label_maps).numpy().sum(axis=0)
    return {"data": str(root), "split": split, "images": len(pairs), "step": judge.step,
            **scores_from_confusion(total)}


class RealismTally:
    """The judge's scores while a run's outputs stream past: per image (for the CSV and the page)
    and over all images from one summed confusion matrix (the reported figure, as in the paper)."""

    def __init__(self, judge: Judge):
        self.judge = judge
        self.total = np.zeros((judge.palette.num_classes,) * 2, np.int64)
        self._confusion = tf.function(judge.confusion, reduce_retracing=True)

    def add(self, outputs: tf.Tensor, label_maps: tf.Tensor) -> list[dict]:
        """Score generated ``outputs`` against the label maps they were generated from."""
        matrices = self._confusion(outputs, label_maps).numpy()
        self.total += matrices.sum(axis=0)
        return [{k: v for k, v in scores_from_confusion(m).items() if k in SCORES} for m in matrices]

    def summary(self) -> dict:
        return {"judge": self.judge.run_dir, "judge_step": self.judge.step, "classes": list(self.judge.palette.names),
                **scores_from_confusion(self.total)}
