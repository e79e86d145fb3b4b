"""Krotov & Hopfield 2016: the DAM classifier, its test error against n, and the
feature-to-prototype transition of its memories.

On scikit-learn's 8x8 digits (always) and on MNIST (when the files are found through
``DAMJAX_MNIST_DIR``): test error for n = 2, 3 and a large n; the share of memories voting for a
single class and the effective number of memories per decision against n; memory grids for small
and large n. The paper's MNIST numbers (1.6% error at n = 2, below at n = 3) need 784-pixel images;
the digits floor is 96% test accuracy at n = 3.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import damjax as dj  # noqa: E402
from damjax import datasets  # noqa: E402
from damjax.learning import (  # noqa: E402
    KrotovHopfieldRecipe,
    accuracy,
    contribution_spread,
    plot_memories,
    single_class_share,
)
from damjax.reproduce import Check, Outcome, Reproduction, save_figure  # noqa: E402

from ._krotov2016 import baselines, train_dual, xor_solved  # noqa: E402


def digits_recipe(n: int, epochs: int) -> KrotovHopfieldRecipe:
    """Hyperparameters for the 8x8 digits (74 visible units). Small n: a temperature ramp 30 -> 10
    and m = 4; large n: T ~ 0.7 x 74 (the paper's T/N ratio for MNIST), m = 30 and a smaller step
    (the vote changes like (overlap)^n, so large n needs gentler steps)."""
    if n <= 5:
        return KrotovHopfieldRecipe(
            n=n,
            m=4,
            temperature_start=30.0,
            temperature_end=10.0,
            ramp_epochs=max(2 * epochs // 3, 1),
            learning_rate=0.04,
            batch_size=100,
            epochs=epochs,
        )
    T = 45.0 if n < 25 else 50.0
    return KrotovHopfieldRecipe(
        n=n,
        m=30,
        temperature_start=T,
        temperature_end=T,
        ramp_epochs=1,
        learning_rate=0.01 if n < 25 else 0.005,
        batch_size=100,
        epochs=epochs,
    )


def mnist_recipe(n: int, epochs: int | None = None) -> KrotovHopfieldRecipe:
    """The authors' settings for MNIST (T in units of the 794 visible units). n >= 4 is the
    authors' notebook (Dense_Associative_Memory_training.ipynb): n = 20, m = 30, lr 0.04 decayed
    0.998 per epoch, momentum 0.6, T = 540, ramp 200 epochs, 300 epochs, batches of 1000,
    init N(-0.3, 0.3); n <= 3 uses the paper's Appendix A temperatures."""
    if n <= 3:
        return KrotovHopfieldRecipe(
            n=n,
            n_memories=100,
            m=10 if n == 3 else 30,
            temperature_start=400.0 if n == 3 else 540.0,
            temperature_end=100.0 if n == 3 else 540.0,
            ramp_epochs=100,
            learning_rate=0.04,
            momentum=0.6,
            batch_size=1000,
            epochs=epochs or 300,
        )
    return KrotovHopfieldRecipe(
        n=n,
        n_memories=100,
        m=30,
        temperature_start=540.0,
        temperature_end=540.0,
        ramp_epochs=200,
        learning_rate=0.04,
        lr_decay=0.998,
        momentum=0.6,
        batch_size=1000,
        epochs=epochs or 300,
        init_mean=-0.3,
        init_std=0.3,
    )


def _study(train, test, recipe_fn, degrees, epochs, key):
    rows, models, hists = {}, {}, {}
    for n, k in zip(degrees, jax.random.split(key, len(degrees))):
        t0 = time.perf_counter()
        model, hist = recipe_fn(n, epochs).fit(train, key=k, test=test)
        spread = contribution_spread(model, test.images)
        rows[n] = {
            "test_accuracy": accuracy(model, test),
            "train_accuracy": accuracy(model, train),
            "single_class_share": single_class_share(model),
            "participation": spread["participation"],
            "top_share": spread["top_share"],
            "seconds": time.perf_counter() - t0,
        }
        models[n], hists[n] = model, hist
    return rows, models, hists


def _figures(out: Path, tag, rows, models, hists, image_shape):
    figs = []
    ns = sorted(rows)
    lo, hi = ns[0], ns[-1]
    fig, axes = plt.subplots(1, 2, figsize=(10, 5))
    plot_memories(models[lo], image_shape, ax=axes[0], title=f"n = {lo}: features")
    plot_memories(models[hi], image_shape, ax=axes[1], title=f"n = {hi}: prototypes")
    fig.suptitle(f"{tag}: memories (pixel weights, blue -1 .. red +1)")
    fig.tight_layout()
    name = f"{tag}_memories.png"
    save_figure(fig, out / name)
    plt.close(fig)
    figs.append(name)

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for n in ns:
        h = hists[n]
        axes[0].plot(100 * (1 - h.test_accuracy), label=f"n = {n} test")
        axes[0].plot(100 * (1 - h.train_accuracy), "--", alpha=0.5, label=f"n = {n} train")
    axes[0].set(xlabel="epoch", ylabel="error, %", yscale="log", title="training and test error")
    axes[0].legend(fontsize=7)
    axes[1].plot(ns, [rows[n]["single_class_share"] for n in ns], "o-")
    axes[1].set(xlabel="n", ylabel="share", title="memories voting for one class", ylim=(0, 1))
    axes[2].plot(ns, [rows[n]["participation"] for n in ns], "o-", label="effective # memories")
    axes[2].set(
        xlabel="n", ylabel="memories per decision", title="spread of contributions", yscale="log"
    )
    for ax in axes[1:]:
        ax.set_xscale("log")
        ax.set_xticks(ns, [str(n) for n in ns])
        ax.minorticks_off()
    fig.tight_layout()
    name = f"{tag}_transition.png"
    save_figure(fig, out / name)
    plt.close(fig)
    figs.append(name)
    return figs


def _dual_study(train, test, degrees, epochs, key):
    """The dual one-hidden-layer networks (same K = 100, activation F' = ReLU^(n-1))."""
    rows = {}
    for n, k in zip(degrees, jax.random.split(key, len(degrees))):
        net, acc = train_dual(k, train, test, digits_recipe(n, epochs), epochs=epochs)
        rows[n] = {"test_accuracy": acc, "single_class_share": net.single_class_share()}
    return rows


def _xor():
    out = {}
    for name, cls in (("power", dj.Polynomial), ("rectified", dj.RectifiedPolynomial)):
        out[name] = {n: xor_solved(cls(n)) for n in range(2, 8)}
    return out


CITE_XOR = "Sec. 3, the XOR example (four memories = the rows of the truth table)"
CITE_DUAL = "Sec. 3 (duality with a one-hidden-layer network of activation F'), Fig. 1"


def run(out: Path, *, quick: bool) -> Outcome:
    key = jax.random.key(2016)
    k_split, k_digits, k_mnist, k_dual = jax.random.split(key, 4)
    data = datasets.load_digits()
    train, test = datasets.train_test_split(data, key=k_split, test_fraction=0.2)
    degrees = [2, 3, 30] if quick else [2, 3, 5, 10, 20, 30]
    epochs = 60 if quick else 150
    rows, models, hists = _study(train, test, digits_recipe, degrees, epochs, k_digits)
    dual = _dual_study(train, test, degrees, epochs, k_dual)
    base = baselines(train, test, n_hidden=100)
    xor = _xor()
    figures = _figures(out, "digits", rows, models, hists, data.image_shape)
    large = max(degrees)
    best_dam = max(r["test_accuracy"] for r in rows.values())
    checks = {
        "xor_power_n2_fails_n3_solves": Check.holds(
            {f: {n: v["solved"] for n, v in t.items()} for f, t in xor.items()},
            "the XOR gate cannot be computed with n = 2 (the standard Hopfield energy) but can "
            "with n = 3",
            (not xor["power"][2]["solved"]) and xor["power"][3]["solved"],
            cite=CITE_XOR,
        ),
        "digits_test_accuracy_n3": Check.at_least(
            rows[3]["test_accuracy"],
            0.96,
            source="ours",
            cite="our floor for 8x8 digits (the paper reports MNIST only)",
        ),
        "digits_test_accuracy_n2": Check.at_least(
            rows[2]["test_accuracy"], 0.95, source="ours", cite="our floor for 8x8 digits"
        ),
        f"digits_test_accuracy_n{large}": Check.at_least(
            rows[large]["test_accuracy"], 0.95, source="ours", cite="our floor for 8x8 digits"
        ),
        "dam_matches_mlp_baseline": Check.at_least(
            best_dam - base["mlp_relu_100"],
            -0.02,
            source="ours",
            cite="baselines trained in the same run on the same split; the paper compares its "
            "MNIST error with backprop networks of one hidden layer (Sec. 4)",
        ),
        "single_class_share_rises_with_n": Check.holds(
            {n: rows[n]["single_class_share"] for n in degrees},
            "large n: most memories vote for one class (prototypes); n = 2: few (features)",
            rows[large]["single_class_share"] >= 0.5 > rows[2]["single_class_share"],
            cite="Sec. 4, Fig. 3 (feature-to-prototype transition)",
        ),
        "contributions_concentrate_with_n": Check.holds(
            {n: rows[n]["participation"] for n in degrees},
            "fewer memories decide each classification as n grows",
            rows[large]["participation"] < rows[3]["participation"] < rows[2]["participation"],
            cite="Sec. 4 (prototype regime: few memories per decision)",
        ),
    }
    for n in degrees:
        d = dual[n]["test_accuracy"] - rows[n]["test_accuracy"]
        checks[f"dual_network_matches_dam_n{n}"] = Check.holds(
            {
                "dam": rows[n]["test_accuracy"],
                "dual": dual[n]["test_accuracy"],
                "dam_single_class_share": rows[n]["single_class_share"],
                "dual_single_class_share": dual[n]["single_class_share"],
            },
            "the one-hidden-layer network with activation F' (same K) classifies as well as the "
            "DAM (test accuracies within 0.03, ours)",
            abs(d) <= 0.03,
            cite=CITE_DUAL,
        )
    notes = [
        f"digits: {len(train)} train / {len(test)} test images (stratified split), K = 100, "
        f"{epochs} epochs per degree.",
        "test error %: "
        + ", ".join(f"n={n}: {100 * (1 - r['test_accuracy']):.2f}" for n, r in rows.items()),
        "dual network test error %: "
        + ", ".join(f"n={n}: {100 * (1 - r['test_accuracy']):.2f}" for n, r in dual.items()),
        "baselines (same split): "
        + ", ".join(f"{k}: {100 * (1 - v):.2f}%" for k, v in base.items()),
        "XOR: power x^n solves it for n = "
        + str([n for n, v in xor["power"].items() if v["solved"]])
        + " (odd n; for even n the votes cancel), rectified for n = "
        + str([n for n, v in xor["rectified"].items() if v["solved"]])
        + ".",
    ]
    config = {
        "degrees": degrees,
        "epochs": epochs,
        "digits": rows,
        "dual": dual,
        "baselines": base,
        "xor": xor,
        "recipes": {n: digits_recipe(n, epochs).__dict__ for n in degrees},
    }
    protocol = {
        "source": "Krotov & Hopfield 2016, Sec. 3 (XOR, duality), Sec. 4 and Appendix A "
        "(MNIST); authors' notebook DimaKrotov/Dense_Associative_Memory "
        "Dense_Associative_Memory_training.ipynb",
        "model": "784 pixels in [-1, 1] + 10 label units at -1, one update of the label units, "
        "c = tanh(beta sum_mu [F(xi.v+) - F(xi.v-)]), F = ReLU^n, beta = 1/T^n, loss "
        "sum (c - t)^(2m)",
        "recipe": "K = 100, n = 20, m = 30, lr 0.04 decayed 0.998 per epoch, momentum 0.6, "
        "T = 540, 300 epochs, minibatch 1000, init N(-0.3, 0.3), each memory's update "
        "scaled so its largest component moves by the lr, weights clipped to [-1, 1]",
        "reported": "MNIST test error 1.6% (n = 2), below at n = 3; memories turn from features "
        "to prototypes as n grows",
    }
    deviations = [
        {
            "what": "scikit-learn 8x8 digits (1437 / 360) by default; MNIST only when local files "
            "are found",
            "why": "no download at run time",
        },
        {
            "what": f"digits recipes (T, m, lr per n) are ours, {epochs} epochs",
            "why": "the authors' temperatures are for 794 visible units; digits have 74",
        },
        {
            "what": "the dual network is trained with the DAM's own recipe (loss, temperature, "
            "optimiser, epochs); its W, b, U are free (not tied to one memory)",
            "why": "the paper states the duality, it trains only the DAM",
        },
        {"what": "MNIST run with n in {2, 3, 20}", "why": "time; n = 20 is the notebook's setting"},
    ]

    if datasets.mnist_available() and not quick:
        mtrain, mtest = datasets.load_mnist()
        m_deg = [2, 3, 20]
        m_rows, m_models, m_hists = _study(mtrain, mtest, mnist_recipe, m_deg, None, k_mnist)
        figures += _figures(out, "mnist", m_rows, m_models, m_hists, mtrain.image_shape)
        config["mnist"] = m_rows
        checks["mnist_test_error_n2"] = Check.close(
            100 * (1 - m_rows[2]["test_accuracy"]), 1.6, 0.5, cite="Sec. 4, Fig. 2"
        )
        checks["mnist_test_error_n3"] = Check.at_most(
            100 * (1 - m_rows[3]["test_accuracy"]), 1.8, cite="Sec. 4, Fig. 2"
        )
        notes.append(
            "MNIST test error %: "
            + ", ".join(f"n={n}: {100 * (1 - r['test_accuracy']):.2f}" for n, r in m_rows.items())
        )
    else:
        notes.append(
            "MNIST not run: "
            + (
                "quick mode"
                if quick
                else f"no files found (set {datasets.MNIST_ENV} to a folder with the IDX files "
                "or mnist.npz)."
            )
        )
    return Outcome(
        checks=checks,
        config=config,
        figures=figures,
        notes=" ".join(notes),
        protocol=protocol,
        deviations=deviations,
    )


REPRODUCTION = Reproduction(
    name="krotov2016-classifier",
    paper="Krotov & Hopfield 2016, Dense Associative Memory for Pattern Recognition (NeurIPS)",
    run=run,
    description="DAM classifier: test error vs n, feature-to-prototype transition, memory grids",
)
