"""A training run from flags to checkpoints: check the data, create or resume the run directory,
build the model, and drive ``fit()`` over the remaining steps."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path, PurePath

import keras
import numpy as np
import tensorflow as tf

from pix2pix_tf.core.atomic import new_folders
from pix2pix_tf.core.config import (
    Config,
    RunSpec,
    check_discriminator_scales,
    flag_name,
    generator_depth,
    load_config,
    new_config,
    restarted_config,
    resumed_config,
    save_config,
    schedule_fields,
    stored_values,
    validate,
)
from pix2pix_tf.core.errors import UserError, filesystem_failure
from pix2pix_tf.core.precision import measure_on_this_cpu, resolve_precision
from pix2pix_tf.core.signals import terminate_was_lost
from pix2pix_tf.data import pipeline as data_lib
from pix2pix_tf.train.budget import Budget, check_strategy, planned_schedule
from pix2pix_tf.train.builders import model_builder
from pix2pix_tf.train.callbacks import NonFiniteGuard, PeriodicCheckpoint, PeriodicValidation, SampleGrid, ScalarLogger
from pix2pix_tf.train.optim import ConstantThenLinearDecay
from pix2pix_tf.train.rundir import (
    INDEX_FILE,
    VAL_SPLITS,
    RunDir,
    RunLock,
    checkpoint_manager,
    checkpoint_step,
    complete_checkpoints,
    data_root,
    describe_split,
    resolved_holdout,
    restore,
    run_pairs,
    training_checkpoint,
    trusted_checkpoints,
    validation_split,
)
from pix2pix_tf.train.strategy import (
    CheckpointTarget,
    describe,
    is_chief,
    make_strategy,
)

SAMPLE_PAIRS = 4


@dataclass
class Prepared:
    config: RunSpec
    data_root: Path
    train_pairs: list
    val_pairs: list
    val_split: str | None = None


@dataclass
class TrainingSummary:
    run_dir: Path
    start_step: int
    end_step: int
    seconds: float
    val_metric: str
    first_val: float | None
    last_val: float | None
    last_sample: Path | None
    stopped_by: str | None = None
    budget: str | None = None  # a --minutes run's account: "N of M minutes spent"


class StopOnSignal(keras.callbacks.Callback):
    """SIGTERM/SIGINT (preemption, Ctrl-C) end training after the current step; the checkpoint
    callback then saves that step. A second signal falls through to the default handler."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        super().__init__()
        self.received: str | None = None
        self._previous = {}

    def __enter__(self) -> StopOnSignal:
        self._previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        if terminate_was_lost():  # a SIGTERM of start-up that a library swallowed is not forgotten
            self.received = signal.SIGTERM.name
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, frame) -> None:
        self.received = signal.Signals(signum).name
        signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))
        if self.model is not None:
            self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        if self.received:
            self.model.stop_training = True


