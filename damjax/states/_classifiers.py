r"""Classifiers of stable states from their energy profiles (McAlister, Robins & Szymanski 2025).

All follow the scikit-learn estimator interface (``fit(X, y)``, ``predict(X)``, ``score(X, y)``)
on features from :func:`damjax.states.profile_features` (raw or sorted/normalised profiles):

* ``"logistic"`` — logistic regression;
* ``"linear_svm"`` — linear support vector machine;
* ``"rbf_svm"`` — support vector machine with a Gaussian (RBF) kernel;
* ``"mlp"`` — a small multilayer perceptron (equinox + optax), :class:`MLPStateClassifier`;
* ``"stability_ratio"`` — the baseline of Robins & McCallum (2004): thresholds on the
  stability ratio (one for two classes, C - 1 for C classes), :class:`StabilityRatioClassifier`.

:func:`balanced_accuracy` scores predictions with a confidence interval.

The scikit-learn models standardise their inputs (``StandardScaler``) first. scikit-learn is
imported only when one of them is made.
"""

from __future__ import annotations

import itertools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._validation import check_finite_scalar, check_positive_int
from ._profiles import stability_ratio

CLASSIFIERS = ("logistic", "linear_svm", "rbf_svm", "mlp", "stability_ratio")


def _xy(X, y=None):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"`X` must have shape (M, D); got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("`X` must contain only finite values; found NaN or inf")
    if y is None:
        return X
    y = np.asarray(y)
    if y.shape != (X.shape[0],):
        raise ValueError(f"`y` must have shape ({X.shape[0]},) like the rows of `X`; got {y.shape}")
    return X, y


class _Scored:
    def _fitted(self, X, attr: str):
        """``X`` checked against the fitted classifier (a clear error before ``fit``)."""
        if not hasattr(self, attr):
            raise ValueError(f"this {type(self).__name__} is not fitted yet: call fit(X, y) first")
        X = _xy(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"`X` must have {self.n_features_in_} columns, as in fit; got {X.shape[1]}"
            )
        return X

    def score(self, X, y) -> float:
        """Accuracy of ``predict(X)`` against ``y``."""
        X, y = _xy(X, y)
        return float(np.mean(self.predict(X) == y))


class StabilityRatioClassifier(_Scored):
    r"""Classifier of the stability ratio :math:`r = \max_i e_i / \min_i e_i` alone
    (Robins & McCallum 2004), for two or more classes.

    The classes are assigned to consecutive intervals of r: ``fit`` tries every order of the
    classes along the r axis and picks the C - 1 thresholds (midway between observed ratios)
    that maximise the training accuracy (an exact dynamic programme over the sorted ratios). For
    two classes this is the single best threshold with the better class above it. Features may
    be raw or sorted/normalised profiles (r is invariant to both).

    **Attributes after fit:** ``order_`` (classes from low to high r), ``thresholds_``
    (ascending, C - 1); for two classes also ``threshold_``, ``high_class_``, ``low_class_``.

    **Raises:** ``ValueError`` in ``fit`` unless ``y`` has between 2 and 4 classes (4! orders).
    """

    def fit(self, X, y):
        X, y = _xy(X, y)
        self.n_features_in_ = X.shape[1]
        classes = np.unique(y)
        if not 2 <= classes.size <= 4:
            raise ValueError(
                "the stability-ratio classifier separates 2 to 4 classes; "
                f"`y` has {classes.size}: {classes}"
            )
        r = np.asarray(stability_ratio(X))
        vals, inv = np.unique(r, return_inverse=True)
        # counts[c, v]: training states of class c at the v-th distinct ratio
        counts = np.zeros((classes.size, vals.size), np.int64)
        np.add.at(counts, (np.searchsorted(classes, y), inv), 1)
        cum = np.concatenate([np.zeros((classes.size, 1), np.int64), counts.cumsum(1)], 1)
        best = (-1, None, None)
        for order in itertools.permutations(range(classes.size)):
            score, cuts = _best_cuts(cum[list(order)])
            if score > best[0]:
                best = (score, order, cuts)
        _, order, cuts = best
        # a cut at c (values vals[:c] below, vals[c:] above) sits midway between the two values
        edges = np.concatenate([[vals[0] - 1.0], (vals[:-1] + vals[1:]) / 2, [vals[-1] + 1.0]])
        self.classes_ = classes
        self.order_ = classes[list(order)]
        self.thresholds_ = edges[np.asarray(cuts, int)]
        if classes.size == 2:
            self.threshold_ = float(self.thresholds_[0])
            self.low_class_, self.high_class_ = self.order_
        return self

    def decision_function(self, X):
        """The stability ratio of every profile."""
        return np.asarray(stability_ratio(_xy(X)))

    def predict(self, X):
        r = self.decision_function(self._fitted(X, "order_"))
        return self.order_[np.searchsorted(self.thresholds_, r, side="right")]


