"""Hu, Wu & Liu (2024), metastable states with and without U-Hop+: run the retrieval dynamics
(CCCP, x <- Xi^T Sep(beta <Phi(Xi), Phi(x)>)) from each query for the paper's number of
iterations, and count the entries of the retrieval distribution p AT THE STATE REACHED (the
metastable state): k = 1 is retrieval of a single memory, k > 1 a metastable mixture.

Paper setting (authors' synthetic_metastable.py): d = 5, M = 10 random unit memories, random unit
queries, 1.5-entmax, beta = 1, the raw linear kernel <W x, W y> with D_Phi = 5, 20 iterations,
support = entries p > 0; stage I: Adam(lr 1) x 20 full-batch steps, tau = 0.1, W Kaiming-normal.
Real data (authors' MNIST_metastable.py, MNIST): softmax, beta = 0.1, 5 iterations, support =
entries > 0.01, D_Phi = 200, stage I one epoch of Adam(lr 0.1) on batches of 16. Here scikit-learn's
digits stand in for MNIST.

Extra (labelled, not the paper's setting): the cosine kernel <Phi(x)/|Phi(x)|, Phi(y)/|Phi(y)|> on
unit memories with noisy copies of memories as queries (the variant this reproduction used before),
now also measured at the state the dynamics reach."""

from __future__ import annotations

import math
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import damjax
from damjax.learning import train_feature_map
from damjax.reproduce import Check, Outcome, Reproduction, save_figure
from damjax.spherical import min_separation

from ._hu2024 import (
    CODE,
    PAPER,
    digits_pm1,
    digits_unit,
    k_shares,
    kaiming_weight,
    metastable_probabilities,
    support_sizes,
    unit,
)

KMAX = 10
SYN_CITE = f"metastable-state experiment, synthetic data; {CODE} synthetic_metastable.py"
MNIST_CITE = f"metastable-state experiment, MNIST; {CODE} MNIST_metastable.py"


def _train(w0, mems, *, steps, lr, tau, batch_size=None, key=None):
    """Stage I for a batch of memory sets at once (vmapped over seeds); returns W and losses."""
    opt = optax.adam(lr)

    def one(w, mem, k):
        fm, losses = train_feature_map(
            damjax.LinearMap(w),
            mem,
            steps=steps,
            tau=tau,
            optimizer=opt,
            batch_size=batch_size,
            key=k,
        )
        return fm.weight, losses

    keys = jax.random.split(jax.random.key(7) if key is None else key, mems.shape[0])
    return eqx.filter_vmap(one)(w0, mems, keys)


def _shares_and_residual(mems, queries, weights, beta, *, normalizer, n_iter, eps, cosine):
    """k-shares (k = 1..KMAX, > KMAX) pooled over seeds, the mean k, and the largest residual."""
    ks, res = [], []
    for i in range(mems.shape[0]):
        w = None if weights is None else weights[i]
        p, r = metastable_probabilities(
            mems[i], queries[i], w, beta, normalizer=normalizer, n_iter=n_iter, cosine=cosine
        )
        ks.append(support_sizes(p, eps))
        res.append(np.asarray(r))
    k = np.concatenate(ks)
    shares, above = k_shares(k, KMAX)
    # index 0: k = 0 (no entry above eps: a softmax spread below 0.01 everywhere), then k = 1..
    shares = np.concatenate([[np.mean(k == 0)], shares, [above]])
    return shares, float(k.mean()), float(np.max(np.concatenate(res)))


def _compare(mems, queries, weights, beta, *, normalizer, n_iter, n_long, eps, cosine=False):
    """Baseline (Phi = id) and U-Hop+ at the paper's iteration count and after ``n_long``."""
    out = {}
    for name, w in (("baseline", None), ("uhop", weights)):
        s, mk, r = _shares_and_residual(
            mems, queries, w, beta, normalizer=normalizer, n_iter=n_iter, eps=eps, cosine=cosine
        )
        sl, mkl, rl = _shares_and_residual(
            mems, queries, w, beta, normalizer=normalizer, n_iter=n_long, eps=eps, cosine=cosine
        )
        out[name] = {
            "shares": s,
            "mean_k": mk,
            "max_residual": r,
            "shares_long": sl,
            "mean_k_long": mkl,
            "max_residual_long": rl,
        }
    return out


