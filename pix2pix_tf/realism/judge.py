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

Beside these FCN-scores, two distances between the judge's bottleneck features of the generated images
and of the real training photos score the set as a whole: the Fréchet distance (``pix2pix_tf.realism.frechet``),
like FID, and KID with a bootstrap interval (``pix2pix_tf.realism.kid``). The Fréchet distance of a few dozen
images is mostly small-sample bias, so both are computed at the same number of images
(``scored_images``) for every set a comparison puts side by side.

The judge sees an image as it saw its training photos: resized with the same kernel (bicubic,
antialiased) to the scale of its training crops (facades: 256 -> 144 px, the nearest size its network
takes to the 143 px its crops were cut from), the whole image at once; its batch-norm population
statistics are recomputed over the training photos so prepared (``population_statistics``), not left
as the moving averages of its last few training batches.

The judge is a run directory like any other, trained by ``training.train`` with ``task='judge'``: an
ordinary segmentation network (``pix2pix_tf.realism.network``) with per-pixel cross-entropy, the same
data pipeline (label maps resized nearest-neighbour only), checkpoints, resume and TensorBoard.
``Segmenter`` is its training model; ``pix2pix_tf.realism.ladder`` checks that it ranks real photos above
blurred ones above the mean photo.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from pix2pix_tf.core.config import Config, load_config, parse_size
from pix2pix_tf.core.errors import UserError
from pix2pix_tf.core.precision import apply_precision
from pix2pix_tf.data.palette import Palette
from pix2pix_tf.realism.frechet import FeatureStats, stats_distance
from pix2pix_tf.realism.kid import kid
from pix2pix_tf.realism.network import DEPTH, segmentation_network
from pix2pix_tf.train.builders import register_model_builder
from pix2pix_tf.train.model import SteppedModel
from pix2pix_tf.train.optim import apply_update, make_optimizer
from pix2pix_tf.train.rundir import RunDir, checkpoint_step, restore_kept

SCORES = ("pixel_acc", "class_acc", "class_iou")
DISTANCE = "distance"
SCORE_LABELS = {"pixel_acc": "pixel accuracy", "class_acc": "class accuracy", "class_iou": "class IoU",
                DISTANCE: "distance"}
KID = "kid"
REFERENCE_FILE = "judge_reference.npz"  # feature statistics of the real training photos
POPULATION_FILE = "judge_population.npz"  # batch-norm statistics over the training photos, per checkpoint
SCORES_FILE = "judge_scores.json"  # the ladder, written by python -m pix2pix_tf.judge
LADDERS_FILE = "judge_ladders.json"  # the ladder on each split it was asked for (``ladder.ladder_on``)
# What the scores a judge gives mean: raise it whenever a measure or the way the judge is run changes, so
# that stored scores (the benchmark's, the judge's reference and ladders) are computed again.
MEASURES_VERSION = 2
# Images per Fréchet distance and per KID resample: sets are compared at one size, so that the Fréchet
# distance's small-sample bias is the same for each; a split of fewer than twice as many uses half of it
# (the ladder compares two disjoint blocks of real photos for the distance's noise).
SCORED_IMAGES = 50
# The field of view (share of the native image) a run's evaluated images may differ from the judge's by.
SCALE_TOLERANCE = 0.1
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
    """The judge's network: ``config.ngf`` is its width."""
    return segmentation_network(config.input_nc, palette.num_classes, width=config.ngf)


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
        return self.generator(inputs, training=training)[0]

    def _per_example(self, source, target, training: bool):
        labels = self.palette.classify_tensor(target)
        logits = tf.cast(self.generator(source, training=training)[0], tf.float32)
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
        classes = tf.argmax(self.generator(sources, training=False)[0], axis=-1)
        return tf.gather(tf.constant(self.palette.colors, tf.float32) / 255.0, classes)


# --------------------------------------------------------------------------- a trained judge


