"""Principal component analysis of trajectories (JAX SVD), to project states and fixed points."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError, ShapeError
from .._validate import check_int

__all__ = ["PCAResult", "pca"]


@dataclasses.dataclass(frozen=True)
class PCAResult:
    """Principal axes of a cloud of states (from :func:`pca`).

    Attributes
    ----------
    mean : ndarray ``(D,)``
        The centre subtracted before projecting.
    components : ndarray ``(k, D)``
        Orthonormal principal axes, by decreasing variance; each axis's largest entry (in
        absolute value) is positive, so the signs are reproducible.
    singular_values : ndarray ``(k,)``
    explained_variance : ndarray ``(k,)``
        Variance along each axis (``s**2 / (n - 1)``).
    explained_variance_ratio : ndarray ``(k,)``
        Fraction of the total variance along each axis.
    num_samples : int
        ``n``, the number of states the axes were fitted on.
    space : str
        ``"hidden"`` (unit activities) or ``"state"`` (full states, LSTM ``c`` included), as
        asked of :func:`pca` (informative for arrays).
    """

    mean: np.ndarray
    components: np.ndarray
    singular_values: np.ndarray
    explained_variance: np.ndarray
    explained_variance_ratio: np.ndarray
    num_samples: int
    space: str = "hidden"

    @property
    def num_components(self) -> int:
        return int(self.components.shape[0])

    @property
    def dim(self) -> int:
        """``D``, the width of the projected vectors."""
        return int(self.mean.shape[0])

    def transform(self, x) -> np.ndarray:
        """Project states ``(..., D)`` onto the components: ``(..., k)``."""
        x = np.asarray(x)
        if x.shape[-1] != self.dim:
            raise ShapeError(f"PCAResult.transform: vectors must have {self.dim} entries (the space the PCA "
                             f"was fitted in); got shape {x.shape}.")
        return (x - self.mean) @ self.components.T

    def inverse_transform(self, z) -> np.ndarray:
        """Map projections ``(..., k)`` back to states ``(..., D)``."""
        return np.asarray(z) @ self.components + self.mean


def _as_data(data, space: str) -> np.ndarray:
    if hasattr(data, "hidden") or hasattr(data, "activity"):  # Activity / Evaluation
        if space == "state":
            arr = getattr(data, "state", None)
            if arr is None:
                raise ConfigError("space='state' needs activity recorded with full_state=True.")
        else:
            arr = getattr(data, "hidden", None)
            if arr is None:
                arr = data.activity
        return np.asarray(arr)
    if isinstance(data, (list, tuple)):
        return np.concatenate([np.asarray(d).reshape(-1, np.shape(d)[-1]) for d in data], axis=0)
    return np.asarray(data)


def pca(data, num_components: int = 3, *, space: str = "hidden") -> PCAResult:
    """Principal components of states, by a singular value decomposition in JAX.

    Parameters
    ----------
    data : array ``(..., D)``, Activity, Evaluation or list of arrays
        States; every axis but the last is flattened into samples (e.g. ``(T, B, D)``
        trajectories). An ``Activity`` gives its ``hidden`` (or, with ``space="state"``, its
        full ``state``); an ``Evaluation`` its ``activity``.
    num_components : int
        ``k``, at most ``min(n, D)``.
    space : {"hidden", "state"}
        Which recording of an ``Activity`` to use (ignored for arrays). Fixed points
        (:class:`FixedPoints`) can be projected in either: plots pick ``points`` or
        ``hidden`` to match ``D``.

    Returns
    -------
    PCAResult

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((500, 3)) * [3.0, 1.0, 0.1]
    >>> p = pca(x, 2)
    >>> [round(float(r), 2) for r in p.explained_variance_ratio]
    [0.9, 0.1]
    >>> p.transform(x).shape
    (500, 2)
    """
    if space not in ("hidden", "state"):
        raise ConfigError(f"space must be 'hidden' or 'state'; got {space!r}.")
    x = _as_data(data, space)
    if x.ndim < 2:
        raise ShapeError(f"pca needs states of shape (..., D) with at least one sample axis; got {x.shape}.")
    X = x.reshape(-1, x.shape[-1])
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float32)
    X = X[np.all(np.isfinite(X), axis=1)]
    n, D = X.shape
    num_components = check_int("num_components", num_components, minimum=1, maximum=min(n, D),
                               fix="It can be at most min(samples, dimensions).")
    mean, s, vt, total = _svd(jnp.asarray(X))
    mean, s, vt, total = (np.asarray(a) for a in jax.device_get((mean, s, vt, total)))
    k = int(num_components)
    comps = vt[:k]
    big = np.argmax(np.abs(comps), axis=1)
    comps = comps * np.sign(comps[np.arange(k), big])[:, None]
    var = s[:k] ** 2 / max(n - 1, 1)
    ratio = (s[:k] ** 2) / total if total > 0 else np.zeros(k, s.dtype)
    return PCAResult(mean=mean, components=comps, singular_values=s[:k], explained_variance=var,
                     explained_variance_ratio=ratio, num_samples=int(n), space=space)


@jax.jit
def _svd(X):
    mean = X.mean(axis=0)
    Xc = X - mean
    _, s, vt = jnp.linalg.svd(Xc, full_matrices=False)
    return mean, s, vt, jnp.sum(Xc * Xc)