def _gain_check(res, claim, cite, source="paper"):
    b, u = res["baseline"]["shares"][1], res["uhop"]["shares"][1]
    return Check.holds(
        {
            "baseline_k1": float(b),
            "uhop_k1": float(u),
            "baseline_mean_k": res["baseline"]["mean_k"],
            "uhop_mean_k": res["uhop"]["mean_k"],
        },
        claim,
        bool(u > b),
        source=source,
        cite=cite,
    )


def _plan(quick: bool) -> dict:
    return {
        "synthetic": {
            "d": 5,
            "M": 10,
            "D_phi": 5,
            "queries_per_set": 10,
            "seeds": 20 if quick else 500,
            "normalizer": "entmax15",
            "beta": 1.0,
            "n_iter": 20,
            "eps": 0.0,
            "stage1": {"optimizer": "adam", "lr": 1.0, "steps": 20, "tau": 0.1},
        },
        "digits": {
            "D_phi": 200,
            "held_out": 300,
            "splits": 1 if quick else 5,
            "normalizer": "softmax",
            "beta": 0.1,
            "n_iter": 5,
            "eps": 0.01,
            "stage1": {"optimizer": "adam", "lr": 0.1, "epochs": 1, "batch_size": 16, "tau": 0.1},
        },
        "n_long": 200 if quick else 1000,
        "beta_sweep": [0.25, 0.5, 1.0, 2.0, 4.0, 8.0],
        "extra_cosine": {
            "d": 5,
            "M": 10,
            "noise": 0.3,
            "seeds": 3 if quick else 20,
            "queries_per_memory": 20 if quick else 50,
            "beta_syn": 20.0,
            "digits_M": 100,
            "digits_splits": 2 if quick else 5,
            "digits_queries": 300,
            "beta_digits": 40.0,
            "n_iter": 100,
            "stage1": {
                "optimizer": "adam",
                "lr": 1e-3,
                "steps": 200,
                "tau": 0.1,
                "init": "identity",
            },
        },
    }


def _synthetic(cfg, n_long):
    c = cfg
    k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
    mems = unit(jax.random.normal(k1, (c["seeds"], c["M"], c["d"])))
    queries = unit(jax.random.normal(k2, (c["seeds"], c["queries_per_set"], c["d"])))
    w0 = jax.vmap(lambda k: kaiming_weight(k, c["d"], c["D_phi"]))(jax.random.split(k3, c["seeds"]))
    s1 = c["stage1"]
    w, losses = _train(w0, mems, steps=s1["steps"], lr=s1["lr"], tau=s1["tau"])
    res = _compare(
        mems,
        queries,
        w,
        c["beta"],
        normalizer=c["normalizer"],
        n_iter=c["n_iter"],
        n_long=n_long,
        eps=c["eps"],
    )
    gain = _feature_gain(mems, w)
    sep0 = float(np.mean([min_separation(m) for m in mems]))
    sep1 = float(np.mean([min_separation(unit(m @ wi.T)) for m, wi in zip(mems, w)]))
    return mems, queries, w, losses, res, (sep0, sep1), gain


def _digits(cfg, n_long):
    c = cfg
    x, _ = digits_pm1()
    rng = np.random.default_rng(0)
    perms = [rng.permutation(len(x)) for _ in range(c["splits"])]
    n_mem = len(x) - c["held_out"]
    mems = jnp.asarray(np.stack([x[p[:n_mem]] for p in perms]))
    queries = jnp.asarray(np.stack([x[p[n_mem:]] for p in perms]))
    w0 = jax.vmap(lambda k: kaiming_weight(k, x.shape[1], c["D_phi"]))(
        jax.random.split(jax.random.key(3), c["splits"])
    )
    s1 = c["stage1"]
    steps = math.ceil(n_mem / s1["batch_size"]) * s1["epochs"]
    w, losses = _train(
        w0,
        mems,
        steps=steps,
        lr=s1["lr"],
        tau=s1["tau"],
        batch_size=s1["batch_size"],
        key=jax.random.key(4),
    )
    res = _compare(
        mems,
        queries,
        w,
        c["beta"],
        normalizer=c["normalizer"],
        n_iter=c["n_iter"],
        n_long=n_long,
        eps=c["eps"],
    )
    return res, losses, steps, n_mem, _feature_gain(mems, w)