@dataclass
class Judge:
    """A trained judge read back from its run directory, in float32, deterministic: batch norm at its
    population statistics, so an image's verdict does not depend on the rest of its batch."""

    config: Config
    palette: Palette
    network: keras.Model
    checkpoint: str
    _reference: FeatureStats | None = None
    _reference_pooled: np.ndarray | None = None
    _graphs: dict = field(default_factory=dict)

    @property
    def step(self) -> int:
        return checkpoint_step(self.checkpoint)

    @property
    def run_dir(self) -> str:
        return str(Path(self.checkpoint).parent.parent)

    @property
    def identity(self) -> str:
        """What the judge's scores depend on, as a short hash: its checkpoint (the index file names every
        saved tensor and its checksum), its config, and the measures' version."""
        digest = hashlib.sha256(f"measures {MEASURES_VERSION}\n".encode())
        for path in (Path(self.checkpoint + ".index"), Path(self.run_dir) / "config.json"):
            digest.update(path.read_bytes() if path.is_file() else path.name.encode())
        return digest.hexdigest()[:16]

    @property
    def input_hw(self) -> tuple[int, int]:
        """The size the judge sees a whole image at: the size its training crops were cut from (the jitter's
        load size), rounded to the nearest size its network takes."""
        hw = self.config.load_hw if self.config.preprocess == "resize_and_crop" else self.config.crop_hw
        multiple = 2 ** DEPTH
        return tuple(max(multiple, round(side / multiple) * multiple) for side in hw)

    def prepare(self, images: tf.Tensor) -> tf.Tensor:
        """Images in [-1, 1] of any size as the judge's training photos were made: bicubic, antialiased
        when shrinking (as ``geometry.resize_tf``), to ``input_hw``."""
        if tuple(images.shape[1:3]) == self.input_hw:
            return images
        shrinks = any(s > t for s, t in zip(images.shape[1:3], self.input_hw))
        resized = tf.image.resize(images, self.input_hw, method="bicubic", antialias=shrinks)
        return tf.clip_by_value(resized, -1.0, 1.0)

    def run(self, images: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(logits, bottleneck features) of ``images`` ([-1, 1], any size), seen at ``input_hw``."""
        logits, features = self.network(self.prepare(images), training=False)
        return logits, features

    @staticmethod
    def _classes(logits: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
        if tuple(logits.shape[1:3]) != tuple(size):
            logits = tf.image.resize(logits, size, method="bilinear")
        return tf.argmax(logits, axis=-1, output_type=tf.int32)

    def judge(self, images: tf.Tensor, label_maps: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(per-image confusion matrices against colour ``label_maps``, bottleneck features)."""
        logits, features = self.run(images)
        true = self.palette.classify_tensor(label_maps)
        predicted = self._classes(logits, tuple(label_maps.shape[1:3]))
        return confusion_matrices(true, predicted, self.palette.num_classes), features

    def graph(self, images: tf.Tensor, label_maps: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """``judge`` run as a graph: one function per image size, whatever the batch size."""
        key = (tuple(images.shape[1:]), tuple(label_maps.shape[1:]))
        if key not in self._graphs:
            self._graphs[key] = tf.function(self.judge, input_signature=[
                tf.TensorSpec([None, *key[0]], tf.float32), tf.TensorSpec([None, *key[1]], tf.float32)])
        return self._graphs[key](tf.cast(images, tf.float32), tf.cast(label_maps, tf.float32))

    @property
    def reference(self) -> FeatureStats:
        """Feature statistics of the real training photos, the distances' reference: read from the judge's
        run directory, or computed there once (the judge's own training split)."""
        if self._reference is None:
            path = Path(self.run_dir) / REFERENCE_FILE
            if path.is_file():
                stats, extra = FeatureStats.load(path)
                if str(extra.get("identity", "")) == self.identity and "pooled" in extra:
                    self._reference, self._reference_pooled = stats, extra["pooled"]
            if self._reference is None:
                stats, _, pooled = real_photo_statistics(self)
                self.set_reference(stats, pooled)
        return self._reference

    @property
    def reference_pooled(self) -> np.ndarray:
        """One feature vector per real training photo (its cells' mean): KID's reference sample."""
        _ = self.reference
        return self._reference_pooled

    def set_reference(self, stats: FeatureStats, pooled: np.ndarray) -> None:
        stats.save(Path(self.run_dir) / REFERENCE_FILE, identity=self.identity, pooled=pooled)
        self._reference, self._reference_pooled = stats, pooled

    def scoring_config(self, data_size: str | None = None) -> Config:
        """The judge's config at the data's native size: label maps are scored at the resolution they
        come in (the logits are resized to them), the images resized to the judge's size inside ``run``."""
        import dataclasses

        native = data_size or self.config.data_size or self.config.image_size
        return dataclasses.replace(self.config, image_size=native, load_size=None)

    def pairs(self, split: str, data: str | Path | None = None) -> list:
        """The checked pairs of ``split`` of ``data`` (default: the judge's own training data) as the judge's
        run saw it: its training split never holds the pairs held out for validation."""
        from pix2pix_tf.data import pipeline as data_lib
        from pix2pix_tf.train.rundir import data_root, run_pairs

        root = data or data_root(self.config)
        return data_lib.check_pairs(run_pairs(self.config, root, split), self.config, what=split)[0]

    def batches(self, pairs: list, batch_size: int = 8, data_size: str | None = None):
        """(photos, label maps) of every pair, at the data's native size (``data_size``: a run's record of
        it), label maps resized nearest-neighbour only (``data.labels_side``): a label map resized any
        other way has in-between colours, classes of neither side, at every edge."""
        from pix2pix_tf.data import pipeline as data_lib

        return data_lib.evaluation_dataset(pairs, self.scoring_config(data_size), batch_size)

    def check_fits(self, run_config: Config, label_maps: np.ndarray, run_dir: str | Path) -> None:
        """Refuse, in one line, a judge that cannot score this run: the run's outputs must be the
        judge's inputs, at the judge's pixel scale, and the run's inputs label maps in its palette."""
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
        self._check_scale(run_config, run_dir)
        rgb = (np.asarray(label_maps, np.float32) + 1.0) * 127.5
        nearest = self.palette.colors_distance(rgb)
        median = float(np.median(nearest))
        if median > PALETTE_FIT_RGB:
            raise UserError(f"{where}: its palette ({self.palette.source or 'unnamed'}) does not describe the label "
                            f"maps of {run_dir}: their median pixel is {median:.0f} RGB units from the nearest "
                            f"palette colour (at most {PALETTE_FIT_RGB:.0f} expected)")

    def _check_scale(self, run_config: Config, run_dir: str | Path) -> None:
        """The judge resizes what it is given to its own size, so a run's images must show as much of a
        scene as the judge's did, in training (the jitter's crop of the loaded image) and in evaluation."""
        for what, run_view, judge_view in (("trained on", training_view(run_config), training_view(self.config)),
                                           ("evaluated on", evaluation_view(run_config),
                                            evaluation_view(self.config))):
            if run_view is None or judge_view is None:
                continue
            if any(abs(r / j - 1.0) > SCALE_TOLERANCE for r, j in zip(run_view, judge_view)):
                raise UserError(
                    f"--judge {self.run_dir}: {run_dir} was {what} {_view_words(run_view)} of each image but the "
                    f"judge {what} {_view_words(judge_view)} (--image-size, --load-size, --preprocess set this); "
                    "train a judge at the run's scale")


def _view_words(view: tuple[float, float]) -> str:
    return f"{view[0]:.0%} x {view[1]:.0%} (height x width)"


def training_view(config: Config) -> tuple[float, float] | None:
    """The share of a training image (height, width) one jittered crop shows; None when the run stored no
    native size."""
    crop = config.crop_hw
    if config.preprocess == "resize_and_crop":
        return tuple(c / size for c, size in zip(crop, config.load_hw))
    return evaluation_view(config)


def evaluation_view(config: Config) -> tuple[float, float] | None:
    """The share of a held-out image (height, width) one evaluated image shows: all of it when it is
    resized to the crop size, the centre crop otherwise."""
    if config.preprocess in ("resize_and_crop", "none"):
        return (1.0, 1.0)
    if not config.data_size:
        return None
    return tuple(min(1.0, c / n) for c, n in zip(config.crop_hw, parse_size(config.data_size, "data size")))


def load_judge(run_dir: str | Path, checkpoint: str | int = "latest") -> Judge:
    """A judge run's segmenter at ``checkpoint``, with batch-norm statistics over its training photos (computed
    once per checkpoint and kept in its run directory); a run that is not a judge is refused."""
    run = RunDir(Path(run_dir))
    config = load_config(run.root)
    if config.task != "judge" or config.palette is None:
        raise UserError(f"--judge {run.root}: not a judge run directory (train one with python -m pix2pix_tf.judge)")
    palette = Palette.from_dict(config.palette, str(run.config))
    keras.mixed_precision.set_global_policy("float32")
    network = build_segmenter_network(config, palette)
    path = restore_kept(tf.train.Checkpoint(generator=network), run, checkpoint)
    judge = Judge(config, palette, network, path)
    use_population_statistics(judge)
    return judge


def read_json(path: Path) -> dict | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _batch_norms(network: keras.Model) -> list[keras.layers.BatchNormalization]:
    return [layer for layer in network.layers if isinstance(layer, keras.layers.BatchNormalization)]


def use_population_statistics(judge: Judge) -> None:
    """Set the judge's batch-norm statistics to those of all its training photos, as ``input_hw`` shows
    them: read from its run directory, or computed and kept there. Training leaves moving averages of
    momentum 0.9, about the last ten batches; these are the population's."""
    path = Path(judge.run_dir) / POPULATION_FILE
    layers = _batch_norms(judge.network)
    if path.is_file():
        with np.load(path) as saved:
            if str(saved["identity"]) == judge.identity:
                for layer in layers:
                    layer.moving_mean.assign(saved[f"{layer.name}/mean"])
                    layer.moving_variance.assign(saved[f"{layer.name}/variance"])
                return
    population_statistics(judge)
    arrays = {f"{layer.name}/{kind}": variable.numpy() for layer in layers
              for kind, variable in (("mean", layer.moving_mean), ("variance", layer.moving_variance))}
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, identity=judge.identity, **arrays)
    tmp.replace(path)


def population_statistics(judge: Judge) -> None:
    """Recompute every batch-norm layer's statistics as the average of its batch statistics over the
    training photos (batches of the judge's training batch size): each batch's weight 1 / (batches so
    far), through the layers' own update (their momentum set per batch)."""
    layers = _batch_norms(judge.network)
    momentum = [layer.momentum for layer in layers]
    try:
        for k, (images, _) in enumerate(judge.batches(judge.pairs(judge.config.train_split), judge.config.batch_size)):
            for layer in layers:
                layer.momentum = k / (k + 1)
            judge.network(judge.prepare(tf.cast(images, tf.float32)), training=True)
    finally:
        for layer, value in zip(layers, momentum):
            layer.momentum = value


def format_scores(scores: dict, names: tuple[str, ...] | list[str] | None = None) -> str:
    """One line of the scores (the distance and KID, where there are), then (given class names) the
    per-class IoU."""
    from pix2pix_tf.realism.kid import format_kid

    line = "   ".join(f"{SCORE_LABELS[k]} {scores[k]:.3f}" for k in SCORES)
    if scores.get(DISTANCE) is not None:
        line += f"   distance {scores[DISTANCE]:.1f}"
    if scores.get(KID):
        line += f"   {format_kid(scores[KID])}"
    if names is None or "per_class_iou" not in scores:
        return line
    per_class = ", ".join(f"{name} {'n/a' if math.isnan(v) else f'{v:.2f}'}"
                          for name, v in zip(names, scores["per_class_iou"]))
    return f"{line}\n  per-class IoU: {per_class}"


def scored_images(images: int) -> int:
    """Images per distance and per KID resample for a split of ``images``: ``SCORED_IMAGES``, or half the
    split when it is smaller than twice that (at least 1)."""
    return max(1, min(SCORED_IMAGES, images // 2))


class RealismTally:
    """The judge's scores while a set of ``images`` images streams past: per image (for the CSV and the
    page), over all images from one summed confusion matrix (the reported figure, as in the paper), and
    the distances to the real training photos at ``scored_images(images)`` images.

    The Fréchet distance is the mean over disjoint blocks of that many images (image k in block
    k mod blocks; the images past the last full block are left out of it), so a split of 106 gives two
    blocks of 50; ``distance_blocks`` lists each block's. KID bootstraps that many images of all of them
    (``pix2pix_tf.realism.kid``)."""

    def __init__(self, judge: Judge, images: int):
        self.judge = judge
        self.total = np.zeros((judge.palette.num_classes,) * 2, np.int64)
        self.per_block = scored_images(images)
        self.blocks: list[FeatureStats] = []
        self.block_count = max(1, images // self.per_block)
        self.pooled: list[np.ndarray] = []
        self.seen = 0

    def add(self, outputs: tf.Tensor, label_maps: tf.Tensor) -> list[dict]:
        """Score ``outputs`` (generated or real images) against the label maps they belong to."""
        matrices, features = self.judge.graph(outputs, label_maps)
        matrices, features = matrices.numpy(), features.numpy()
        if not self.blocks:
            self.blocks = [FeatureStats.empty(features.shape[-1]) for _ in range(self.block_count)]
        for image in features:
            if self.seen < self.block_count * self.per_block:
                self.blocks[self.seen % self.block_count].add(image)
            self.pooled.append(image.reshape(-1, image.shape[-1]).mean(axis=0))
            self.seen += 1
        self.total += matrices.sum(axis=0)
        return [{k: v for k, v in scores_from_confusion(m).items() if k in SCORES} for m in matrices]

    def block_distances(self) -> list[float]:
        return [stats_distance(block, self.judge.reference) for block in self.blocks if block.count > 1]

    def distance(self) -> float:
        found = self.block_distances()
        return float(np.mean(found)) if found else float("nan")

    def kid(self) -> dict:
        pooled = np.stack(self.pooled) if self.pooled else np.zeros((0, 1))
        return kid(pooled, self.judge.reference_pooled, self.per_block)

    def scores(self) -> dict:
        """The scores of the set: FCN-scores, distance (and its blocks), KID."""
        return {**scores_from_confusion(self.total), DISTANCE: self.distance(),
                "distance_blocks": self.block_distances(), KID: self.kid(), "scored_images": self.per_block}

    def summary(self, ladder: dict | None = None) -> dict:
        """``scores`` with the judge's identity and the ladder of the split (``ladder.ladder_on``)."""
        return {"judge": self.judge.run_dir, "judge_step": self.judge.step, "judge_identity": self.judge.identity,
                "measures_version": MEASURES_VERSION, "classes": list(self.judge.palette.names), **self.scores(),
                "distance_reference": "the judge's real training photos",
                "ladder": ladder["rungs"] if ladder else None}


def build_judge_model(config: Config, strategy: tf.distribute.Strategy | None = None) -> keras.Model:
    """A realism judge's ``Segmenter`` (see ``realism``), built as ``build_model`` builds ``Pix2Pix``."""
    strategy = strategy or tf.distribute.get_strategy()
    apply_precision(config.precision)
    keras.utils.set_random_seed(config.seed)
    palette = Palette.from_dict(config.palette, "config.json")
    with strategy.scope():
        model = Segmenter(build_segmenter_network(config, palette), palette)
        model.compile(make_optimizer(config, config.precision, "g_adam", model.train_steps))
    return model


register_model_builder("judge", build_judge_model)


def real_photo_statistics(judge: Judge, data=None) -> tuple[FeatureStats, np.ndarray, np.ndarray]:
    """(feature statistics, mean photo, one pooled feature vector per photo) of the judge's real training
    photos, at the data's native size."""
    features, total, pooled = None, None, []
    for images, labels in judge.batches(judge.pairs(judge.config.train_split, data)):
        batch = judge.graph(images, labels)[1].numpy()
        features = features or FeatureStats.empty(batch.shape[-1])
        features.add(batch)
        pooled += list(batch.reshape(batch.shape[0], -1, batch.shape[-1]).mean(axis=1))
        summed = images.numpy().astype(np.float64).sum(axis=0)
        total = summed if total is None else total + summed
    return features, (total / len(pooled)).astype(np.float32), np.stack(pooled)
