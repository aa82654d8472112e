"""The N-bit flip-flop (Sussillo & Barak 2013), scored as they score it by default; the
engellab/trainRNNbrain pipeline's scoring is an option."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from .._errors import ConfigError
from .._validate import check_bool, check_int, check_number
from ._base import Task, TrialBatch, steps_of
from ._registry import register_task

__all__ = ["NBitFlipFlop"]


@register_task("n-bit-flip-flop", aliases=("flip-flop", "flipflop", "nbitflipflop", "3-bit-flip-flop"),
               paper="Sussillo & Barak 2013, Neural Computation 25:626; the engellab/trainRNNbrain "
                     "pipeline (Engel lab) 3-bit flip-flop")
@dataclasses.dataclass(frozen=True)
class NBitFlipFlop(Task):
    r"""N-bit flip-flop: each output holds the sign of the last pulse on its input channel.

    Sussillo & Barak (2013), "Opening the black box: low-dimensional dynamics in
    high-dimensional recurrent neural networks", Neural Computation 25:626-649, with the
    conventions of the 3-bit flip-flop of the Engel lab's RNN training pipeline
    (github.com/engellab/trainRNNbrain). The network must implement :math:`2^N` stable memory
    states.

    Inputs ``(T, B, num_bits)``: sparse pulses of amplitude +1 or -1 (equally likely), each
    lasting ``pulse_duration`` ms. Time is cut into slots of one pulse length; in each slot a
    pulse starts on each channel independently with probability ``pulse_prob`` (so pulses
    never overlap on a channel, and a channel gets ``pulse_prob * duration / pulse_duration``
    pulses per trial on average).

    Targets ``(T, B, num_bits)`` (float): output ``i`` is the sign of channel ``i``'s most
    recent pulse, switching at the pulse's first step, and 0 before the channel's first pulse.
    By default (``score_before_first_pulse=False``, Sussillo & Barak's scoring) the mask is per
    output, ``(T, B, num_bits)``, and 0 on a channel until its first pulse: each bit is a
    memory from its first pulse on, so a trained network stores the :math:`2^N` corners
    :math:`(\pm 1, \ldots, \pm 1)` (8 stable fixed points for 3 bits). With
    ``score_before_first_pulse=True`` (the Engel lab's trainRNNbrain pipeline) the mask is 1
    everywhere, ``(T, B)``, and the 0 target before a channel's first pulse is scored too, so the
    network must also store "no pulse yet": 3 values per bit, up to :math:`3^N` memories.

    Score: ``mse`` (mean squared error over the scored steps and bits, as trainRNNbrain trains and
    validates it; 0 for a trial with nothing scored) and ``bit_accuracy``, the fraction of
    steps with a non-zero target where the output has the target's sign (1 for a trial without
    pulses).

    ``info`` (each ``(B,)``): ``num_pulses`` (all channels), ``first_pulse`` (step of the
    first pulse on any channel, ``T`` if none), ``final_state`` (the targets at the last step
    read as a base-3 number, :math:`\sum_i (y_i + 1)\,3^i`, one of :math:`3^N` memory states),
    ``trial_on`` = 0 and ``trial_off`` = ``T``.

    Parameters
    ----------
    dt : float
        Step in ms (20).
    duration : float
        Trial length in ms (2000).
    num_bits : int
        ``N``, the number of channels and memory bits (3).
    pulse_prob : float
        Probability that a pulse starts on a channel in a slot of ``pulse_duration`` (0.05).
    pulse_duration : float
        Pulse length in ms, a multiple of ``dt`` (20, one step).
    score_before_first_pulse : bool
        Leave a channel out of the mask until its first pulse (False, the default: Sussillo &
        Barak 2013), or score (and train) its 0 target before it (True: trainRNNbrain).

    Examples
    --------
    >>> import jax
    >>> task = NBitFlipFlop()
    >>> b = task.sample(jax.random.PRNGKey(0), 4)
    >>> b.inputs.shape, b.targets.shape, b.mask.shape        # a mask per bit (Sussillo & Barak)
    ((100, 4, 3), (100, 4, 3), (100, 4, 3))
    >>> task.score(b.targets, b)["mse"]
    0.0
    """

    dt: float = 20.0
    duration: float = 2000.0
    num_bits: int = 3
    pulse_prob: float = 0.05
    pulse_duration: float = 20.0
    score_before_first_pulse: bool = False

    target_type = "value"
    condition_keys = ("final_state",)
    primary_metric = "mse"
    higher_is_better = False

    def validate(self):
        T = steps_of("duration", self.duration, self.dt)
        p = steps_of("pulse_duration", self.pulse_duration, self.dt)
        if p < 1 or T < p:
            raise ConfigError(f"need dt <= pulse_duration <= duration; got pulse_duration={self.pulse_duration}, "
                              f"duration={self.duration}, dt={self.dt}.")
        self.check_field("num_bits", check_int, minimum=1)
        self.check_field("pulse_prob", check_number, minimum=0.0, maximum=1.0,
                         fix="pulse_prob is the probability that a pulse starts in a slot.")
        self.check_field("score_before_first_pulse", check_bool)

    @property
    def num_in(self) -> int:
        return self.num_bits

    @property
    def num_out(self) -> int:
        return self.num_bits

    def num_steps(self) -> int:
        return steps_of("duration", self.duration, self.dt)

    def conditions(self) -> dict[str, tuple[int, ...]]:
        """The grid of condition values: the ``3 ** num_bits`` final memory states."""
        return {"final_state": tuple(range(3 ** self.num_bits))}

    def _sample(self, key, batch_size):
        B, N, T = batch_size, self.num_bits, self.num_steps()
        p = steps_of("pulse_duration", self.pulse_duration, self.dt)
        S = T // p                                                            # pulse slots
        # one uniform per slot and channel: a pulse if u < pulse_prob, positive if u < pulse_prob / 2
        u = jax.random.uniform(key, (S, B, N))
        starts = u < self.pulse_prob
        slot_val = jnp.where(starts, jnp.where(u < 0.5 * self.pulse_prob, 1.0, -1.0), 0.0)   # (S, B, N)
        pad = ((0, T - S * p), (0, 0), (0, 0))
        inputs = jnp.pad(jnp.repeat(slot_val, p, axis=0), pad)                # (T, B, N)

        def hold(state, v):                                                   # sign of the last pulse
            state = jnp.where(v != 0, v, state)
            return state, state

        _, held = jax.lax.scan(hold, jnp.zeros((B, N)), slot_val)            # per slot
        targets = jnp.pad(jnp.repeat(held, p, axis=0), pad, mode="edge") if T > S * p \
            else jnp.repeat(held, p, axis=0)
        any_start = starts.any(axis=2)                                        # (S, B)
        first = jnp.where(any_start.any(0), jnp.argmax(any_start, axis=0) * p, T)
        final = ((targets[-1] + 1.0) * (3.0 ** jnp.arange(N))).sum(-1).astype(jnp.int32)
        info = {"num_pulses": starts.sum(axis=(0, 2)).astype(jnp.int32), "first_pulse": first.astype(jnp.int32),
                "final_state": final, "trial_on": jnp.zeros((B,), jnp.int32),
                "trial_off": jnp.full((B,), T, jnp.int32)}
        if self.score_before_first_pulse:
            mask = jnp.ones((T, B))
        else:                       # a target is 0 exactly until its channel's first pulse
            mask = (targets != 0).astype(inputs.dtype)
        return TrialBatch(inputs=inputs, targets=targets, mask=mask, info=info)

    def trial_metrics(self, outputs, batch):
        m = batch.mask if batch.mask.ndim == 3 else jnp.broadcast_to(batch.mask[..., None], outputs.shape)
        n_scored = m.sum((0, 2))
        err = jnp.where(n_scored > 0, ((outputs - batch.targets) ** 2 * m).sum((0, 2)) / jnp.maximum(n_scored, 1e-12),
                        0.0)
        held = (batch.targets != 0) * m
        hit = (jnp.sign(outputs) == batch.targets) * held
        n = held.sum((0, 2))
        return {"mse": err, "bit_accuracy": jnp.where(n > 0, hit.sum((0, 2)) / jnp.maximum(n, 1), 1.0)}