def prepare(config: Config, *, measure_precision: bool = True, remeasure_precision: bool = False) -> Prepared:
    """Check everything the run will read, and decide what the data and hardware decide: the one place
    a ``Config`` becomes a ``RunSpec`` (a resumed run's stored schedule is kept).

    ``--precision auto`` on a bf16 CPU is measured (``autoprecision``) when ``measure_precision``;
    otherwise, and everywhere else, the hardware rule of ``precision.auto_precision`` decides."""
    root = data_root(config)
    listed = data_lib.list_pairs(root, config.train_split)
    config = dataclasses.replace(config, val_holdout=resolved_holdout(config, root, len(listed)))
    train = data_lib.inspect_split(run_pairs(config, root, config.train_split), config, what=config.train_split)
    splits = [train]
    val_split = validation_split(config, root)
    if val_split:
        splits.append(data_lib.inspect_split(held_out_pairs(config, root, val_split), config, what=val_split,
                                             reference=train.reference))
    data_lib.report_problems(splits, config.on_bad_image)  # every split's bad files in one report
    train_pairs, info = train.good, train.reference
    input_nc, output_nc = data_lib.channel_counts(config, info)
    depth = generator_depth(config.crop_hw)
    if config.task == "pix2pix":
        check_discriminator_scales(config.crop_hw, config.num_d, config.d_layers)
    steps_per_epoch = len(train_pairs) // config.batch_size
    if steps_per_epoch == 0:
        raise UserError(f"--batch-size {config.batch_size}: larger than the {len(train_pairs)} training pairs")
    if config.steps_per_epoch not in (None, steps_per_epoch):
        raise UserError(f"--data {root}: the '{config.train_split}' split now gives {steps_per_epoch} steps per "
                        f"epoch, the run was created with {config.steps_per_epoch}; use the same data")
    constant, decay = schedule_steps(config, steps_per_epoch)
    measuring = measure_precision and measure_on_this_cpu(config.precision)
    spec = RunSpec(**{
        **config.to_dict(), "input_nc": input_nc, "output_nc": output_nc, "depth": depth,
        "steps_per_epoch": steps_per_epoch, "data_size": "{}x{}".format(*data_lib.native_size(train)),
        "constant_steps": config.constant_steps if config.constant_steps is not None else constant,
        "decay_steps": config.decay_steps if config.decay_steps is not None else decay,
        "precision": "float32" if measuring else resolve_precision(config.precision)})
    if measuring:
        from pix2pix_tf.train.autoprecision import measured_choice

        spec = dataclasses.replace(spec, precision=measured_choice(spec, remeasure=remeasure_precision))
    val_pairs = splits[1].good if val_split else []
    return Prepared(spec, root, train_pairs, validation_subset(val_pairs, spec.val_images), val_split)


def held_out_pairs(config: Config, root: Path, split: str) -> list[data_lib.Pair]:
    """The validation split's pairs. An empty ``val/`` or ``test/`` that fit chose by itself is refused
    with both ways on: pairs to validate on, or no folder (for ``test/``, the last resort: no validation).
    Validating on the training split is allowed (a quick check of fitting), with a warning that its
    pairs are not held out."""
    try:
        pairs = run_pairs(config, root, split)
    except data_lib.EmptySplit as err:
        if config.val_split:
            raise
        without = " to train without validation" if split == VAL_SPLITS[-1] else ""
        raise UserError(f"{err}; fit validates on {split}/ because it exists: put held-out pairs in it, "
                        f"or remove the empty folder{without}") from None
    if is_training_split(config, split):
        print(f"warning: {PurePath(split)}/ is both the training and the validation split: validation scores "
              "the pairs the run trains on, not held-out ones, so it reads better than on new images",
              file=sys.stderr)
    return pairs


def is_training_split(config: Config, split: str) -> bool:
    """``split`` names the training folder (``train/`` is ``train``)."""
    return PurePath(split) == PurePath(config.train_split)


