"""``fit --minutes N``: train for a wall-clock budget instead of a step count.

The learning rate keeps the paper's shape, constant then linear decay to zero, with the decay taking the
last ``--decay-fraction`` of the time (half, as the paper's 100 + 100 epochs). How many steps fit in the
budget is measured, not guessed: after a few warm-up steps (the first traces the step) the run divides the
steps it has trained by the time they took, validation, checkpoints and sample grids included, and
re-plans its schedule every few seconds so that the decay reaches zero at the deadline:

- still at the constant rate: the decay starts at the step the rate reaches at ``(1 - fraction) x budget``;
- decaying: the line from today's rate goes to zero at the step the rate reaches at the deadline, so the
  rate never jumps, it only decays faster or slower.

The run ends at that step, with the learning rate at zero, keeping back the time its last checkpoint,
sample grid and validation take. The schedule's two step counts are variables (the optimisers read them
in every step) saved in each checkpoint; the time spent is saved in ``RUN/budget.json`` every few seconds
(so a killed run loses at most that much of its account), and a resumed run has what is left of the budget.
The clock starts when ``training.train`` is called: checking the data, building the model and tracing the
step are part of the budget; starting Python and importing TensorFlow are not.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import tensorflow as tf

from pix2pix_tf.core.atomic import write_text
from pix2pix_tf.core.config import RunSpec
from pix2pix_tf.core.errors import UserError
from pix2pix_tf.train.callbacks import _StepCallback

BUDGET_FILE = "budget.json"
WARMUP_STEPS = 3  # steps of each sitting left out of the rate: the first one traces the step
MEASURED_STEPS = 3  # steps after the warm-up before the first plan
PLANS_PER_BUDGET = 100  # re-plan (and save the time spent) this often ...
MAX_PLAN_SECONDS = 5.0  # ... but at least every 5 s
UNPLANNED = math.inf  # the constant phase's end before the first plan: the rate stays at its initial value


class LearningRatePlan(tf.Module):
    """The schedule's (constant, decay) step counts as checkpointed variables, which the optimisers'
    ``ConstantThenLinearDecay`` reads in every step; float, since a re-planned decay starts between steps."""

    def __init__(self):
        super().__init__(name="lr_plan")
        self.constant = tf.Variable(UNPLANNED, dtype=tf.float64, trainable=False, name="constant_steps")
        self.decay = tf.Variable(1.0, dtype=tf.float64, trainable=False, name="decay_steps")

    @property
    def steps(self) -> tuple[tf.Variable, tf.Variable]:
        return self.constant, self.decay

    def values(self) -> tuple[float, float]:
        return float(self.constant.numpy()), float(self.decay.numpy())

    def assign(self, constant: float, decay: float) -> None:
        self.constant.assign(constant)
        self.decay.assign(decay)


def plan_for(config: RunSpec) -> LearningRatePlan | None:
    """A ``--minutes`` run's plan (made under the training strategy's scope), else None."""
    return LearningRatePlan() if config.minutes is not None else None


def rate_fraction(constant: float, decay: float, step: int) -> float:
    """The learning rate at ``step`` over the initial one, as ``optim.ConstantThenLinearDecay`` computes it."""
    if step <= constant:
        return 1.0
    return 1.0 - min((step - constant) / max(decay, 1.0), 1.0)


def budget_state(run_root: Path) -> tuple[float, float | None]:
    """(seconds of the budget already spent, the budget in minutes they were spent against) from
    ``RUN/budget.json``; (0, None) before the run's first sitting."""
    path = Path(run_root) / BUDGET_FILE
    if not path.is_file():
        return 0.0, None
    try:
        state = json.loads(path.read_text())
        return float(state["spent_seconds"]), float(state["minutes"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise UserError(f"{path}: unreadable ({err}); it holds the time this --minutes run has spent: delete it to "
                        "start the budget again") from None


class Budget(_StepCallback):
    """Plans the schedule of a ``--minutes`` run while it trains and stops it at the planned end (one
    process: ``check_strategy`` refuses a cluster).

    Keep it after every other callback: the time between its calls is then a step plus all their work.
    ``end_work``: the callbacks that also act when training ends (the checkpoint, the sample grid), whose
    latest duration is kept back from the budget with a validation's."""

    def __init__(self, run_root: Path, config: RunSpec, plan: LearningRatePlan, *, began: float, step: int,
                 end_work: list[_StepCallback], validation_seconds: float = 0.0):
        super().__init__(1)
        self.path = Path(run_root) / BUDGET_FILE
        self.minutes = config.minutes
        self.total_seconds = config.minutes * 60.0
        self.decay_seconds = config.decay_fraction * self.total_seconds
        self.plan = plan
        self.began = began
        self.end_work = end_work
        self.validation_seconds = validation_seconds
        self.interval = min(MAX_PLAN_SECONDS, self.total_seconds / PLANS_PER_BUDGET)
        self.spent_before, planned_for = budget_state(run_root)
        self.constant, self.decay = plan.values()
        self.end = None if math.isinf(self.constant) else math.ceil(self.constant + self.decay)
        if planned_for is not None and planned_for != self.minutes:
            self._restart_for_new_budget(step)
        self._sitting_steps = 0
        self._mark: tuple[int, float] | None = None
        self._last_plan = self._last_batch = time.monotonic()

    # ------------------------------------------------------------------ the account

    def spent(self, now: float | None = None) -> float:
        return self.spent_before + ((now or time.monotonic()) - self.began)

    def save(self, step: int, now: float | None = None) -> None:
        write_text(self.path, json.dumps({"minutes": self.minutes, "spent_seconds": round(self.spent(now), 3),
                                          "step": step}, indent=2) + "\n")

    def describe(self) -> str:
        return f"{self.spent() / 60:.2f} of {self.minutes:g} minutes spent"

    def last_step(self, step: int, steps_per_epoch: int) -> int:
        """Where ``fit()`` is asked to go from ``step``: an epoch past the planned end (or past ``step`` before
        the first plan). The plan moves while ``fit()`` runs and this callback stops training where it ends;
        a ``fit()`` asked for the plan's end alone stopped short when a re-plan moved it a few steps later,
        and a second ``fit()`` for those steps paid another validation and checkpoint past the deadline."""
        if rate_fraction(self.constant, self.decay, step) == 0.0:
            return step
        return (self.end if self.end is not None else step) + steps_per_epoch

    # ------------------------------------------------------------------ planning

    def _restart_for_new_budget(self, step: int) -> None:
        """A resumed run given another ``--minutes``: the rate at the time spent, as for a new run of the new
        budget (constant before its decay starts, else on its line); the next plan places the end."""
        spent = self.spent_before
        fraction = min(1.0, max(0.0, (self.total_seconds - spent) / self.decay_seconds))
        if fraction >= 1.0:
            self.constant, self.decay, self.end = UNPLANNED, 1.0, None
        elif fraction > 0.0:
            self.decay = 1e9
            self.constant, self.end = step - (1.0 - fraction) * self.decay, None
        self.plan.assign(self.constant, self.decay)

    def reserve(self) -> float:
        """Seconds the end of a sitting takes after its last step: a checkpoint, a sample grid, a validation."""
        return sum(c.work_seconds for c in self.end_work) + self.validation_seconds

    def replan(self, step: int, now: float) -> None:
        """The schedule's end where the measured rate reaches the deadline (see the module docstring)."""
        mark_step, mark_time = self._mark
        rate = (step - mark_step) / max(now - mark_time, 1e-9)
        spent = self.spent(now)
        remaining = max(self.total_seconds - spent - self.reserve(), 0.0)
        to_decay = max(0.0, self.total_seconds - self.decay_seconds - spent) * rate
        self._plan(step, step + max(1, round(remaining * rate)), to_decay)

    def finish_after(self, step: int) -> None:
        self._plan(step, step + 1, 0.0)

    def _plan(self, step: int, end: int, to_decay: float) -> None:
        """Decay to zero at ``end``: from the constant rate ``to_decay`` steps ahead, or on from today's rate."""
        fraction = rate_fraction(self.constant, self.decay, step)
        if fraction == 0.0:
            return
        if step < self.constant:
            constant = min(step + to_decay, end - 1.0)
            decay = end - constant
        else:
            constant = end - (end - step) / fraction
            decay = end - constant  # so that constant + decay lands on ``end`` exactly: the rate there is 0
        self.constant, self.decay, self.end = constant, decay, end
        self.plan.assign(constant, decay)

    # ------------------------------------------------------------------ Keras hooks

    def on_step(self, step, logs):
        now = time.monotonic()
        self._last_batch = now
        self._sitting_steps += 1
        if self._sitting_steps == WARMUP_STEPS:
            self._mark = (step, now)
        measured = self._mark is not None and step - self._mark[0] >= MEASURED_STEPS
        if measured and (self.end is None or now - self._last_plan >= self.interval):
            self.replan(step, now)
        elif self.end is None and self.spent(now) + self.reserve() >= self.total_seconds:
            self.finish_after(step)  # the budget ran out before the rate could be measured
        if now - self._last_plan >= self.interval or self.end == step:
            self.save(step, now)
            self._last_plan = now
        if self.end is not None and step >= self.end:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if any(name.startswith("val_") for name in logs or {}):
            self.validation_seconds = time.monotonic() - self._last_batch

    def on_train_end(self, logs=None):
        self.save(int(self.model.train_steps.numpy()))


def check_strategy(config: RunSpec, strategy: tf.distribute.Strategy) -> None:
    """Every worker of a cluster would measure its own clock and plan its own number of steps."""
    if config.minutes is not None and isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        raise UserError(f"--minutes {config.minutes:g}: not with --strategy multi_worker (each worker would plan "
                        "its own step count); give the workers --steps")


def planned_schedule(plan: LearningRatePlan, end: int) -> dict:
    """The config's ``constant_steps``/``decay_steps`` of a ``--minutes`` run that reached ``end``: the
    last plan, rounded (the exact one stays in the checkpoints)."""
    constant, _ = plan.values()
    constant = end if math.isinf(constant) else min(max(round(constant), 0), end)
    return {"constant_steps": constant, "decay_steps": end - constant}

