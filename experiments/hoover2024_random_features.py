"""Hoover et al. 2024 (DrDAM): how well random features approximate the log-sum-exp DAM.

Protocol of the paper's Fig. 3 (authors' exp_QUANT1b_opt_retrieval.py, evaluated by
eval_QUANT1b_no_retrieval+bounds.py and eval_QUANT1b_retrieval.py): K = 500 distinct random binary
memories in {0, 1/sqrt(D)}^D, D in {30, 100, 500}, beta in {10, 30, 40, 50}, SinCos features with
Y random projections (Y from 5e3 to 5e5), queries at the 500 memories, near them (10% of the bits
flipped, one per memory) and at 500 random binary points. For each configuration (D, beta, kind of
query) we measure the mean absolute error (MAE) of the energy and of the gradient (per component)
of :class:`damjax.RandomFeatureDAM` against the exact :class:`damjax.ExpDAM`, and check

* the slope of log MAE against log Y (the paper's 1/sqrt(Y) bound) PER CONFIGURATION,
* the ordering memory < near memory < random of the MAE curves per (D, beta),
* the growth of the error with beta,
* fixed points: normalised Hamming distance between the binarised end points of gradient-descent
  retrieval (x <- x - 0.03 grad E, 1000 steps) with the exact and with the approximate energy,
  which must shrink as Y grows,

plus the paper's error-vs-K experiment (exp_QUANT1c.py: K from 50 to 1000 at fixed Y) and its
kernel / feature-map comparison (exp_QUANT2__kernel_ablations.py: Cos with random phase, SinCos,
positive exponential features). Where a kernel-sum estimate drops below the floor (1e-5) the energy
is floored and its gradient is zero; those queries stay in the MAE, as in the paper.
"""

from __future__ import annotations

import math
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from damjax import (
    Cos,
    ExpDAM,
    GradientDescent,
    Orthogonal,
    PositiveExp,
    RandomFeatureDAM,
    SinCos,
    retrieve,
)
from damjax.reproduce import Check, Outcome, Reproduction, save_figure

KINDS = ("memory", "near", "random")
PAPER = "Hoover et al. 2024, Dense Associative Memory Through the Lens of Random Features (NeurIPS)"
CODE = "github bhoov/distributed_DAM"
FIG3 = f"Fig. 3 (error vs Y with the b/sqrt(Y) bound); {CODE} exp_QUANT1b_opt_retrieval.py"
SLOPE_TOL = 0.15
FEATURES = {
    "SinCos": SinCos(),
    "Cos": Cos(),
    "PositiveExp": PositiveExp(),
    "Orthogonal(SinCos)": Orthogonal(),
}


# --- data ------------------------------------------------------------------------------------


def binary_data(key, n, dim):
    """``n`` distinct random points of {0, 1/sqrt(D)}^D (the paper's binary data)."""
    x = np.asarray(jax.random.bernoulli(key, 0.5, (4 * n + 16, dim)), np.float32)
    _, first = np.unique(x, axis=0, return_index=True)
    x = x[np.sort(first)][:n]
    if len(x) < n:
        raise ValueError(f"cannot draw {n} distinct binary points in D = {dim}")
    return jnp.asarray(x) / math.sqrt(dim)


def flip_bits(key, x, frac):
    """Flip ``int(frac * D)`` bits (0 <-> 1/sqrt(D)) of every row, at random positions."""
    n, dim = x.shape
    nflip = int(frac * dim)
    scores = jax.random.uniform(key, (n, dim))
    ranks = jnp.argsort(jnp.argsort(scores, axis=1), axis=1)
    return jnp.where(ranks < nflip, 1.0 / math.sqrt(dim) - x, x)


def binarise(x, dim):
    return np.asarray(x) > 0.5 / math.sqrt(dim)


@eqx.filter_jit
def energy_and_grad(model, x):
    return jax.vmap(jax.value_and_grad(model.energy))(x)


def _slope(ys, errs):
    errs = np.asarray(errs, float)
    ok = errs > 0
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(np.asarray(ys, float)[ok]), np.log(errs[ok]), 1)[0])


def _queries(root, D, K, nq, flip):
    kx, kn, kr = jax.random.split(jax.random.fold_in(root, D), 3)
    X = binary_data(kx, K, D)
    return X, {"memory": X, "near": flip_bits(kn, X, flip), "random": binary_data(kr, nq, D)}


# --- plan ------------------------------------------------------------------------------------


