"""The copy task (Hochreiter & Schmidhuber 1997), as in braintrace's quickstart."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from .._validate import check_int
from ._base import Task, TrialBatch
from ._registry import register_task

__all__ = ["Copy"]


@register_task("copy", paper="Hochreiter & Schmidhuber 1997, Neural Computation 9:1735; braintrace's "
                             "online-learning quickstart (GRU, D-RTRL)")
@dataclasses.dataclass(frozen=True)
class Copy(Task):
    """Remember a sequence of digits over a delay and recall it on a trigger.

    The copying memory task of Hochreiter & Schmidhuber (1997), "Long short-term memory",
    Neural Computation 9:1735-1780, in the form of braintrace's quickstart (a GRU trained
    online with D-RTRL on 10 digits and a delay of 50 steps).

    The input is one-hot over ``num_symbols + 2`` channels: channel 0 is the blank, channels
    ``1..num_symbols`` the digits, and the last channel the recall trigger. A trial shows
    ``length`` random digits (one per step), ``delay`` blank steps, then ``length`` trigger
    steps during which the network must output the digits in order. Targets are integer
    labels; the loss mask is 1 on the recall steps only. The score is the per-digit recall
    accuracy (``accuracy``); chance is ``1 / num_symbols``.

    Each symbol lasts one step of ``dt`` ms, so ``delay`` is counted in steps.

    Parameters
    ----------
    length : int
        Digits to remember (10).
    delay : int
        Blank steps between the digits and the trigger (50).
    num_symbols : int
        Size of the digit alphabet (8: digits 1..8).

    Examples
    --------
    >>> import jax
    >>> task = Copy(delay=5)
    >>> b = task.sample(jax.random.PRNGKey(0), 2)
    >>> b.inputs.shape, b.targets.shape, int(b.mask.sum())
    ((25, 2, 10), (25, 2), 20)
    """

    length: int = 10
    delay: int = 50
    num_symbols: int = 8

    target_type = "class"
    primary_metric = "accuracy"
    higher_is_better = True

    def validate(self):
        self.check_field("length", check_int, minimum=1)
        self.check_field("delay", check_int, minimum=0)
        self.check_field("num_symbols", check_int, minimum=2)

    @property
    def input_cues(self) -> dict[int, tuple[str, str]]:
        """The recall trigger (the last input channel) is on exactly during the recall."""
        return {self.num_symbols + 1: ("recall_on", "recall_off")}

    @property
    def num_in(self) -> int:
        return self.num_symbols + 2

    @property
    def num_out(self) -> int:
        return self.num_symbols + 2

    def num_steps(self) -> int:
        return 2 * self.length + self.delay

    @property
    def chance(self) -> float:
        return 1.0 / self.num_symbols

    def _sample(self, key, batch_size):
        L, D, T = self.length, self.delay, self.num_steps()
        digits = jax.random.randint(key, (L, batch_size), 1, self.num_symbols + 1)
        trigger = self.num_symbols + 1
        ids = jnp.concatenate([digits, jnp.zeros((D, batch_size), jnp.int32),
                               jnp.full((L, batch_size), trigger, jnp.int32)], axis=0)
        inputs = jax.nn.one_hot(ids, self.num_in)
        targets = jnp.concatenate([jnp.zeros((L + D, batch_size), jnp.int32), digits], axis=0)
        mask = jnp.concatenate([jnp.zeros((L + D, batch_size)), jnp.ones((L, batch_size))], axis=0)
        full = jnp.ones((batch_size,), jnp.int32)
        info = {"recall_on": full * (L + D), "recall_off": full * T}
        return TrialBatch(inputs=inputs, targets=targets, mask=mask, info=info)

    def trial_metrics(self, outputs, batch):
        hit = (jnp.argmax(outputs, axis=-1) == batch.targets) * batch.mask
        return {"accuracy": hit.sum(0) / batch.mask.sum(0)}
