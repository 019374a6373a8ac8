"""The three paradigms linssl compares, by name.

A *paradigm* is joint embedding, reconstruction or supervised learning with augmentations. Its
canonical name is used everywhere: the estimators (:func:`linssl.models.estimator_for`), the theory
(:mod:`linssl.theory`), the ``paradigm`` axis of studies and the ``paradigm`` column of their tables.
"""

from __future__ import annotations

__all__ = ["PARADIGMS", "TITLES", "canonical_paradigm"]

#: Canonical paradigm names, in the order of the paper's figures.
PARADIGMS = ("supervised", "joint_embedding", "reconstruction")

#: Titles for tables and figures.
TITLES = {"supervised": "Supervised", "joint_embedding": "Joint-Embedding", "reconstruction": "Reconstruction"}

_ALIASES = {
    "supervised": "supervised",
    "sl": "supervised",
    "joint_embedding": "joint_embedding",
    "joint-embedding": "joint_embedding",
    "je": "joint_embedding",
    "reconstruction": "reconstruction",
    "rc": "reconstruction",
}


def canonical_paradigm(paradigm: str) -> str:
    """Normalise a paradigm name (``"je"``, ``"joint-embedding"``, ... -> ``"joint_embedding"``).

    Parameters
    ----------
    paradigm : str
        A canonical name or one of the short forms ``sl``, ``je``, ``rc``.

    Returns
    -------
    str
        One of :data:`PARADIGMS`.

    Raises
    ------
    ValueError
        For an unknown name.

    Examples
    --------
    >>> canonical_paradigm("JE")
    'joint_embedding'
    """
    try:
        return _ALIASES[str(paradigm).lower()]
    except KeyError:
        raise ValueError(
            f"unknown paradigm {paradigm!r}; use one of {', '.join(PARADIGMS)} (or the short forms sl, je, rc)"
        ) from None