def _plan(quick: bool) -> dict:
    if quick:
        return (
            dict(
                dims=[30],
                K=500,
                queries=100,
                betas=[10.0, 30.0, 40.0, 50.0],
                Ys=[2000, 4000, 8000],
                fp=dict(dims=[30], betas=[30.0], Ys=[1000, 8000], cues=16, steps=100),
                vs_K=dict(dims=[30], betas=[30.0], Y=4000, Ks=[50, 200, 1000]),
                kernels=dict(D=30, betas=[1.0, 30.0], Ys=[2000, 4000], K=200, queries=100),
            )
            | _common()
        )
    return (
        dict(
            dims=[30, 100, 500],
            K=500,
            queries=500,
            betas=[10.0, 30.0, 40.0, 50.0],
            Ys=[5000, 10000, 20000, 40000, 80000],
            fp=dict(dims=[30, 100], betas=[30.0, 50.0], Ys=[5000, 20000], cues=32, steps=1000),
            vs_K=dict(
                dims=[30, 100], betas=[10.0, 30.0, 50.0], Y=40000, Ks=[50, 100, 200, 400, 650, 1000]
            ),
            kernels=dict(
                D=100, betas=[1.0, 10.0, 30.0, 60.0], Ys=[10000, 40000], K=500, queries=400
            ),
        )
        | _common()
    )


def _common() -> dict:
    return dict(flip_fraction=0.1, features="SinCos", floor=1e-5, seed=0, step_size=0.03)


# --- compute ---------------------------------------------------------------------------------


def _errors(plan, root):
    """MAE (and its standard error over queries) of energy and gradient, per configuration."""
    mae, sem, logz = {}, {}, {}
    for D in plan["dims"]:
        X, queries = _queries(root, D, plan["K"], plan["queries"], plan["flip_fraction"])
        for beta in plan["betas"]:
            exact = ExpDAM(X, beta)
            ref = {k: energy_and_grad(exact, q) for k, q in queries.items()}
            for k, q in queries.items():
                logz[(D, beta, k)] = float(jnp.mean(jax.vmap(exact.log_kernel_sum)(q)))
            for yi, Y in enumerate(plan["Ys"]):
                key = jax.random.fold_in(jax.random.fold_in(root, 1000 + D), yi)
                model = RandomFeatureDAM(X, beta, num_features=Y, key=key, floor=plan["floor"])
                for kind, q in queries.items():
                    e, g = energy_and_grad(model, q)
                    e0, g0 = ref[kind]
                    for name, err in (("E", jnp.abs(e - e0)), ("grad", jnp.abs(g - g0))):
                        per_q = np.asarray(err.reshape(err.shape[0], -1).mean(axis=1))
                        mae.setdefault((D, beta, kind, name), []).append(float(per_q.mean()))
                        sem.setdefault((D, beta, kind, name), []).append(
                            float(per_q.std() / math.sqrt(len(per_q)))
                        )
    return mae, sem, logz


def _fixed_points(plan, root):
    c = plan["fp"]
    rule = GradientDescent(plan["step_size"], tol=0.0)
    fp = {}
    for D in c["dims"]:
        X, _ = _queries(root, D, plan["K"], plan["queries"], plan["flip_fraction"])
        cues = flip_bits(jax.random.fold_in(root, 77 + D), X[: c["cues"]], plan["flip_fraction"])
        for beta in c["betas"]:
            b_exact = binarise(
                retrieve(ExpDAM(X, beta), cues, rule=rule, max_steps=c["steps"]).states, D
            )
            for yi, Y in enumerate(c["Ys"]):
                key = jax.random.fold_in(jax.random.fold_in(root, 2000 + D), yi)
                model = RandomFeatureDAM(X, beta, num_features=Y, key=key, floor=plan["floor"])
                x_rf = retrieve(model, cues, rule=rule, max_steps=c["steps"]).states
                fp.setdefault((D, beta), []).append(float(np.mean(binarise(x_rf, D) != b_exact)))
    return fp


def _errors_vs_K(plan, root):
    c = plan["vs_K"]
    out = {}
    for D in c["dims"]:
        key = jax.random.fold_in(root, 3000 + D)
        kx, kn, kr, kf = jax.random.split(key, 4)
        X_all = binary_data(kx, max(c["Ks"]), D)
        rand = binary_data(kr, min(c["Ks"]), D)
        for beta in c["betas"]:
            for K in c["Ks"]:
                X = X_all[:K]
                queries = {
                    "memory": X,
                    "near": flip_bits(kn, X, plan["flip_fraction"]),
                    "random": rand,
                }
                exact = ExpDAM(X, beta)
                model = RandomFeatureDAM(X, beta, num_features=c["Y"], key=kf, floor=plan["floor"])
                for kind, q in queries.items():
                    e, g = energy_and_grad(model, q)
                    e0, g0 = energy_and_grad(exact, q)
                    out.setdefault((D, beta, kind, "E"), []).append(
                        float(jnp.mean(jnp.abs(e - e0)))
                    )
                    out.setdefault((D, beta, kind, "grad"), []).append(
                        float(jnp.mean(jnp.abs(g - g0)))
                    )
    return out


