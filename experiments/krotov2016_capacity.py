r"""Krotov & Hopfield 2016, capacity experiments (Appendix B and Sec. 2), through damjax.sweep.

1. Appendix B: N = 100 neurons, K = 2000 random memories, many random starts, asynchronous
   dynamics to convergence; histogram of :math:`\max_\mu |\xi^\mu\cdot\sigma|` for n = 2..5,
   power and rectified polynomial F. Small n: broad histograms (spurious states); from n ~ 4-5
   on, the starts land on memories.
2. K_1/2 against N for n = 3 (power and rectified): the K at which half of the memories are
   retrieved by the dynamics started at them, against the Gaussian signal-to-noise theory of the
   paper (:func:`damjax.capacity.krotov_k_half`) and the N^(n-1) scaling.
3. Capacity with no errors allowed (every memory a fixed point) against N for n = 2, 3, 4: fitted
   exponent of K_max ln N against n - 1, and K_max against N^(n-1) / (2 (2n-3)!! ln N).
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from damjax import Async, BinaryDAM, Polynomial, RectifiedPolynomial, Sync, sweep
from damjax.capacity import k_half, krotov_k_all_stable, krotov_k_half, krotov_kmax_no_errors
from damjax.patterns import random_binary
from damjax.reproduce import Check, Outcome, Reproduction, save_figure

NBINS = 20


def _F(name, n):
    return Polynomial(n) if name == "poly" else RectifiedPolynomial(n)


@sweep.experiment(
    name="krotov2016-random-starts",
    params={"N": None, "K": None, "F": "poly", "n": 2, "starts": 100, "max_steps": 50},
    types={"N": int, "K": int},
    register=False,
)
def random_starts(config, key):
    """Async dynamics from ``starts`` random states; histogram of max_mu |xi . s| / N."""
    kx, ks, kr = jax.random.split(key, 3)
    N = config["N"]
    X = random_binary(kx, config["K"], N)
    S = random_binary(ks, config["starts"], N)
    model = BinaryDAM(X, _F(config["F"], config["n"]))
    rule = Async(order="random")
    res = jax.vmap(
        lambda s, k: rule.run(model, s, key=k, max_steps=config["max_steps"], record_energy=False)
    )(S, jax.random.split(kr, config["starts"]))
    top = jnp.max(jnp.abs(res.states @ X.T), axis=-1) / N  # in [0, 1]
    edges = jnp.linspace(0.0, 1.0, NBINS + 1)
    idx = jnp.clip(jnp.searchsorted(edges, top, side="right") - 1, 0, NBINS - 1)
    hist = jnp.zeros(NBINS).at[idx].add(1.0) / config["starts"]
    out = {f"h{i:02d}": hist[i] for i in range(NBINS)}
    out["memory_rate"] = jnp.mean(top == 1.0)
    out["mean_top"] = jnp.mean(top)
    out["converged_rate"] = jnp.mean(res.converged)
    return out


@sweep.experiment(
    name="krotov2016-k-half",
    params={"N": None, "k_pool": None, "F": "poly", "n": 3},
    types={"N": int, "k_pool": int},
    register=False,
)
def k_half_point(config, key):
    """K_1/2 with cues = the memories (rho = 0), synchronous dynamics to convergence."""
    kx, ks = jax.random.split(key)
    X = random_binary(kx, config["k_pool"], config["N"])
    k = k_half(X[None], _F(config["F"], config["n"]), key=ks, rho=0.0, rule=Sync(), max_steps=30)
    return {"k_half": k[0]}


def _fit_slope(x, y):
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def _sizes(quick: bool) -> dict:
    if quick:
        return {
            "hist": {"N": 50, "K": 400, "n": [2, 5], "F": ["poly"], "starts": 64, "seeds": 2},
            "khalf": {"N": [24, 40, 64], "F": ["poly"], "seeds": 4},
            "noerr": {2: [50, 100, 200], 3: [20, 32, 50]},
            "noerr_seeds": 6,
        }
    return {
        "hist": {
            "N": 100,
            "K": 2000,
            "n": [2, 3, 4, 5],
            "F": ["poly", "rect"],
            "starts": 250,
            "seeds": 8,
        },
        "khalf": {"N": [30, 45, 70, 100], "F": ["poly", "rect"], "seeds": 8},
        "noerr": {2: [50, 100, 200, 400, 800], 3: [20, 30, 45, 70, 100], 4: [12, 16, 22, 30, 40]},
        "noerr_seeds": 16,
    }


def run(out: Path, *, quick: bool) -> Outcome:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    sz = _sizes(quick)
    stores = out / "sweeps" / ("quick" if quick else "full")
    checks: dict[str, Check] = {}
    notes = []

    # ---------------------------------------------------------------- 1. Appendix B histograms
    h = sz["hist"]
    grid = sweep.Grid(
        {"F": h["F"], "n": h["n"]},
        fixed={"N": h["N"], "K": h["K"], "starts": h["starts"]},
        seeds=h["seeds"],
    )
    df = sweep.run(grid, random_starts, stores / "hist", progress=False, batch_size=4).frame()
    agg = df.groupby(["F", "n"]).mean(numeric_only=True)
    fig, axes = plt.subplots(
        len(h["F"]),
        len(h["n"]),
        figsize=(3 * len(h["n"]), 2.6 * len(h["F"])),
        squeeze=False,
        sharex=True,
    )
    centers = (np.arange(NBINS) + 0.5) / NBINS * h["N"]
    for i, F in enumerate(h["F"]):
        for j, n in enumerate(h["n"]):
            row = agg.loc[(F, n)]
            ax = axes[i, j]
            ax.bar(centers, [row[f"h{b:02d}"] for b in range(NBINS)], width=h["N"] / NBINS * 0.9)
            ax.set_title(
                f"{'power' if F == 'poly' else 'rectified'}, n = {n}\n"
                f"on a memory: {row['memory_rate']:.2f}",
                fontsize=9,
            )
            ax.set_xlabel(r"$\max_\mu |\xi^\mu\cdot\sigma|$")
    axes[0, 0].set_ylabel("fraction of starts")
    fig.suptitle(f"Random starts, async dynamics: N = {h['N']}, K = {h['K']}")
    fig.tight_layout()
    save_figure(fig, out / "krotov2016_overlap_histograms.png")
    plt.close(fig)
    rates = {f"{F}-n{n}": float(agg.loc[(F, n), "memory_rate"]) for F in h["F"] for n in h["n"]}
    lo, hi = min(h["n"]), max(h["n"])
    checks["n2_starts_mostly_spurious"] = Check.at_most(rates[f"poly-n{lo}"], 0.1)
    checks[f"n{hi}_starts_land_on_memories"] = Check.at_least(rates[f"poly-n{hi}"], 0.9)
    if "rect" in h["F"]:
        checks[f"n{hi}_rectified_starts_land_on_memories"] = Check.at_least(
            rates[f"rect-n{hi}"], 0.9
        )
        ordered = all(
            rates[f"{F}-n{a}"] <= rates[f"{F}-n{b}"] + 0.05
            for F in h["F"]
            for a, b in zip(h["n"], h["n"][1:])
        )
        checks["memory_rate_grows_with_n"] = Check.holds(
            rates, "share of starts ending on a memory grows with n", ordered
        )

    # ---------------------------------------------------------------- 2. K_1/2 against N, n = 3
    kh = sz["khalf"]
    grid = None
    for N in kh["N"]:
        pool = int(2.5 * krotov_k_half(N, 3)) + 10
        g = sweep.Grid({"F": kh["F"]}, fixed={"N": N, "k_pool": pool, "n": 3}, seeds=kh["seeds"])
        grid = g if grid is None else grid + g
    df = sweep.run(grid, k_half_point, stores / "khalf", progress=False, batch_size=2).frame()
    kagg = df.groupby(["F", "N"])["k_half"].agg(["mean", "std"])
    Ns = np.array(kh["N"], float)
    theory = krotov_k_half(Ns, 3)
    fig, ax = plt.subplots(figsize=(5, 4))
    for F in kh["F"]:
        m = kagg.loc[F]
        ax.errorbar(
            m.index,
            m["mean"],
            m["std"],
            marker="o",
            capsize=3,
            label=f"measured, {'power' if F == 'poly' else 'rectified'}",
        )
    ax.plot(Ns, theory, "k--", label="theory (Gaussian SNR, half stable)")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="N",
        ylabel=r"$K_{1/2}$",
        title=r"$K_{1/2}$ against N, n = 3",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out / "krotov2016_k_half.png")
    plt.close(fig)
    meas = kagg.loc["poly"]["mean"].to_numpy()
    slope = _fit_slope(Ns, meas)
    # the theory's local exponent over the same N (-> n - 1 = 2 only as N -> infinity)
    checks["k_half_exponent_n3"] = Check.close(slope, _fit_slope(Ns, theory), 0.2)
    notes.append(
        f"K_1/2 (n = 3) fitted exponent {slope:.2f}; theory over the same N "
        f"{_fit_slope(Ns, theory):.2f}, asymptotically n - 1 = 2."
    )
    ratio = float(meas[-1] / theory[-1])
    checks["k_half_vs_theory_largest_N"] = Check.close(ratio, 1.0, 0.3)
    if "rect" in kh["F"]:
        rect = kagg.loc["rect"]["mean"].to_numpy()
        notes.append(
            f"Rectified / power K_1/2 at the largest N: {rect[-1] / meas[-1]:.2f} (the paper "
            "reports 'slightly above' for its random-start K_1/2; with cues at the memories "
            "the rectified F, which ignores negative overlaps, has about half the noise)."
        )
        checks["rectified_k_half_at_least_power"] = Check.holds(
            {"rect": rect.tolist(), "power": meas.tolist()},
            "rectified K_1/2 slightly above power",
            bool(np.all(rect >= 0.95 * meas)),
        )

    # ---------------------------------------------------------------- 3. no-error capacity
    grid = None
    for n, Nlist in sz["noerr"].items():
        for N in Nlist:
            pool = int(3.0 * krotov_kmax_no_errors(N, n)) + 12
            g = sweep.Grid(
                {"N": [N]},
                fixed={"k_pool": pool, "n": n, "F": "poly", "criterion": "stable"},
                seeds=sz["noerr_seeds"],
            )
            grid = g if grid is None else grid + g
    df = sweep.run(grid, "capacity", stores / "noerr", progress=False, batch_size=16).frame()
    cagg = df.groupby(["n", "N"])["capacity"].agg(["mean", "std", "max"])
    fig, ax = plt.subplots(figsize=(5, 4))
    fits = {}
    for n, Nlist in sz["noerr"].items():
        m = cagg.loc[n]
        Nn = np.array(Nlist, float)
        line = ax.errorbar(
            m.index, m["mean"], m["std"], marker="o", capsize=3, ls="none", label=f"n = {n}"
        )
        ax.plot(Nn, krotov_kmax_no_errors(Nn, n), "--", color=line[0].get_color())
        ax.plot(Nn, [krotov_k_all_stable(N, n) for N in Nlist], ":", color=line[0].get_color())
        fits[n] = _fit_slope(Nn, m["mean"].to_numpy() * np.log(Nn))
        pool_hit = m["max"].to_numpy() >= np.array(
            [int(3.0 * krotov_kmax_no_errors(N, n)) + 12 for N in Nlist]
        )
        if pool_hit.any():
            notes.append(f"n = {n}: some seeds reached the pool size (capacity underestimated)")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="N",
        ylabel=r"$K_\max$ (no errors)",
        title="no-error capacity; dashed: $N^{n-1}/(2(2n-3)!!\\ln N)$,\n"
        "dotted: finite-N Gaussian theory",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out / "krotov2016_no_error_scaling.png")
    plt.close(fig)
    for n, Nlist in sz["noerr"].items():
        Nn = np.array(Nlist, float)
        meas_n = cagg.loc[n]["mean"].to_numpy()
        finite = np.array([krotov_k_all_stable(N, n) for N in Nlist])
        checks[f"no_error_exponent_n{n}"] = Check.close(
            _fit_slope(Nn, meas_n), _fit_slope(Nn, finite), 0.2
        )
        checks[f"no_error_vs_theory_n{n}_largest_N"] = Check.close(
            float(meas_n[-1] / finite[-1]), 1.0, 0.3
        )
        if not quick:  # the paper's asymptotic claim; finite N bends the fit below n - 1
            checks[f"no_error_exponent_vs_n_minus_1_n{n}"] = Check.close(fits[n], n - 1, 0.3)
        notes.append(
            f"No-error capacity n = {n}: exponent of K_max ln N = {fits[n]:.2f} (n - 1 = {n - 1})."
        )
    notes.append(
        "Histogram: max over memories of |overlap| (negated memories count as memories). "
        "K_1/2 here: cues are the memories themselves (rho = 0) under synchronous dynamics; the "
        "paper's companion plot uses random starts. No-error capacity exponent fitted on "
        "K_max * ln N to remove the log factor."
    )
    return Outcome(
        checks=checks,
        config={"quick": quick, **{k: v for k, v in sz.items()}},
        figures=[
            "krotov2016_overlap_histograms.png",
            "krotov2016_k_half.png",
            "krotov2016_no_error_scaling.png",
        ],
        notes=" ".join(notes),
    )


REPRODUCTION = Reproduction(
    name="krotov2016-capacity",
    paper="Krotov & Hopfield 2016, Dense Associative Memory for Pattern Recognition (NeurIPS), "
    "Sec. 2 capacity and Appendix B",
    run=run,
    description="Random-start overlap histograms (N=100, K=2000, n=2..5), K_1/2 vs N for n=3, "
    "no-error capacity scaling for n=2,3,4.",
)
