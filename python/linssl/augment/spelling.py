"""Augmentations spelled as strings, for study grids and TOML files.

``kind:arg:arg`` names one augmentation; ``a+b`` applies ``a`` then ``b`` (:class:`Compose`);
``a|b`` gives joint embedding two view distributions (:class:`TwoViews`). Image augmentations
infer a square image from ``d`` (``s^2`` features: one channel, ``3 s^2``: three).

======================================  ===============================================
``gaussian:<variance>``                 :class:`Gaussian`
``mask:<keep probability>``             :class:`Mask`
``patch:<size>:<mask ratio>``           :class:`PatchMask` (MAE)
``block:<size>[:<blocks>]``             :class:`BlockMask` (cutout)
``translate:<max shift>[:circular]``    :class:`Translate`
``flip[:<p>]``, ``vflip[:<p>]``         :class:`Flip` (horizontal, vertical)
``crop:<min scale>[:<crops>]``          :class:`CropResize` (scale in [min, 1])
``blur:<sigma>[:<sigma>...]``           :class:`Blur` (sigmas equally likely)
``brightness:<delta>``                  :class:`Brightness` (additive)
``contrast:<strength>``                 :class:`Contrast`
======================================  ===============================================
"""

from __future__ import annotations

from typing import Callable

from linssl.augment.base import Augmentation
from linssl.augment.compose import Compose
from linssl.augment.image_maps import Blur, CropResize, Flip, Translate
from linssl.augment.joint_masks import BlockMask, PatchMask
from linssl.augment.masks import Mask
from linssl.augment.noise import Gaussian
from linssl.augment.photometric import Brightness, Contrast
from linssl.augment.views import TwoViews

__all__ = ["SPELLINGS", "parse_augmentation"]


def _number(text: str) -> float:
    return float(text)


def _count(text: str) -> int:
    value = float(text)
    if not value.is_integer():
        raise ValueError(f"{text!r} is not an integer")
    return int(value)


def _translate(args: list[str]) -> Augmentation:
    if len(args) == 2 and args[1] != "circular":
        raise ValueError("the second argument of translate can only be 'circular'")
    return Translate(None, _count(args[0]), padding="circular" if len(args) == 2 else "zero")


#: kind -> (usage, allowed argument counts, constructor from the argument strings).
SPELLINGS: dict[str, tuple[str, tuple[int, ...], Callable[[list[str]], Augmentation]]] = {
    "gaussian": ("gaussian:<variance>", (1,), lambda a: Gaussian(_number(a[0]))),
    "mask": ("mask:<keep probability>", (1,), lambda a: Mask(_number(a[0]))),
    "patch": ("patch:<size>:<mask ratio>", (2,), lambda a: PatchMask(None, _count(a[0]), _number(a[1]))),
    "block": (
        "block:<size>[:<blocks>]", (1, 2),
        lambda a: BlockMask(None, _count(a[0]), _count(a[1]) if len(a) > 1 else 1),
    ),
    "translate": ("translate:<max shift>[:circular]", (1, 2), _translate),
    "flip": ("flip[:<p>]", (0, 1), lambda a: Flip(None, axis=1, p=_number(a[0]) if a else 0.5)),
    "vflip": ("vflip[:<p>]", (0, 1), lambda a: Flip(None, axis=0, p=_number(a[0]) if a else 0.5)),
    "crop": (
        "crop:<min scale>[:<crops>]", (1, 2),
        lambda a: CropResize(None, scale=(_number(a[0]), 1.0), n_crops=_count(a[1]) if len(a) > 1 else 25),
    ),
    "blur": ("blur:<sigma>[:<sigma>...]", tuple(range(1, 17)), lambda a: Blur(None, tuple(_number(s) for s in a))),
    "brightness": ("brightness:<delta>", (1,), lambda a: Brightness(_number(a[0]))),
    "contrast": ("contrast:<strength>", (1,), lambda a: Contrast(None, _number(a[0]))),
}


def _usage() -> str:
    return ", ".join(f"'{usage}'" for usage, _, _ in SPELLINGS.values()) + " (join with '+' to compose, '|' for two views)"


def _one(text: str) -> Augmentation:
    kind, *args = text.strip().split(":")
    entry = SPELLINGS.get(kind.strip().lower())
    if entry is None or len(args) not in entry[1]:
        raise ValueError(f"unknown augmentation {text!r}; use one of {_usage()}")
    try:
        return entry[2]([a.strip() for a in args])
    except (TypeError, ValueError) as err:
        raise ValueError(f"augmentation {text!r} ({entry[0]}): {err}") from None


def parse_augmentation(spec) -> Augmentation:
    """An augmentation from an object or a string (see :mod:`linssl.augment.spelling`).

    Parameters
    ----------
    spec : Augmentation or str

    Returns
    -------
    Augmentation

    Raises
    ------
    ValueError
        For an unknown spelling or invalid arguments, listing the valid spellings.

    Examples
    --------
    >>> parse_augmentation("mask:0.8")
    Mask(p=0.8)
    >>> parse_augmentation("translate:2+patch:4:0.75").stages[1]
    PatchMask(image_shape=None, patch_size=4, mask_ratio=0.75)
    >>> type(parse_augmentation("flip|gaussian:0.1")).__name__
    'TwoViews'
    """
    if isinstance(spec, Augmentation):
        return spec
    text = str(spec)
    if "|" in text:
        views = text.split("|")
        if len(views) != 2:
            raise ValueError(f"augmentation {text!r}: '|' separates exactly two views")
        return TwoViews(parse_augmentation(views[0]), parse_augmentation(views[1]))
    stages = [_one(part) for part in text.split("+")]
    return stages[0] if len(stages) == 1 else Compose(stages)