def _kernel_comparison(plan, root):
    c = plan["kernels"]
    D = c["D"]
    kx, kq, kf = jax.random.split(jax.random.fold_in(root, 4000), 3)
    pts = binary_data(kx, c["K"] + c["queries"], D)
    X, Q = pts[: c["K"]], pts[c["K"] :]
    out = {}
    for beta in c["betas"]:
        exact = ExpDAM(X, beta)
        ref = {"memory": energy_and_grad(exact, X), "query": energy_and_grad(exact, Q)}
        for name, fmap in FEATURES.items():
            for Y in c["Ys"]:
                model = RandomFeatureDAM(
                    X, beta, num_features=Y, key=kf, features=fmap, floor=plan["floor"]
                )
                for kind, q in (("memory", X), ("query", Q)):
                    e, g = energy_and_grad(model, q)
                    e0, g0 = ref[kind]
                    out.setdefault((beta, name, kind, "E"), []).append(
                        float(jnp.mean(jnp.abs(e - e0)))
                    )
                    out.setdefault((beta, name, kind, "grad"), []).append(
                        float(jnp.mean(jnp.abs(g - g0)))
                    )
    return out


# --- checks ----------------------------------------------------------------------------------


def _geo(v):
    v = np.asarray(v, float)
    return float(np.exp(np.mean(np.log(np.maximum(v, 1e-30)))))


def _checks(plan, mae, logz, fp, vs_k, kern):
    checks = {}
    Ys = plan["Ys"]
    for (D, b, kind, q), v in sorted(mae.items()):
        checks[f"slope_{q}_D{D}_beta{b:g}_{kind}"] = Check.close(
            _slope(Ys, v), -0.5, SLOPE_TOL, cite=FIG3
        )
    for D in plan["dims"]:
        for b in plan["betas"]:
            curves = {q: [_geo(mae[(D, b, k, q)]) for k in KINDS] for q in ("E", "grad")}
            ok = all(c[0] < c[1] < c[2] for c in curves.values())
            checks[f"ordering_D{D}_beta{b:g}"] = Check.holds(
                {
                    "MAE (geo. mean over Y) memory/near/random": curves,
                    "log kernel sum memory/near/random": [logz[(D, b, k)] for k in KINDS],
                },
                "error at memories < near memories < random queries (energy and gradient)",
                ok,
                cite=FIG3,
            )
        growth = {
            f"{k},{q}": [_geo(mae[(D, b, k, q)]) for b in plan["betas"]]
            for k in KINDS
            for q in ("E", "grad")
        }
        checks[f"error_grows_with_beta_D{D}"] = Check.holds(
            growth,
            "error at the largest beta exceeds that at the smallest (every kind of "
            "query, energy and gradient)",
            all(v[-1] > v[0] for v in growth.values()),
            cite=FIG3,
        )
    for (D, b), v in fp.items():
        checks[f"fixed_points_improve_with_Y_D{D}_beta{b:g}"] = Check.holds(
            {"Y": plan["fp"]["Ys"], "hamming": v},
            "normalised Hamming distance between exact and DrDAM fixed points shrinks as Y grows",
            v[-1] < v[0] or v[-1] == 0.0,
            cite=f"retrieval panel of Fig. 3; {CODE} eval_QUANT1b_retrieval.py",
        )
    for (D, b, kind, q), v in vs_k.items():
        if kind != "memory":
            continue
        checks[f"error_grows_with_K_D{D}_beta{b:g}_{q}"] = Check.holds(
            {"K": plan["vs_K"]["Ks"], "MAE": v},
            "at fixed Y the error at memories grows with the number of stored memories K",
            v[-1] > v[0],
            source="theory",
            cite="variance of the random-feature estimate of a K-term kernel sum grows with K; "
            f"experiment of {CODE} exp_QUANT1c.py",
        )
    for b in plan["kernels"]["betas"]:
        g = {
            n: _geo(kern[(b, n, "memory", "grad")] + kern[(b, n, "query", "grad")])
            for n in FEATURES
        }
        best = min(("SinCos", "Cos", "PositiveExp"), key=lambda n: g[n])
        checks[f"sincos_best_basis_beta{b:g}"] = Check.holds(
            g,
            "SinCos (the paper's default basis) has the lowest gradient error of the i.i.d. "
            "bases SinCos, Cos, PositiveExp",
            best == "SinCos",
            source="ours",
            cite=f"kernel ablation, {CODE} exp_QUANT2__kernel_ablations.py (which the paper "
            "uses to choose SinCos)",
        )
    return checks


