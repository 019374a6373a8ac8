"""Which paradigm's optimal linear model probes best under real SSL augmentations? (digits or MNIST)
=====================================================================================================

For MAE-style patch masking (growing mask ratio), random translations (growing shift) and random
resized crops (shrinking minimum scale), fit the exact optimal linear joint embedding and
reconstruction (k = 16) on the training digits, then measure a least-squares linear probe of the
labels on held-out digits (:func:`linssl.metrics.probe_loss`, lower is better) and its accuracy.
Every augmentation also adds unit Gaussian pixel noise, which keeps ``S`` positive definite (the
digits have pixels that are always 0). Joint embedding uses the same augmentation for both views;
``--views`` adds joint embedding with a clean-ish weak view (noise only) against the strong one.

Images: the bundled digits (8 x 8, 0-16, 2 x 2 patches) or, with ``--dataset mnist5k`` (the
``datasets`` extra), 5,000 MNIST images (28 x 28, 0-255, 4 x 4 patches, shifts and noise scaled to
the larger images and pixel range).

Run: ``python examples/augmentation_study.py [--dataset mnist5k] [--out docs/augmentation_study.png] [--views]``.
Every number comes from closed forms: no training, no Monte Carlo; the whole study takes seconds.
"""

import argparse

import numpy as np

import linssl
from linssl.metrics import probe_loss

K = 16


class Images:
    """A data set of square images and the augmentation scales that suit it."""

    def __init__(self, name: str):
        if name == "digits":
            self.X, self.y = linssl.load_digits()
            self.shape, self.patch, self.shifts, self.noise = (8, 8), 2, (0, 1, 2, 3), linssl.Gaussian(1.0)
        elif name == "mnist5k":
            self.X, self.y = linssl.load_dataset("mnist5k")
            # Pixels up to 255 instead of 16: noise of the same relative size, (255 / 16)^2 times larger.
            self.shape, self.patch, self.shifts, self.noise = (28, 28), 4, (0, 2, 4, 6), linssl.Gaussian((255 / 16) ** 2)
        else:
            raise ValueError(f"unknown data set {name!r}: 'digits' or 'mnist5k'")


def _split(X, y, seed=0, test=0.3):
    order = np.random.default_rng(seed).permutation(len(X))
    cut = int(len(X) * (1 - test))
    return X[order[:cut]], y[order[:cut]], X[order[cut:]], y[order[cut:]]


def _probe(model, X_train, y_train, X_test, y_test):
    Z_train, Z_test = model.transform(X_train), model.transform(X_test)
    loss = probe_loss(Z_train, y_train, Z_test, y_test)
    design = np.hstack([Z_train, np.ones((len(Z_train), 1))])
    coef, *_ = np.linalg.lstsq(design, np.eye(10)[y_train], rcond=None)
    accuracy = float(np.mean(np.argmax(np.hstack([Z_test, np.ones((len(Z_test), 1))]) @ coef, axis=1) == y_test))
    return loss, accuracy


def families(images: Images):
    """(panel title, x label, [(x, augmentation), ...])."""
    shape, patch, noise = images.shape, images.patch, images.noise
    return [
        (f"MAE-style patch masking ({patch} x {patch} patches)", "mask ratio",
         [(r, linssl.Compose([linssl.PatchMask(shape, patch, r), noise])) for r in (0.0, 0.25, 0.5, 0.75)]),
        ("random translation", "max shift (pixels)",
         [(s, linssl.Compose([linssl.Translate(shape, s), noise])) for s in images.shifts]),
        ("random resized crop (25 crops)", "1 - min scale",
         [(1 - a, linssl.Compose([linssl.CropResize(shape, scale=(a, 1.0), n_crops=25), noise])) for a in (1.0, 0.8, 0.6, 0.4)]),
    ]


def run(views: bool = False, dataset: str = "digits"):
    images = Images(dataset)
    X_train, y_train, X_test, y_test = _split(images.X, images.y)
    rows = []
    for title, xlabel, grid in families(images):
        for x, aug in grid:
            fitted = linssl.fit_all(X_train, aug, K)
            models = {"joint embedding": fitted.joint_embedding, "reconstruction": fitted.reconstruction}
            if views:
                models["joint embedding, weak | strong"] = linssl.JointEmbedding(K, augmentation=(images.noise, aug)).fit(X_train)
            for paradigm, model in models.items():
                loss, accuracy = _probe(model, X_train, y_train, X_test, y_test)
                rows.append({"family": title, "xlabel": xlabel, "x": x, "paradigm": paradigm, "probe_loss": loss, "accuracy": accuracy})
    return rows


def plot(rows, out):
    from matplotlib.figure import Figure

    titles = list(dict.fromkeys(r["family"] for r in rows))
    fig = Figure(figsize=(4.2 * len(titles), 3.4), layout="constrained")
    axes = fig.subplots(1, len(titles), sharey=True)
    for ax, title in zip(axes, titles):
        here = [r for r in rows if r["family"] == title]
        for paradigm in dict.fromkeys(r["paradigm"] for r in here):
            line = [r for r in here if r["paradigm"] == paradigm]
            ax.plot([r["x"] for r in line], [r["accuracy"] for r in line], marker="o", label=paradigm)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(here[0]["xlabel"])
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"linear probe accuracy (k = {K})")
    axes[0].legend(fontsize=8)
    fig.savefig(out, dpi=130)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="augmentation_study.png")
    parser.add_argument("--views", action="store_true", help="also joint embedding with a weak (noise) and a strong view")
    parser.add_argument("--dataset", default="digits", choices=["digits", "mnist5k"])
    args = parser.parse_args()
    rows = run(args.views, args.dataset)
    for r in rows:
        print(f"{r['family'][:28]:<28}  {r['xlabel']}={r['x']:<5g} {r['paradigm']:<32} probe loss {r['probe_loss']:.3f}  accuracy {r['accuracy']:.3f}")
    plot(rows, args.out)
    print(f"figure: {args.out}")


if __name__ == "__main__":
    main()
