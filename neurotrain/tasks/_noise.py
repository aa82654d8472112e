"""Fast counter-based random numbers for the tasks' input noise (pure JAX, CPU-friendly).

Why not ``jax.random.normal``: a Yang batch needs T * B * 85 normals (0.7-1.1 M at B = 64).
On CPU, XLA runs threefry as a loop of whole-array passes and ``erf_inv`` as a long kernel:
together 80-90 % of ``sample``, 8-37 % of a BPTT step, against the design target of < 5 %
(``benchmarks/bench_batch_cost.py``). :func:`standard_normal` draws the same distribution with
a counter-based generator that XLA fuses into the pass that writes the inputs:

* random bits: a keyed integer hash of each value's index (Wellons' "triple32" mixer, a
  bijection of uint32 for every key), two 32-bit words per value, keyed by 128 bits that
  threefry draws from ``key``;
* normal: Box-Muller, ``r cos(theta)`` with ``r = sqrt(-2 ln u1)`` and theta uniform, using
  polynomial ``ln`` and ``cos`` accurate to ~1e-7 (float32 rounding).

Same key, same noise. ``tests/test_tasks_yang.py`` checks the moments, tails and independence.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

__all__ = ["standard_normal"]

_U32 = jnp.uint32
# ln(1 + x) = x * P(x) on [sqrt(1/2) - 1, sqrt(2) - 1] (relative error 1.7e-7)
_LOG1P = (0.9999999178563255, -0.5000034428150424, 0.33335607898712327, -0.24971560245397176,
          0.198842355750444, -0.17212426517025445, 0.16338144799903503, -0.103787134250478)
# cos(pi v / 2) = C(v^2) on [0, 1] (absolute error 4.7e-8)
_COS = (0.9999999534666655, -1.233698214668736, 0.2536507446350348, -0.02081062751886198,
        0.0008581906192232092)


def _poly(x, coefs):
    """``sum_k coefs[k] x**k`` by Estrin's scheme (shorter dependency chains than Horner)."""
    terms, p = list(coefs), x
    while len(terms) > 1:
        nxt = [terms[k] + terms[k + 1] * p for k in range(0, len(terms) - 1, 2)]
        terms = nxt + ([terms[-1]] if len(terms) % 2 else [])
        p = p * p
    return terms[0]


def _log_pos(x):
    """Natural log of positive normal float32 ``x`` (exponent + polynomial on the mantissa)."""
    bits = jax.lax.bitcast_convert_type(x, jnp.int32)
    e = (bits - 0x3F3504F3) >> 23                       # mantissa in [sqrt(1/2), sqrt(2))
    m = jax.lax.bitcast_convert_type(bits - (e << 23), jnp.float32) - 1.0
    return e.astype(jnp.float32) * math.log(2.0) + m * _poly(m, _LOG1P)


def _hash32(i, k0, k1):
    """Keyed "triple32" (Wellons, hash-prospector): a bijection of uint32 for each key."""
    x = i ^ k0
    x = (x ^ (x >> _U32(17))) * _U32(0xED5AD4BB)
    x = ((x ^ (x >> _U32(11))) + k1) * _U32(0xAC4C1B51)
    x = (x ^ (x >> _U32(15))) * _U32(0x31848BAB)
    return x ^ (x >> _U32(14))


def _normal_from_bits(w0, w1):
    """N(0, 1) from two uint32 words of random bits: Box-Muller's r cos(theta), with
    cos(theta) drawn as +-cos(phi), phi uniform in (0, pi/2) (the same distribution)."""
    u1 = (w0 >> _U32(1)).astype(jnp.int32).astype(jnp.float32) * 2.0 ** -31 + 2.0 ** -32   # (0, 1]
    v = (w1 >> _U32(8)).astype(jnp.int32).astype(jnp.float32) * 2.0 ** -24 + 2.0 ** -25    # (0, 1)
    z = jnp.sqrt(-2.0 * _log_pos(u1)) * _poly(v * v, _COS)
    sign = (w1 & _U32(1)) << _U32(31)
    return jax.lax.bitcast_convert_type(jax.lax.bitcast_convert_type(z, jnp.uint32) ^ sign, jnp.float32)


def _normal_from_key_bits(k, shape):
    """:func:`standard_normal` from four uint32 key words ``k``."""
    i = jax.lax.iota(jnp.uint32, math.prod(shape)).reshape(shape)
    return _normal_from_bits(_hash32(i, k[0], k[1]), _hash32(i, k[2], k[3]))


def _uniform_from_key_bits(k, shape):
    """Uniform floats in [0, 1) (multiples of 2**-24) of ``shape`` from two uint32 key words."""
    i = jax.lax.iota(jnp.uint32, math.prod(shape)).reshape(shape)
    return (_hash32(i, k[0], k[1]) >> _U32(8)).astype(jnp.int32).astype(jnp.float32) * 2.0 ** -24


def standard_normal(key, shape) -> jax.Array:
    """Independent N(0, 1) float32 values of ``shape``, a pure function of ``key``.

    The distribution of ``jax.random.normal(key, shape)`` (other values), several times
    cheaper on CPU: see the comment above.
    """
    shape = tuple(int(d) for d in shape)
    if math.prod(shape) >= 2 ** 32:              # beyond the 32-bit counter
        return jax.random.normal(key, shape)
    return _normal_from_key_bits(jax.random.bits(key, (4,), jnp.uint32), shape)