def validation_subset(pairs: list, count: int) -> list:
    """At most ``count`` pairs (0: all), evenly spread over the split and always the same ones, so
    validation scores stay comparable across epochs and resumes while costing a bounded time."""
    if count <= 0 or len(pairs) <= count:
        return list(pairs)
    return [pairs[(i * len(pairs)) // count] for i in range(count)]


# Validating one image (decode, G's forward in batches, the metrics) costs well under a third of a
# default training step (benchmarks/throughput.py --loop): validating N images at most every 3N
# training steps keeps validation under 10% of training time.
VALIDATION_STEPS_PER_IMAGE = 3


# Validation runs G in deterministic mode, where each image is normalised with its own statistics, so
# the batch does not change a score. Eight 256x256 images at a time (fewer when larger) use the cores
# better than the training batch of 1.
VALIDATION_PIXELS = 8 * 256 * 256


def validation_dataset(prepared: Prepared) -> tf.data.Dataset | None:
    config = prepared.config
    if not prepared.val_pairs:
        return None
    height, width = config.crop_hw
    batch = max(config.batch_size, VALIDATION_PIXELS // (height * width))
    return data_lib.evaluation_dataset(prepared.val_pairs, config, batch_size=batch)


def validation_every_epochs(val_images: int, steps_per_epoch: int) -> int:
    """Keras' ``validation_freq``: every epoch, or every few when epochs are short (a small dataset)."""
    return max(1, math.ceil(VALIDATION_STEPS_PER_IMAGE * val_images / steps_per_epoch))


def schedule_steps(config: Config, steps_per_epoch: int) -> tuple[int, int]:
    """(constant, decay) steps: from epochs, or ``--steps`` split in the epochs' proportion. A ``--minutes``
    run's are planned while it trains (``train.budget``) and stored when each sitting ends: none yet."""
    if config.minutes is not None:
        return 0, 0
    if config.steps is None:
        return config.epochs * steps_per_epoch, config.epochs_decay * steps_per_epoch
    epochs = config.epochs + config.epochs_decay
    constant = round(config.steps * config.epochs / epochs) if epochs else config.steps
    return constant, config.steps - constant


def epoch_segments(step: int, total: int, steps_per_epoch: int) -> list[tuple[int, int, int, int]]:
    """``fit()`` calls (start step, initial_epoch, epochs, steps_per_epoch) that take a run from
    ``step`` to ``total`` on the same epoch boundaries as an uninterrupted run."""
    segments = []
    while step < total:
        epoch, offset = divmod(step, steps_per_epoch)
        if offset == 0 and total - step >= steps_per_epoch:
            full = (total - step) // steps_per_epoch
            segments.append((step, epoch, epoch + full, steps_per_epoch))
            step += full * steps_per_epoch
        else:
            steps = min(steps_per_epoch - offset, total - step)
            segments.append((step, epoch, epoch + 1, steps))
            step += steps
    return segments


def _strategy_name(run: RunDir, flags: dict) -> str:
    """Read without touching TensorFlow: the strategy has to exist before anything else does."""
    if "strategy" in flags or not run.exists():
        return flags.get("strategy", Config.strategy)
    stored = {name: value for name, value in stored_values(run.root).items() if name == "strategy"}
    validate(stored, name=lambda key: f"{run.config}: {key}")
    return stored.get("strategy", Config.strategy)


def took_a_step(run: RunDir) -> bool:
    """Whether the run ever saved a checkpoint (or its index: a damaged one is ``trusted_checkpoints``' to
    report). What a start that failed before its first save leaves is no run to resume."""
    return (run.checkpoints / INDEX_FILE).exists() or bool(complete_checkpoints(run))


def _run_config(run: RunDir, flags: dict, *, chief: bool = True) -> tuple[Config, RunSpec | None]:
    """The settings to train with, and the stored spec they resume (None for a run that starts at step 0)."""
    if run.root.exists() and not run.root.is_dir():
        raise UserError(f"--run-dir {run.root}: exists and is not a directory")
    if run.exists() and took_a_step(run):
        stored = load_config(run.root)
        return resumed_config(stored, flags, run.config), stored
    if run.exists():
        print(f"note: {run.root}: never saved a checkpoint; starting it again at step 0 with its stored "
              "settings as defaults for the flags given", file=sys.stderr)
        return restarted_config(stored_values(run.root), flags), None
    # A run lock alone is what a fit stopped before it wrote the config leaves: the folder is still empty.
    if chief and run.root.exists() and any(path != run.lock_file for path in run.root.iterdir()):
        raise UserError(f"--run-dir {run.root}: exists, is not empty and holds no {run.config.name}; "
                        "choose a new or empty directory")
    return new_config(flags), None


def _open_run(run: RunDir, flags: dict, strategy: tf.distribute.Strategy, *, chief: bool = True,
              remeasure_precision: bool = False) -> Prepared:
    """The run's spec; ``auto`` precision is measured only where one process trains on one device, so
    that every worker of a cluster takes the same (rule-based) choice."""
    config, stored = _run_config(run, flags, chief=chief)
    replicas = strategy.num_replicas_in_sync
    if config.batch_size % replicas:
        raise UserError(f"--batch-size {config.batch_size}: not divisible by the {replicas} replicas of "
                        f"{describe(strategy)}; each replica takes an equal share of every batch")
    prepared = prepare(config, measure_precision=replicas == 1, remeasure_precision=remeasure_precision)
    check_strategy(prepared.config, strategy)
    if stored is not None:
        _check_new_length(run, stored, prepared.config, flags)
        _note_new_data(stored, prepared.config)
    return prepared


def _note_new_data(stored: RunSpec, spec: RunSpec) -> None:
    """A resumed run may go on with other data (moved, or another set of pairs: ``prepare`` has checked
    that it gives as many steps per epoch); that is said, never silent."""
    if spec.data != stored.data:
        print(f"note: --data {spec.data}: this run trained on {stored.data} until now and goes on with "
              "this data", file=sys.stderr)


def _check_new_length(run: RunDir, stored: RunSpec, spec: RunSpec, flags: dict) -> None:
    """A resumed run given a new length: refused below the step it has reached, else the recomputed
    schedule is printed. The learning rate stays a function of the step (``optim``), so from the
    current step on it is the new schedule's: constant to its boundary, then linear to zero at its end."""
    if spec.minutes is not None or (stored.constant_steps, stored.decay_steps) == (spec.constant_steps,
                                                                                    spec.decay_steps):
        return  # a --minutes run plans its steps while it trains
    kept = trusted_checkpoints(run, say=False)
    step = checkpoint_step(kept[-1]) if kept else 0
    asked = " ".join(f"{flag_name(name)} {flags[name]}" for name in schedule_fields() if name in flags)
    if spec.total_steps < step:
        raise UserError(f"{asked}: {spec.total_steps} steps in all, but {run.root} is already at step {step}; "
                        "a run can be made longer, or shorter down to its current step")
    old, new = ConstantThenLinearDecay.for_run(stored), ConstantThenLinearDecay.for_run(spec)
    print(f"new length ({asked}): {stored.total_steps} -> {spec.total_steps} steps. Learning rate schedule "
          f"recomputed as for a new run of that length: {new.describe()}. At the current step {step} it is "
          f"{new.rate_at(step):.3g} (the old schedule: {old.rate_at(step):.3g})")


def _sample_arrays(prepared: Prepared) -> tuple[np.ndarray, np.ndarray]:
    pairs = (prepared.val_pairs or prepared.train_pairs)[:SAMPLE_PAIRS]
    sources, targets = next(iter(data_lib.evaluation_dataset(pairs, prepared.config, batch_size=SAMPLE_PAIRS)))
    return sources.numpy(), targets.numpy()


EXAMPLE_INPUTS = 4


def write_examples(run: RunDir, prepared: Prepared) -> None:
    """``RUN/examples/``: the generator's side of a few held-out pairs (else training pairs), as stored (size,
    bit depth), so a newcomer has inputs to try ``translate`` on. Written once, when the run starts."""
    if run.examples.exists():
        return
    from pix2pix_tf.core.atomic import publish_dir, staging_dir
    from pix2pix_tf.data.images import from_unit_float, kind_of_bits, read_image, write_png

    source_side = 0 if prepared.config.direction == "AtoB" else 1
    with staging_dir(run.root, prefix=".examples-") as stage:
        for pair in (prepared.val_pairs or prepared.train_pairs)[:EXAMPLE_INPUTS]:
            path = Path(pair.a if pair.b is None else (pair.a, pair.b)[source_side])
            image = read_image(path)
            pixels = image.pixels
            if pair.b is None:  # side by side: A on the left half, B on the right
                half = pixels.shape[1] // 2
                pixels = pixels[:, half:] if source_side else pixels[:, :half]
            write_png(from_unit_float(pixels, kind_of_bits(image.bits)), stage / f"{path.stem}.png")
        publish_dir(stage, run.examples)


def train(run_dir: str | Path, flags: dict, *, verbose: int | str = "auto",
          remeasure_precision: bool = False, stop_at: int | None = None,
          callbacks: list[keras.callbacks.Callback] | None = None) -> TrainingSummary:
    """Create or resume the run in ``run_dir`` and train it to its last step, or to ``stop_at`` if
    that comes first (the schedule stays the full run's, so a long run can be trained in sittings).
    ``callbacks``: more Keras callbacks, run after the run's own.

    Under a multi-worker strategy every worker runs this with the same flags and run directory; only
    the chief writes there (config, checkpoints, logs, samples). The others save their checkpoints to
    a temporary directory that is deleted at the end, and restore from the chief's.
    """
    began = time.monotonic()  # a --minutes run's clock
    run = RunDir(Path(run_dir))
    strategy = make_strategy(_strategy_name(run, flags))
    chief = is_chief(strategy)
    seen = _stored_config(run)
    prepared = _open_run(run, flags, strategy, chief=chief, remeasure_precision=remeasure_precision)
    target = CheckpointTarget.for_process(run.checkpoints, strategy)
    try:
        if not chief:
            return _train(run, prepared, strategy, target, verbose, stop_at, callbacks or [], began)
        with _locked_run_dir(run):
            if _stored_config(run) != seen:  # another fit created or changed the run meanwhile
                prepared = _open_run(run, flags, strategy, remeasure_precision=remeasure_precision)
            return _train(run, prepared, strategy, target, verbose, stop_at, callbacks or [], began)
    finally:
        target.cleanup()


def _stored_config(run: RunDir) -> bytes | None:
    """The run's config.json as it is now: whether a run is new or resumed is decided again under the
    run lock if it changed since the checks (two fits started at once on one empty folder)."""
    try:
        return run.config.read_bytes()
    except OSError:
        return None


@contextlib.contextmanager
def _locked_run_dir(run: RunDir):
    """The run directory, created only once the data and settings have passed their checks, and locked;
    refused in one line if the place cannot hold it (a file on its path, no permission, a read-only
    filesystem). If the block fails before the run's config is written (a full disk), what it created is
    removed again: nothing is left that the next fit would have to refuse."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(new_folders(run.root))
        except OSError as err:
            raise UserError(f"--run-dir {run.root}: cannot create it ({err.strerror or err})") from None
        if not os.access(run.root, os.W_OK | os.X_OK):
            raise UserError(f"--run-dir {run.root}: not writable")
        stack.enter_context(RunLock(run))
        try:
            yield
        except BaseException:
            if not run.exists():
                run.lock_file.unlink(missing_ok=True)
            raise


def _train(run: RunDir, prepared: Prepared, strategy: tf.distribute.Strategy, target: CheckpointTarget,
           verbose: int | str, stop_at: int | None, extra: list, began: float) -> TrainingSummary:
    config = prepared.config
    if target.chief:
        save_config(config, run.root)
        write_examples(run, prepared)
    length = f"a budget of {config.minutes:g} minutes" if config.minutes else f"{config.total_steps} in all"
    print(f"strategy: {describe(strategy)}; precision: {config.precision}; generator depth {config.depth}; "
          f"{config.steps_per_epoch} steps per epoch, {length}")
    model = model_builder(config.task)(config, strategy)
    kept = trusted_checkpoints(run, repair=target.chief, say=target.chief)
    latest = kept[-1] if kept else None
    checkpoint = training_checkpoint(model, latest)
    manager = checkpoint_manager(checkpoint, RunDir(target.directory.parent), config.keep_checkpoints)
    if latest:
        restore(checkpoint, latest)
    start = int(model.train_steps.numpy())
    val_ds = validation_dataset(prepared)
    val_freq = validation_every_epochs(len(prepared.val_pairs), config.steps_per_epoch)
    if val_ds is not None:
        every = ("after each epoch" if val_freq == 1
                 else f"every {val_freq} epochs ({val_freq * config.steps_per_epoch} steps)")
        split = describe_split(config, prepared.data_root, prepared.val_split)
        kind = "training" if is_training_split(config, prepared.val_split) else "held-out"
        print(f"validation: {len(prepared.val_pairs)} {kind} pairs of {split} {every}")
    validating = time.monotonic()
    first_val = _val_score(model, val_ds) if val_ds is not None and start == 0 else None
    validation_seconds = time.monotonic() - validating
    stopper = StopOnSignal()
    callbacks = [stopper, *training_callbacks(run, prepared, manager, val_ds, chief=target.chief), *extra]
    budget = None
    if config.minutes is not None:
        budget = Budget(run.root, config, model.lr_plan, began=began, step=start,
                        end_work=[c for c in callbacks if isinstance(c, (PeriodicCheckpoint, SampleGrid))],
                        validation_seconds=validation_seconds)
        callbacks.append(budget)  # last: the time between its calls is a step and all the others' work
    if start:
        print(f"resuming {run.root} at step {start} " + (f"({budget.describe()})" if budget
                                                          else f"of {config.total_steps}"))
    fitting = time.monotonic()
    last_val = None
    with stopper:
        try:
            while (last := _last_step(config, budget, int(model.train_steps.numpy()), stop_at)) > \
                    int(model.train_steps.numpy()) and not stopper.received:
                for at, initial_epoch, epochs, steps in epoch_segments(int(model.train_steps.numpy()), last,
                                                                      config.steps_per_epoch):
                    history = model.fit(
                        data_lib.training_dataset(prepared.train_pairs, config, start_step=at),
                        initial_epoch=initial_epoch, epochs=epochs, steps_per_epoch=steps,
                        validation_data=val_ds, validation_freq=val_freq, callbacks=callbacks, verbose=verbose,
                        shuffle=False)
                    last_val = history.history.get(f"val_{model.VAL_METRIC}", [last_val])[-1]
                    if stopper.received or model.stop_training:
                        break
        except tf.errors.OpError as err:
            _stop_if_a_data_file_failed(err, run, prepared, model, callbacks)
            raise
    end = int(model.train_steps.numpy())
    epochs_done, offset = divmod(end, config.steps_per_epoch)
    if val_ds is not None and end > start and (offset or epochs_done % val_freq):
        last_val = _val_score(model, val_ds)  # the run ended between validations: score where it stopped
    last_sample = (sorted(run.samples.glob("step_*.png"))[-1]
                   if target.chief and run.samples.is_dir() else None)
    if budget is not None:
        budget.save(end)
        if target.chief:
            save_config(dataclasses.replace(config, **planned_schedule(model.lr_plan, end)), run.root)
    return TrainingSummary(run.root, start, end, time.monotonic() - fitting, model.VAL_METRIC, first_val, last_val,
                           last_sample, stopper.received, budget.describe() if budget else None)


def _last_step(config: RunSpec, budget: Budget | None, step: int, stop_at: int | None) -> int:
    """The step ``fit()`` trains to next: the run's last, the budget's planned end (revised as it trains),
    or ``--stop-at`` if that comes first."""
    last = budget.last_step(step, config.steps_per_epoch) if budget is not None else config.total_steps
    return last if stop_at is None else min(stop_at, last)


def _stop_if_a_data_file_failed(err: tf.errors.OpError, run: RunDir, prepared: Prepared, model: keras.Model,
                                callbacks: list) -> None:
    """A data file that went missing or unreadable while training (``prepare`` checked every one at the
    start): the step reached is checkpointed and the run stops with one line naming the file. Any other
    error is left to propagate."""
    failure = filesystem_failure(err)
    files = {path for pair in prepared.train_pairs + prepared.val_pairs for path in (pair.a, pair.b)}
    if failure is None or failure[0] not in files:
        return
    step = int(model.train_steps.numpy())
    next(c for c in callbacks if isinstance(c, PeriodicCheckpoint)).save(step)
    raise UserError(f"{failure[0]}: {failure[1]} (the data changed while training); checkpoint saved at step "
                    f"{step}; put the file back, then resume: python -m pix2pix_tf.fit --run-dir {run.root}") from None


def training_callbacks(run: RunDir, prepared: Prepared, manager: tf.train.CheckpointManager,
                       val_ds: tf.data.Dataset | None, *, chief: bool = True) -> list[keras.callbacks.Callback]:
    """What ``fit()`` runs around every step besides the signal handler: TensorBoard scalars, sample
    grids and step-wise validation (the chief only), the non-finite guard and checkpoints."""
    config = prepared.config
    callbacks = []
    if chief:
        sources, targets = _sample_arrays(prepared)
        callbacks += [ScalarLogger(run.tensorboard, config.log_every),
                      SampleGrid(sources, targets, run.samples, run.tensorboard, config.sample_every)]
        if val_ds is not None and config.validate_every:
            callbacks.append(PeriodicValidation(val_ds, run.tensorboard, config.validate_every))
    return callbacks + [NonFiniteGuard(config.max_nonfinite_steps, manager),
                        PeriodicCheckpoint(manager, config.save_every)]


def _val_score(model: keras.Model, val_ds) -> float:
    return float(model.evaluate(val_ds, verbose=0, return_dict=True)[model.VAL_METRIC])