def _best_cuts(cum):
    """Best split of V sorted values into C consecutive segments, segment k voting for class k.

    ``cum`` is (C, V + 1): cumulative counts of each class. Returns the best number of correctly
    placed states and the C - 1 cut positions (0..V, non-decreasing; segment k is
    ``[cuts[k-1], cuts[k])``).
    """
    C, V1 = cum.shape
    # f[j]: best score with the first k segments covering values [0, j)
    f = cum[0].astype(np.int64)
    back = []
    for k in range(1, C):
        g = f - cum[k]  # choose where segment k starts: i <= j
        run = np.maximum.accumulate(g)
        # where the running maximum was first reached
        idx = np.arange(V1)
        is_new = np.concatenate([[True], g[1:] > run[:-1]])
        arg = np.maximum.accumulate(np.where(is_new, idx, 0))
        f = run + cum[k]
        back.append(arg)
    j = V1 - 1
    cuts = []
    for arg in reversed(back):
        j = int(arg[j])
        cuts.append(j)
    return int(f[-1]), cuts[::-1]


def balanced_accuracy(y, pred, *, z: float = 1.96) -> tuple[float, float]:
    r"""Balanced accuracy (the mean over the classes present in ``y`` of the share of each class
    predicted correctly) and the half-width of its normal-approximation confidence interval.

    With per-class recalls :math:`a_c` on :math:`n_c` states, the half-width is
    :math:`\frac{z}{C}\sqrt{\sum_c \tilde a_c (1-\tilde a_c)/(n_c + 4)}` with the
    Agresti-Coull recall :math:`\tilde a_c = (n_c a_c + 2)/(n_c + 4)` (never a zero width at
    recall 0 or 1). ``z = 1.96`` gives a 95% interval. For a class-balanced test set this is the
    plain accuracy.

    **Raises:** ``ValueError`` for arrays that are not 1-D of equal shape, an empty ``y``, or a
    ``z`` that is not a finite number > 0.
    """
    z = float(check_finite_scalar(z, "z", positive=True))
    y = np.asarray(y)
    pred = np.asarray(pred)
    if y.shape != pred.shape or y.ndim != 1:
        raise ValueError(f"`y` and `pred` must be 1-D of equal shape; got {y.shape}, {pred.shape}")
    if y.size == 0:
        raise ValueError("`y` must hold at least one label")
    recalls, var = [], 0.0
    for c in np.unique(y):
        sel = y == c
        n = int(sel.sum())
        k = int(np.sum(pred[sel] == c))
        recalls.append(k / n)
        t = (k + 2) / (n + 4)
        var += t * (1 - t) / (n + 4)
    C = len(recalls)
    return float(np.mean(recalls)), float(z * np.sqrt(var) / C)


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
        for value, name in ((width, "width"), (depth, "depth"), (steps, "steps")):
            check_positive_int(value, name)
        check_finite_scalar(learning_rate, "learning_rate", positive=True)
        check_finite_scalar(weight_decay, "weight_decay", nonnegative=True)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"`seed` must be an integer; got {seed!r}")
        self.width = width
        self.depth = depth
        self.steps = steps
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.seed = seed

    def fit(self, X, y):
        X, y = _xy(X, y)
        self.n_features_in_ = X.shape[1]
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
        X = self._fitted(X, "model_")
        Z = jnp.asarray((X - self.mean_) / self.scale_, jnp.float32)
        return np.asarray(jax.nn.softmax(_logits(self.model_, Z), axis=-1))

    def predict(self, X):
        proba = self.predict_proba(X)  # checks the fit first
        return self.classes_[np.argmax(proba, axis=-1)]


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