# --- figures ---------------------------------------------------------------------------------


def _plot(out, plan, mae, fp, vs_k, kern):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"memory": "tab:green", "near": "tab:orange", "random": "tab:red"}
    styles = dict(zip(plan["betas"], ["-", "--", "-.", ":"]))
    Ys = plan["Ys"]
    nd = len(plan["dims"])
    fig, axes = plt.subplots(2, nd, figsize=(5.5 * nd, 8), squeeze=False)
    for j, D in enumerate(plan["dims"]):
        for i, q in enumerate(("E", "grad")):
            ax = axes[i, j]
            for kind in KINDS:
                for b in plan["betas"]:
                    ax.loglog(
                        Ys,
                        mae[(D, b, kind, q)],
                        styles[b],
                        marker="o",
                        ms=3,
                        color=colors[kind],
                        label=rf"{kind}, $\beta$={b:g}",
                    )
            ref = np.asarray(Ys, float) ** -0.5
            y0 = mae[(D, plan["betas"][0], "memory", q)][0]
            ax.loglog(Ys, y0 * ref / ref[0], color="gray", lw=0.8, label="Y^-1/2")
            ax.set_xlabel("Y (random projections)")
            ax.set_ylabel("MAE of " + ("energy" if q == "E" else "gradient"))
            ax.set_title(f"D = {D}, K = {plan['K']}")
    axes[0, 0].legend(fontsize=6, ncol=2)
    fig.tight_layout()
    save_figure(fig, out / "mae_vs_Y.png")
    plt.close(fig)

    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(16, 4))
    for (D, b), v in fp.items():
        a1.semilogx(plan["fp"]["Ys"], v, marker="o", label=f"D={D}, beta={b:g}")
    a1.set_xlabel("Y")
    a1.set_ylabel("normalised Hamming distance")
    a1.set_title("exact vs DrDAM fixed points (near-memory cues)")
    a1.legend(fontsize=8)
    for (D, b, kind, q), v in vs_k.items():
        if q == "grad":
            a2.loglog(
                plan["vs_K"]["Ks"],
                v,
                marker="o",
                color=colors[kind],
                ls=styles.get(b, "-"),
                label=f"D={D}, beta={b:g}, {kind}",
            )
    a2.set_xlabel("K (memories stored)")
    a2.set_ylabel("MAE of gradient")
    a2.set_title(f"error vs K at Y = {plan['vs_K']['Y']}")
    a2.legend(fontsize=6, ncol=2)
    for n, c in zip(FEATURES, ("C0", "C1", "C2", "C3")):
        for b, ls in zip(plan["kernels"]["betas"], ("-", "--", "-.", ":")):
            a3.loglog(
                plan["kernels"]["Ys"],
                kern[(b, n, "query", "grad")],
                ls,
                color=c,
                marker="o",
                ms=3,
                label=f"{n}, beta={b:g}",
            )
    a3.set_xlabel("Y")
    a3.set_ylabel("MAE of gradient (queries)")
    a3.set_title(f"feature maps, D = {plan['kernels']['D']}")
    a3.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    save_figure(fig, out / "fixed_points_K_kernels.png")
    plt.close(fig)
    return ["mae_vs_Y.png", "fixed_points_K_kernels.png"]


# --- run -------------------------------------------------------------------------------------


def _key(t):
    return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in t)


