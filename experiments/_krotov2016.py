"""Helpers of the Krotov & Hopfield 2016 classifier reproduction (not a reproduction itself): the
XOR example, the dual one-hidden-layer network, and baselines measured in the same run."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import damjax as dj

#: XOR truth table in +-1 units: (v1, v2, v1 XOR v2) with +1 = true (the paper's XOR example).
XOR_MEMORIES = np.array([[-1, -1, -1], [-1, 1, 1], [1, -1, 1], [1, 1, -1]], np.float32)


def xor_solved(interaction) -> dict:
    """Store the four rows of the XOR table as memories of a binary DAM with ``interaction`` F;
    for each input (v1, v2) set the output unit by the energy difference
    E(v1, v2, -1) - E(v1, v2, +1) (one asynchronous update) and compare with v1 XOR v2.

    **Returns:** ``{"solved": bool, "votes": [...], "tol": float}``; a vote within float32
    round-off of the energies (``tol``) is a tie and counts as unsolved.
    """
    dam = dj.BinaryDAM(jnp.asarray(XOR_MEMORIES), interaction)
    votes, scale = [], 0.0
    for v1, v2, _ in XOR_MEMORIES:
        e_plus = float(dam.energy(jnp.array([v1, v2, 1.0])))
        e_minus = float(dam.energy(jnp.array([v1, v2, -1.0])))
        votes.append(e_minus - e_plus)  # > 0: the output unit prefers +1
        scale = max(scale, abs(e_plus), abs(e_minus))
    tol = 64 * float(np.finfo(np.float32).eps) * max(scale, 1.0)
    ok = all(abs(v) > tol and np.sign(v) == t for v, t in zip(votes, XOR_MEMORIES[:, 2]))
    return {"solved": bool(ok), "votes": votes, "tol": tol}


class DualNetwork(eqx.Module):
    r"""The feed-forward dual of the DAM classifier (Krotov & Hopfield 2016, Sec. 3): one hidden
    layer of K units with activation :math:`f = F'` of the rectified polynomial
    :math:`F(x) = \mathrm{ReLU}(x)^n`, outputs :math:`c_\alpha = \tanh(\frac{2n}{T}\sum_\mu
    U_{\mu\alpha} (\mathrm{ReLU}(W_\mu \cdot v + b_\mu)/T)^{n-1})`: the DAM's single update of
    the label units with :math:`F(x+1) - F(x-1) \approx 2F'(x)` and :math:`\beta = T^{-n}`, with
    hidden weights W, biases b and output weights U free instead of tied to one memory. The
    parameters of hidden unit mu are one row ``theta[mu] = [W_mu, U_mu, b_mu]``, so the DAM's
    per-memory optimiser applies row by row.
    """

    theta: jax.Array
    n_pixels: int = eqx.field(static=True)
    n_classes: int = eqx.field(static=True)
    n: int = eqx.field(static=True)
    temperature: float = eqx.field(static=True)

    def __init__(self, key, n_hidden, n_pixels, n_classes, *, n, temperature, mean=-0.3, std=0.3):
        self.theta = mean + std * jax.random.normal(key, (n_hidden, n_pixels + n_classes + 1))
        self.n_pixels = n_pixels
        self.n_classes = n_classes
        self.n = n
        self.temperature = float(temperature)

    def __call__(self, x):
        P, C, T = self.n_pixels, self.n_classes, self.temperature
        W, U, b = self.theta[:, :P], self.theta[:, P : P + C], self.theta[:, -1]
        h = (jax.nn.relu(W @ x + b) / T) ** (self.n - 1)
        return jnp.tanh((2 * self.n / T) * (h @ U))

    def single_class_share(self) -> float:
        """Share of hidden units whose output weights raise exactly one class (the dual of
        :func:`damjax.learning.single_class_share`)."""
        U = np.asarray(self.theta[:, self.n_pixels : self.n_pixels + self.n_classes])
        return float(np.mean(np.sum(U > 0, axis=1) == 1))


def train_dual(key, train, test, recipe, *, epochs):
    r"""Train :class:`DualNetwork` (K = ``recipe.n_memories``, n, T, m of ``recipe``) on the DAM's
    loss :math:`\sum_\alpha (c_\alpha - t_\alpha)^{2m}` with the DAM's own optimiser
    (``recipe.optimizer``: momentum, per-row normalised step, decay, clip to [-1, 1]) and
    minibatches; returns (net, test accuracy)."""
    k_init, k_data = jax.random.split(key)
    net = DualNetwork(
        k_init,
        recipe.n_memories,
        train.n_pixels,
        train.n_classes,
        n=recipe.n,
        temperature=recipe.temperature_end,
        mean=recipe.init_mean,
        std=recipe.init_std,
    )
    bs = min(recipe.batch_size, len(train))
    opt = recipe.optimizer(len(train) // bs)
    state = opt.init(net.theta)
    x = jnp.asarray(train.images)
    t = 2.0 * jax.nn.one_hot(jnp.asarray(train.labels), train.n_classes) - 1.0
    m = recipe.m

    def loss_fn(theta, xb, tb):
        c = jax.vmap(eqx.tree_at(lambda d: d.theta, net, theta))(xb)
        return jnp.sum((c - tb) ** (2 * m))

    @jax.jit
    def epoch(theta, state, k):
        perm = jax.random.permutation(k, x.shape[0])
        nb = x.shape[0] // bs
        idx = perm[: nb * bs].reshape(nb, bs)

        def step(carry, ib):
            theta, state = carry
            grads = jax.grad(loss_fn)(theta, x[ib], t[ib])
            updates, state = opt.update(grads, state, theta)
            return (theta + updates, state), None

        (theta, state), _ = jax.lax.scan(step, (theta, state), idx)
        return theta, state

    theta = net.theta
    for k in jax.random.split(k_data, epochs):
        theta, state = epoch(theta, state, k)
    net = eqx.tree_at(lambda d: d.theta, net, theta)
    pred = np.asarray(jnp.argmax(jax.vmap(net)(jnp.asarray(test.images)), axis=-1))
    return net, float(np.mean(pred == np.asarray(test.labels)))


def baselines(train, test, n_hidden=100, seed=0) -> dict:
    """Test accuracies of logistic regression and of an MLP with one hidden layer of the same
    width (ReLU, Adam; scikit-learn), trained on the same split."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    xtr, ytr = np.asarray(train.images), np.asarray(train.labels)
    xte, yte = np.asarray(test.images), np.asarray(test.labels)
    lr = LogisticRegression(max_iter=3000).fit(xtr, ytr)
    mlp = MLPClassifier(hidden_layer_sizes=(n_hidden,), max_iter=1000, random_state=seed)
    mlp.fit(xtr, ytr)
    return {
        "logistic_regression": float(lr.score(xte, yte)),
        f"mlp_relu_{n_hidden}": float(mlp.score(xte, yte)),
    }
