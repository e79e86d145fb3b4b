r"""Classifiers of stable states from their energy profiles (McAlister, Robins & Szymanski 2025).

All follow the scikit-learn estimator interface (``fit(X, y)``, ``predict(X)``, ``score(X, y)``)
on features from :func:`damjax.states.profile_features` (raw or sorted/normalised profiles):

* ``"logistic"`` — logistic regression;
* ``"linear_svm"`` — linear support vector machine;
* ``"rbf_svm"`` — support vector machine with a Gaussian (RBF) kernel;
* ``"mlp"`` — a small multilayer perceptron (equinox + optax), :class:`MLPStateClassifier`;
* ``"stability_ratio"`` — the baseline of Robins & McCallum (2004): one threshold on the
  stability ratio, :class:`StabilityRatioClassifier`.

The scikit-learn models standardise their inputs (``StandardScaler``) first. scikit-learn is
imported only when one of them is made.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ._profiles import stability_ratio

CLASSIFIERS = ("logistic", "linear_svm", "rbf_svm", "mlp", "stability_ratio")


def _xy(X, y=None):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"`X` must have shape (M, D); got {X.shape}")
    if y is None:
        return X
    y = np.asarray(y)
    if y.shape != (X.shape[0],):
        raise ValueError(f"`y` must have shape ({X.shape[0]},) like the rows of `X`; got {y.shape}")
    return X, y


class _Scored:
    def score(self, X, y) -> float:
        """Accuracy of ``predict(X)`` against ``y``."""
        X, y = _xy(X, y)
        return float(np.mean(self.predict(X) == y))


class StabilityRatioClassifier(_Scored):
    r"""Binary classifier thresholding the stability ratio :math:`\max_i e_i / \min_i e_i`.

    ``fit`` picks the threshold t (midway between observed ratios) and which class lies above it
    to maximise training accuracy. Features may be raw or sorted/normalised profiles (the ratio is
    invariant to both).

    **Raises:** ``ValueError`` in ``fit`` unless ``y`` has exactly two classes.
    """

    def fit(self, X, y):
        X, y = _xy(X, y)
        classes = np.unique(y)
        if classes.size != 2:
            raise ValueError(
                f"the stability ratio separates two classes; `y` has {classes.size}: {classes}"
            )
        r = np.asarray(stability_ratio(X))
        vals = np.unique(r)
        cands = np.concatenate([[vals[0] - 1.0], (vals[:-1] + vals[1:]) / 2, [vals[-1] + 1.0]])
        best = (-1.0, 0.0, 1)
        for hi in (1, 0):
            above = np.sort(r[y == classes[hi]])
            below = np.sort(r[y == classes[1 - hi]])
            n_above = above.size - np.searchsorted(above, cands, side="left")
            n_below = np.searchsorted(below, cands, side="left")
            acc = (n_above + n_below) / r.size
            i = int(np.argmax(acc))
            if acc[i] > best[0]:
                best = (float(acc[i]), float(cands[i]), hi)
        self.classes_ = classes
        self.threshold_ = best[1]
        self.high_class_ = classes[best[2]]
        self.low_class_ = classes[1 - best[2]]
        return self

    def decision_function(self, X):
        """The stability ratio of every profile."""
        return np.asarray(stability_ratio(_xy(X)))

    def predict(self, X):
        r = self.decision_function(X)
        return np.where(r >= self.threshold_, self.high_class_, self.low_class_)


class MLPStateClassifier(_Scored):
    """A small multilayer perceptron (``eqx.nn.MLP``, ReLU) trained with optax AdamW on the
    softmax cross-entropy, full batch, on standardised inputs.

    **Arguments:** ``width`` hidden units per layer, ``depth`` hidden layers, ``steps`` optimiser
    steps, ``learning_rate``, ``weight_decay``, ``seed`` (initialisation).
    """

    def __init__(
        self,
        width: int = 32,
        depth: int = 1,
        steps: int = 500,
        learning_rate: float = 1e-2,
        weight_decay: float = 1e-4,
        seed: int = 0,
    ):
        self.width = width
        self.depth = depth
        self.steps = steps
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.seed = seed

    def fit(self, X, y):
        X, y = _xy(X, y)
        self.classes_, yi = np.unique(y, return_inverse=True)
        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        Z = (X - self.mean_) / self.scale_
        # pad the training set to a power of two with zero-weight rows: few compilations
        m = Z.shape[0]
        size = max(64, 1 << (m - 1).bit_length())
        w = np.zeros(size, np.float32)
        w[:m] = 1.0
        Z = jnp.asarray(np.pad(Z, ((0, size - m), (0, 0))), jnp.float32)
        yi = np.pad(yi, (0, size - m))
        net = eqx.nn.MLP(
            in_size=X.shape[1],
            out_size=max(len(self.classes_), 1),
            width_size=self.width,
            depth=self.depth,
            key=jax.random.key(self.seed),
        )
        hyper = jnp.asarray([self.learning_rate, self.weight_decay], jnp.float32)
        self.model_ = _train_mlp(
            net, hyper, Z, jnp.asarray(yi, jnp.int32), jnp.asarray(w), int(self.steps)
        )
        return self

    def predict_proba(self, X):
        Z = jnp.asarray((_xy(X) - self.mean_) / self.scale_, jnp.float32)
        return np.asarray(jax.nn.softmax(_logits(self.model_, Z), axis=-1))

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=-1)]


@eqx.filter_jit
def _logits(net, Z):
    return jax.vmap(net)(Z)


@eqx.filter_jit
def _train_mlp(net, hyper, Z, y, w, steps):
    # the optimiser is built inside the compiled function from traced hyperparameters, so a new
    # classifier does not trigger a new compilation
    opt = optax.adamw(hyper[0], weight_decay=hyper[1])

    def loss(net):
        ce = optax.softmax_cross_entropy_with_integer_labels(_logits(net, Z), y)
        return jnp.sum(w * ce) / jnp.sum(w)

    params, static = eqx.partition(net, eqx.is_inexact_array)
    state = opt.init(params)

    def step(carry, _):
        params, state = carry
        grads = jax.grad(lambda p: loss(eqx.combine(p, static)))(params)
        updates, state = opt.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), None

    (params, _), _ = jax.lax.scan(step, (params, state), None, length=steps)
    return eqx.combine(params, static)


def make_classifier(name: str, *, seed: int = 0):
    """A fresh, unfitted state classifier by name (one of ``CLASSIFIERS``).

    **Raises:** ``ValueError`` for an unknown name.
    """
    if name in ("logistic", "linear_svm", "rbf_svm"):
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC, LinearSVC
    if name == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    if name == "linear_svm":
        return make_pipeline(StandardScaler(), LinearSVC(max_iter=20000, random_state=seed))
    if name == "rbf_svm":
        return make_pipeline(StandardScaler(), SVC(kernel="rbf", gamma="scale"))
    if name == "mlp":
        return MLPStateClassifier(seed=seed)
    if name == "stability_ratio":
        return StabilityRatioClassifier()
    raise ValueError(f"`name` must be one of {CLASSIFIERS}; got {name!r}")
