"""Compiling the training step with per-method XLA options.

A gradient method may ask for XLA compiler options for its step
(:meth:`~neurotrain.training.GradientMethod.compiler_options`): the online methods do on the
CPU, where XLA's YNNPACK library fusion of *reductions* turns the sum of the per-trial weight
gradients of braintrace's vmapped learner (a ``(B, n_in + n_rec, n_rec)`` array summed over the
trials) into a ``reduce-window`` kernel that costs 15-20 ms per time step for a GRU of 128
units and 64 trials: about two thirds of a D-RTRL step. Keeping YNNPACK for matrix products
only (``LIBRARY_FUSION_TYPE_DOT``) makes the D-RTRL step of the copy task's recipe about 3x
faster with the same numbers (``benchmarks/bench_online_compile.py``). BPTT steps gain nothing
measurable from it and keep XLA's defaults.

The options are passed per compiled function (``jax.jit(..., compiler_options=...)``), never
through the process-wide ``XLA_FLAGS``, so nothing else in the user's process changes. A jaxlib
that does not know an option (the YNNPACK options are experimental) rejects it at the first
compilation; the step is then compiled again without options, once, and a ``note`` is kept.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping

import jax

__all__ = ["jit_step", "YNN_DOT_ONLY"]

#: XLA options that keep YNNPACK's library fusions for matrix products only (the CPU backend)
YNN_DOT_ONLY = {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_DOT"}


def _rejected_option(err: Exception) -> bool:
    text = str(err)
    return "No such compile option" in text or "While setting option" in text


class _Step:
    """``jax.jit(fn, compiler_options=options)`` that falls back to plain ``jax.jit(fn)`` when
    this jaxlib rejects an option (once; :attr:`note` then says why)."""

    def __init__(self, fn: Callable, options: Mapping[str, str]):
        self._plain = jax.jit(fn)
        self._tuned = jax.jit(fn, compiler_options=dict(options)) if options else None
        self.options = dict(options) if options else {}
        self.note: str | None = None

    @property
    def _current(self):
        return self._tuned if self._tuned is not None else self._plain

    def _fallback(self, err: Exception) -> None:
        self.note = (f"the compiler options {self.options} were rejected by this jaxlib "
                     f"({str(err).splitlines()[0]}); the step is compiled with XLA's defaults")
        self._tuned, self.options = None, {}
        warnings.warn(f"neurotrain: {self.note}.", RuntimeWarning, stacklevel=3)

    def __call__(self, *args):
        if self._tuned is None:
            return self._plain(*args)
        try:
            return self._tuned(*args)
        except jax.errors.JaxRuntimeError as err:
            if not _rejected_option(err):
                raise
            self._fallback(err)
            return self._plain(*args)

    def lower(self, *args):
        """The lowered step (with the options, while they are accepted)."""
        return self._current.lower(*args)


def jit_step(fn: Callable, options: Mapping[str, str] | None = None) -> _Step:
    """Compile ``fn`` lazily, as ``jax.jit``, with XLA compiler ``options`` where accepted.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> import warnings
    >>> f = jit_step(lambda x: x + 1, {"xla_no_such_option_here": "1"})
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")      # "... rejected by this jaxlib ...; XLA's defaults"
    ...     y = f(jnp.int32(1))
    >>> int(y), f.options, f.note is not None
    (2, {}, True)
    >>> int(jit_step(lambda x: 2 * x)(jnp.int32(3)))
    6
    """
    return _Step(fn, options or {})