def run(out: Path, *, quick: bool) -> Outcome:
    plan = _plan(quick)
    root = jax.random.key(plan["seed"])
    mae, sem, logz = _errors(plan, root)
    fp = _fixed_points(plan, root)
    vs_k = _errors_vs_K(plan, root)
    kern = _kernel_comparison(plan, root)
    checks = _checks(plan, mae, logz, fp, vs_k, kern)
    figures = _plot(out, plan, mae, fp, vs_k, kern)

    protocol = {
        "source": f"{PAPER}, Sec. 4, Fig. 3 and the kernel ablation; {CODE} "
        "exp_QUANT1b_opt_retrieval.py, exp_QUANT1c.py, exp_QUANT2__kernel_ablations.py",
        "data": "K = 500 distinct random binary memories in {0, 1/sqrt(D)}^D; queries: the 500 "
        "memories, one near-memory query per memory (int(0.1 D) bits flipped), 500 "
        "distinct random binary points",
        "sizes": "D in {30, 100, 500}, beta in {10, 30, 40, 50}, Y in {5e3, 4e4, 8e4, 1.2e5, "
        "1.6e5, 2e5, 3e5, 4e5, 5e5}; SinCos features",
        "criterion": "MAE of energy and gradient vs Y against the b/sqrt(Y) bound; retrieval: "
        "x <- x - 0.03 grad E for 1000 steps, binarised, normalised Hamming "
        "distance to the exact model's end point",
        "error_vs_K": "exp_QUANT1c.py: Y = 2e5, K in {50, 100, 200, 400, 650, 1000}, D in "
        "{30, 100, 1000}, beta in {10, 30, 40, 50}, 50 random queries",
        "kernels": "exp_QUANT2__kernel_ablations.py: Cos (random phase), SinCos, Exp, ExpExp; "
        "beta in {1, 10, 30, 60}; Y 4e4-8e5; 500 memories and 400 queries of the "
        "'letter' data",
    }
    deviations = [
        {
            "what": f"Y in {plan['Ys']} (paper: 5e3 to 5e5)",
            "why": "time: the paper's Y grid at D = 500 with 1500 queries and 4 betas takes hours "
            "on 2 cores; the slope is measured over the range we can afford",
        },
        {
            "what": f"retrieval only for D in {plan['fp']['dims']}, beta in {plan['fp']['betas']}, "
            f"Y in {plan['fp']['Ys']}, {plan['fp']['cues']} near-memory cues, "
            f"{plan['fp']['steps']} steps of 0.03",
            "why": "1000 gradient steps per configuration cost 1000 energy+gradient evaluations",
        },
        {
            "what": f"error vs K at Y = {plan['vs_K']['Y']}, D in {plan['vs_K']['dims']}, "
            f"beta in {plan['vs_K']['betas']}",
            "why": "time (paper: Y = 2e5, D up to 1000)",
        },
        {
            "what": f"feature maps compared on random binary data (D = {plan['kernels']['D']}), "
            f"Y in {plan['kernels']['Ys']}; our PositiveExp stands for the paper's Exp, "
            "no ExpExp; Orthogonal(SinCos) added",
            "why": "no download (the 'letter' data set); damjax has no ExpExp map; time",
        },
        {
            "what": "slope tolerance +-0.15 on each configuration (ours)",
            "why": "the paper draws the b/sqrt(Y) bound, it states no tolerance",
        },
    ]
    if quick:
        deviations.append(
            {
                "what": "quick mode: D = 30 only, 100 random queries, Y up to 8e3, "
                "100 retrieval steps, smaller error-vs-K and feature-map runs",
                "why": "test-suite time",
            }
        )
    config = {k: v for k, v in plan.items()}
    config["mae"] = {_key(k): v for k, v in mae.items()}
    config["mae_sem"] = {_key(k): v for k, v in sem.items()}
    config["slopes"] = {_key(k): _slope(plan["Ys"], v) for k, v in mae.items()}
    config["log_kernel_sum"] = {_key(k): v for k, v in logz.items()}
    config["fixed_points"] = {_key(k): v for k, v in fp.items()}
    config["error_vs_K"] = {_key(k): v for k, v in vs_k.items()}
    config["kernel_comparison"] = {_key(k): v for k, v in kern.items()}
    n_slope = sum(1 for k in checks if k.startswith("slope_"))
    n_ok = sum(1 for k, c in checks.items() if k.startswith("slope_") and c.passed)
    notes = (
        f"{n_ok} of {n_slope} per-configuration slopes within +-{SLOPE_TOL} of -1/2 (every "
        "configuration is a check; none is filtered). Random and near queries at large beta have "
        "tiny exact kernel sums, so their curves stay pre-asymptotic over our Y range (see "
        "log_kernel_sum). One key per (D, Y), shared across beta, as in the authors' code."
    )
    return Outcome(
        checks=checks,
        config=config,
        figures=figures,
        notes=notes,
        protocol=protocol,
        deviations=deviations,
    )


REPRODUCTION = Reproduction(
    name="hoover2024-random-features",
    paper=PAPER,
    run=run,
    description="DrDAM vs exact DAM: energy/gradient error against Y and K, fixed points, bases",
)