def _feature_gain(mems, w):
    """Mean |W xi|^2 / |xi|^2 over memories and seeds: how much stage I scales the raw kernel."""
    f = jnp.einsum("smd,sed->sme", mems, w)
    return float(jnp.mean(jnp.sum(f**2, -1) / jnp.sum(mems**2, -1)))


def _extra_cosine(c):
    """The former (cosine-kernel, noisy-memory-query) variant, measured at the state reached."""
    k1, k2 = jax.random.split(jax.random.key(0))
    mems = unit(jax.random.normal(k1, (c["seeds"], c["M"], c["d"])))
    noise = (
        c["noise"]
        / np.sqrt(c["d"])
        * jax.random.normal(k2, (c["seeds"], c["M"] * c["queries_per_memory"], c["d"]))
    )
    queries = unit(jnp.repeat(mems, c["queries_per_memory"], axis=1) + noise)
    s1 = c["stage1"]
    eye = jnp.broadcast_to(jnp.eye(c["d"]), (c["seeds"], c["d"], c["d"]))
    w, _ = _train(eye, mems, steps=s1["steps"], lr=s1["lr"], tau=s1["tau"])
    syn = _compare(
        mems,
        queries,
        w,
        c["beta_syn"],
        normalizer="softmax",
        n_iter=c["n_iter"],
        n_long=c["n_iter"],
        eps=0.01,
        cosine=True,
    )
    x, _ = digits_unit()
    rng = np.random.default_rng(0)
    perms = [rng.permutation(len(x)) for _ in range(c["digits_splits"])]
    r_mems = jnp.asarray(np.stack([x[p[: c["digits_M"]]] for p in perms]))
    r_q = jnp.asarray(
        np.stack([x[p[c["digits_M"] : c["digits_M"] + c["digits_queries"]]] for p in perms])
    )
    eye = jnp.broadcast_to(jnp.eye(x.shape[1]), (c["digits_splits"], x.shape[1], x.shape[1]))
    wr, _ = _train(eye, r_mems, steps=s1["steps"], lr=s1["lr"], tau=s1["tau"])
    real = _compare(
        r_mems,
        r_q,
        wr,
        c["beta_digits"],
        normalizer="softmax",
        n_iter=c["n_iter"],
        n_long=c["n_iter"],
        eps=0.01,
        cosine=True,
    )
    return syn, real


def _beta_sweep(mems, queries, w, cfg, betas):
    sweep = {"baseline": [], "uhop": []}
    for b in betas:
        for name, wi in (("baseline", None), ("uhop", w)):
            s, _, _ = _shares_and_residual(
                mems,
                queries,
                wi,
                b,
                normalizer=cfg["normalizer"],
                n_iter=cfg["n_iter"],
                eps=cfg["eps"],
                cosine=False,
            )
            sweep[name].append(float(s[1]))
    return sweep


def _plot(out, plan, syn, dig, sweep, extra):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [str(k) for k in range(0, KMAX + 1)] + [f">{KMAX}"]
    pos = np.arange(KMAX + 2)
    fig, axes = plt.subplots(1, 4, figsize=(20, 4))
    s, d = plan["synthetic"], plan["digits"]
    panels = [
        (
            f"synthetic (paper): d={s['d']}, M={s['M']}, 1.5-entmax, beta={s['beta']:g}, "
            f"{s['n_iter']} it.",
            syn,
        ),
        (f"digits for MNIST: softmax, beta={d['beta']:g}, {d['n_iter']} it.", dig),
        (
            f"EXTRA cosine kernel, noisy-memory queries, beta={plan['extra_cosine']['beta_syn']:g}",
            extra[0],
        ),
    ]
    for ax, (title, res) in zip(axes[:3], panels):
        ax.bar(pos - 0.2, res["baseline"]["shares"], 0.4, label="modern Hopfield (Phi = id)")
        ax.bar(pos + 0.2, res["uhop"]["shares"], 0.4, label="U-Hop+")
        ax.set_xticks(pos, labels)
        ax.set_xlabel("k = support of p at the metastable state")
        ax.set_ylabel("share of queries")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=8)
    ax = axes[3]
    betas = plan["beta_sweep"]
    ax.plot(betas, sweep["baseline"], "C0--o", ms=3, label="Phi = id")
    ax.plot(betas, sweep["uhop"], "C0-o", ms=3, label="U-Hop+")
    ax.axvline(s["beta"], color="grey", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("beta (synthetic, 1.5-entmax)")
    ax.set_ylabel("share with k = 1")
    ax.set_title("k = 1 share against beta (paper: beta = 1, dotted)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out / "metastable.png")
    plt.close(fig)


def _json_res(res):
    return {
        m: {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in r.items()}
        for m, r in res.items()
    }


def run(out: Path, *, quick: bool) -> Outcome:
    plan = _plan(quick)
    n_long = plan["n_long"]
    mems, queries, w, loss_syn, syn, sep, gain_syn = _synthetic(plan["synthetic"], n_long)
    dig, loss_dig, dig_steps, n_mem, gain_dig = _digits(plan["digits"], n_long)
    sweep = _beta_sweep(mems, queries, w, plan["synthetic"], plan["beta_sweep"])
    extra = _extra_cosine(plan["extra_cosine"])
    _plot(out, plan, syn, dig, sweep, extra)

    def settled(res):
        return all(np.allclose(r["shares"], r["shares_long"], atol=0.02) for r in res.values())

    checks = {
        "synthetic_k1_share_gain": _gain_check(
            syn,
            "U-Hop+ raises the share of queries whose metastable state has k = 1 "
            "(synthetic, 1.5-entmax, beta = 1, 20 iterations)",
            SYN_CITE,
        ),
        "digits_k1_share_gain": _gain_check(
            dig,
            "U-Hop+ raises the share of k = 1 on real data (MNIST in the paper, softmax, "
            "beta = 0.1, 5 iterations)",
            MNIST_CITE,
        ),
        "synthetic_separation_raised": Check.holds(
            {"baseline": sep[0], "uhop": sep[1]},
            "stage I raises the minimal separation of the memories in feature space",
            bool(sep[1] > sep[0]),
            cite="Sec. 3 (U-Hop+ stage I maximises separation)",
        ),
        "extra_cosine_synthetic_k1_gain": _gain_check(
            extra[0],
            "EXTRA (our cosine-kernel variant): U-Hop+ raises the k = 1 share",
            "our variant: cosine kernel, noisy-memory queries, softmax beta = 20",
            "ours",
        ),
        "extra_cosine_digits_k1_gain": _gain_check(
            extra[1],
            "EXTRA (our cosine-kernel variant): U-Hop+ raises the k = 1 share",
            "our variant: cosine kernel, digits, softmax beta = 40",
            "ours",
        ),
    }
    checks["iteration_count_settled"] = Check.holds(
        {
            "synthetic": settled(syn),
            "digits": settled(dig),
            "max_residual_at_paper_count": {
                "synthetic": max(r["max_residual"] for r in syn.values()),
                "digits": max(r["max_residual"] for r in dig.values()),
            },
        },
        f"the k-shares at the paper's iteration count agree (+-0.02) with those after {n_long} "
        "iterations, i.e. the paper's count reaches the fixed point's support",
        settled(syn) and settled(dig),
        source="ours",
        cite="our check that the measured support is that of the fixed point",
    )

    s, d = plan["synthetic"], plan["digits"]
    protocol = {
        "source": f"{PAPER}, metastable-state experiment; {CODE} synthetic_metastable.py, "
        "MNIST_metastable.py, feature_map.py",
        "quantity": "support of p = Sep(beta <Phi(Xi), Phi(x)>) at the state reached by the "
        "CCCP retrieval from each query; share of queries with k = 0..10",
        "synthetic": "d = 5, M = 10 random unit memories, 10 random unit queries, D_Phi = 5, "
        "1.5-entmax, beta = 1, raw kernel <W x, W y>, 20 CCCP iterations, k = #(p > 0)"
        "; stage I: Adam lr 1, 20 full-batch steps, tau = 0.1, Kaiming-normal W",
        "mnist": "60000 MNIST training images ([-1, 1] pixels) as memories, the 10000 test images "
        "as queries, D_Phi = 200, softmax beta = 0.1, 5 CCCP iterations, k = #(p > 0.01)"
        "; stage I: one epoch of Adam lr 0.1, batches of 16, tau = 0.1",
        "criterion": "U-Hop+ (kernelized CCCP) has a larger share of k = 1 than the plain model",
    }
    deviations = [
        {
            "what": f"{s['seeds']} memory sets (seeds) of 10 memories x 10 queries, pooled",
            "why": "the authors' script draws one set (seed 42); more seeds for a stable share",
        },
        {
            "what": "scikit-learn digits (8x8, 1797 images; "
            f"{n_mem} memories, {d['held_out']} held-out queries per split, {d['splits']} "
            "splits) instead of MNIST (60000 / 10000)",
            "why": "no download at run time; digits ship with scikit-learn. Inner products of 64 "
            "pixels are ~12x smaller than of 784, so beta = 0.1 is softer here than on MNIST",
        },
        {
            "what": f"digits stage I: {dig_steps} Adam steps on random batches of 16 (one epoch's "
            "worth) rather than one pass over a shuffled loader",
            "why": "damjax's train_feature_map samples a batch per step",
        },
        {
            "what": "Phi(x) = W x without the bias of the authors' nn.Linear",
            "why": "the paper defines the linear feature map as W x",
        },
        {
            "what": "separation loss over the pairs mu < nu only",
            "why": "the paper's formula; the authors' code also adds exp(0) for the zeroed lower "
            "triangle and detaches one factor",
        },
    ]
    notes = (
        f"Support measured at the state reached after the paper's iteration count; the same "
        f"after {n_long} iterations is in config (shares_long). Stage-I loss first/last: synthetic "
        f"{float(loss_syn[:, 0].mean()):.3f} -> {float(loss_syn[:, -1].mean()):.3f}, digits "
        f"{float(loss_dig[:, 0].mean()):.3f} -> {float(loss_dig[:, -1].mean()):.3f}. The EXTRA "
        "checks use our earlier cosine-kernel variant, not the paper's setting. With the raw "
        "kernel, stage I also scales the features: mean |W xi|^2 / |xi|^2 after stage I = "
        f"{gain_syn:.3g} (synthetic), {gain_dig:.3g} (digits), which sharpens Sep as a larger "
        "beta would; shares include k = 0 (no entry above 0.01, softmax only)."
    )
    config = {
        "plan": plan,
        "k_labels": [str(k) for k in range(0, KMAX + 1)] + [f">{KMAX}"],
        "feature_gain": {"synthetic": gain_syn, "digits": gain_dig},
        "synthetic": _json_res(syn),
        "digits": _json_res(dig),
        "digits_stage1_steps": dig_steps,
        "beta_sweep": {"betas": plan["beta_sweep"], **sweep},
        "extra_cosine": {"synthetic": _json_res(extra[0]), "digits": _json_res(extra[1])},
        "separation": {"baseline": sep[0], "uhop": sep[1]},
    }
    return Outcome(
        checks=checks,
        config=config,
        figures=["metastable.png"],
        notes=notes,
        protocol=protocol,
        deviations=deviations,
    )


REPRODUCTION = Reproduction(
    name="hu2024-metastable",
    paper=PAPER,
    run=run,
    description="support of the metastable states reached by (kernelized) CCCP, with and "
    "without U-Hop+",
)
