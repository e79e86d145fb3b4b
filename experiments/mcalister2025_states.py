r"""McAlister, Robins & Szymanski 2025: classifying the stable states of prototype-regime Hopfield
networks as learned, prototype or spurious from their unit energy profiles, against the
stability-ratio baseline.

Setup. P random prototypes in {-1,+1}^N, E examples each (every bit flipped with probability p),
all P E examples stored with the Hebbian rule (zero diagonal). Stable states are collected by
asynchronous dynamics from random starts and from the stored examples and prototypes themselves
(so that every stable example is found: learned states have small basins), one state of every
+- pair, labelled learned (a stored example) / prototype (not stored, within Hamming distance
floor(0.05 N) of a prototype) / spurious, and described by their unit energy profiles
e_i = -x_i (W x)_i / 2, sorted (the features do not depend on which neuron is which).

The regime. With Hebbian storage learned and prototype states live in different corners of the
(E, p) plane: stored examples are stable only when they are few and noisy (E = 2-3, p >= 0.2),
prototype states only when there are more or cleaner examples (E >= 3 at p <= 0.1, E = 6 at
p = 0.2). The data set therefore pools networks over a grid of examples per prototype E and
flip rates p (the factors the paper varies), every pool (training, validation, test) holding
the same number of networks of every (E, p); all three classes are present in every pool, and the
networks that hold both learned and prototype states are counted and reported.

Classifiers (logistic regression, linear SVM, RBF SVM, a small MLP) on *raw* (non-normalised)
and *normalised* (divided by the mean absolute unit energy) sorted profiles, plus unsorted
profiles as an extra, and the stability-ratio baseline (Robins & McCallum 2004; for three classes
the best order of the classes along the ratio and two thresholds). They are trained on a
class-balanced sample of the training networks' states, the best model of each feature kind is
chosen on validation networks (raw and normalised separately: no tie-breaking between them), and
all are scored on held-out networks by balanced accuracy (chance 1/3) with a 95% interval.

Measurements: held-out accuracy at the training number of prototypes; generalisation to other
numbers of prototypes (paper: train on 10, test on 20); accuracy per (E, p) condition; learning
curves against the number of training states; raw vs normalised profiles throughout.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import damjax as dj  # noqa: E402
from damjax import states as S  # noqa: E402
from damjax.reproduce import Check, Outcome, Reproduction, save_figure, stage  # noqa: E402

PAPER = (
    "McAlister, Robins & Szymanski 2025, 'Classifying States of the Hopfield Network with "
    "Improved Accuracy, Generalization, and Interpretability' (arXiv:2503.03018)"
)
ABSTRACT = "McAlister, Robins & Szymanski 2025 (arXiv:2503.03018), abstract"
SUMMARY = (
    "summary of arXiv:2503.03018 at sciencestack.ai/paper/2503.03018 (the paper's result "
    "sections were not readable here)"
)

SIMPLE = ("logistic", "linear_svm", "rbf_svm", "mlp")
FEATURES = {
    "raw": dict(sort=True, normalize=False),
    "normalised": dict(sort=True, normalize=True),
    "unsorted": dict(sort=False, normalize=False),
}
PAPER_KINDS = ("raw", "normalised")
NAMES = ("learned", "prototype", "spurious")

QUICK = dict(
    N=100,
    P_train=5,
    P_tests=(10,),
    E_grid=(2, 3, 6),
    p_grid=(0.05, 0.1, 0.2, 0.3),
    rounds_fit=1,
    rounds_val=1,
    rounds_test=1,
    min_per_class=0,
    max_rounds=1,
    num_starts=256,
    max_spurious=40,
    curve_sizes=(4, 8, 16),
    curve_repeats=2,
    little_data=8,
    radius=0.05,
    seed=0,
)
FULL = dict(
    N=300,
    P_train=10,
    P_tests=(5, 20),
    E_grid=(2, 3, 6),
    p_grid=(0.05, 0.1, 0.2, 0.3),
    rounds_fit=4,
    rounds_val=2,
    rounds_test=4,
    min_per_class=250,
    max_rounds=30,
    num_starts=512,
    max_spurious=60,
    curve_sizes=(4, 8, 16, 32, 64, 128),
    curve_repeats=5,
    little_data=32,
    radius=0.05,
    seed=0,
)


def _network(key, cfg, P, E, p):
    """Labelled profiles of the distinct stable states of one network (spurious subsampled)."""
    k_task, k_starts, k_states, k_sub = jax.random.split(key, 4)
    N = cfg["N"]
    task = dj.patterns.prototype_task(k_task, P, E, N, p)
    model = dj.HopfieldNetwork(task.examples)
    randoms = dj.patterns.random_binary(k_starts, cfg["num_starts"], N)
    starts = jnp.concatenate([randoms, task.examples, task.prototypes])
    ds = S.state_dataset(
        model,
        task,
        key=k_states,
        starts=starts,
        radius=cfg["radius"],
        batch_size=512,
        merge_negations=True,
    )
    y = np.asarray(ds.labels)
    counts = np.bincount(y, minlength=3)
    # spurious states far outnumber the others: keep a random subset of at most max_spurious
    rng = np.random.default_rng(int(jax.random.randint(k_sub, (), 0, 2**31 - 1)))
    spur = np.flatnonzero(y == S.SPURIOUS)
    keep = np.sort(
        np.concatenate(
            [np.flatnonzero(y != S.SPURIOUS), rng.permutation(spur)[: cfg["max_spurious"]]]
        )
    )
    return np.asarray(ds.profiles)[keep], y[keep], counts


def _pool(key, cfg, P, rounds, min_per_class=0):
    """Networks over the (E, p) grid, `rounds` of each, then more rounds (up to max_rounds)
    until every class has at least `min_per_class` states; condition index per state."""
    X, y, cond, counts = [], [], [], []
    conds = [(E, p) for E in cfg["E_grid"] for p in cfg["p_grid"]]
    r = 0
    while r < rounds or (
        r < cfg["max_rounds"]
        and np.min(np.bincount(np.concatenate(y), minlength=3)) < min_per_class
    ):
        for c, (E, p) in enumerate(conds):
            a, b, n = _network(jax.random.fold_in(key, 1000 * r + c), cfg, P, E, p)
            X.append(a)
            y.append(b)
            cond.append(np.full(len(b), c))
            counts.append(dict(E=E, p=p, **{nm: int(v) for nm, v in zip(NAMES, n)}))
        r += 1
    return dict(X=np.concatenate(X), y=np.concatenate(y), cond=np.concatenate(cond)), counts


def _feat(X, kind):
    return np.asarray(S.profile_features(X, **FEATURES[kind])) if len(X) else X


def _score(clf, kind, pool, sel=None):
    X, y = pool["X"], pool["y"]
    if sel is not None:
        X, y = X[sel], y[sel]
    if clf is None or len(y) == 0:
        return float("nan"), float("nan")
    return S.balanced_accuracy(y, clf.predict(_feat(X, kind)))


def _fit(name, kind, X, y, seed=0):
    if len(np.unique(y)) < 2:
        return None
    return S.make_classifier(name, seed=seed).fit(_feat(X, kind), y)


def _class_counts(pool):
    return {nm: int(np.sum(pool["y"] == i)) for i, nm in enumerate(NAMES)}


def _summary(counts):
    """Mean stable states of each class per network, per (E, p), and networks holding both."""
    out = {}
    for row in counts:
        key = f"E={row['E']},p={row['p']}"
        out.setdefault(key, []).append([row[nm] for nm in NAMES])
    both = sum(1 for r in counts if r["learned"] > 0 and r["prototype"] > 0)
    return {k: np.mean(v, axis=0).round(2).tolist() for k, v in out.items()}, both


def run(out: Path, *, quick: bool) -> Outcome:
    cfg = dict(QUICK if quick else FULL)
    key = jax.random.key(cfg["seed"])
    k_fit, k_val, k_test, k_gen, k_bal, k_curve = jax.random.split(key, 6)
    Pa = cfg["P_train"]
    conds = [(E, p) for E in cfg["E_grid"] for p in cfg["p_grid"]]

    stage("collecting stable states")
    fit_pool, fit_counts = _pool(k_fit, cfg, Pa, cfg["rounds_fit"])
    val_pool, _ = _pool(k_val, cfg, Pa, cfg["rounds_val"])
    mpc = cfg["min_per_class"]
    test_pool, test_counts = _pool(k_test, cfg, Pa, cfg["rounds_test"], mpc)
    gen_pools, gen_counts = {}, {}
    for i, Pb in enumerate(cfg["P_tests"]):
        gen_pools[Pb], gen_counts[Pb] = _pool(
            jax.random.fold_in(k_gen, i), cfg, Pb, cfg["rounds_test"], mpc
        )

    # class-balanced training set
    idx = np.asarray(S.balanced_indices(fit_pool["y"], key=k_bal))
    Xtr, ytr = fit_pool["X"][idx], fit_pool["y"][idx]

    stage("training classifiers")
    models = {f"{n}/{k}": _fit(n, k, Xtr, ytr) for k in FEATURES for n in SIMPLE}
    models["stability_ratio"] = _fit("stability_ratio", "raw", Xtr, ytr)
    kind_of = {m: (m.split("/")[1] if "/" in m else "raw") for m in models}
    pools = {"validation": val_pool, f"P={Pa}": test_pool}
    pools.update({f"P={Pb}": gen_pools[Pb] for Pb in cfg["P_tests"]})
    scores = {
        pname: {m: _score(clf, kind_of[m], pool) for m, clf in models.items()}
        for pname, pool in pools.items()
    }
    # the best model of each feature kind, chosen on the validation networks
    best = {
        kind: max(
            SIMPLE,
            key=lambda n, kind=kind: np.nan_to_num(scores["validation"][f"{n}/{kind}"][0], nan=-1),
        )
        for kind in FEATURES
    }
    best_m = {kind: f"{best[kind]}/{kind}" for kind in FEATURES}
    held = scores[f"P={Pa}"]

    # per-condition accuracy on the held-out networks
    per_cond = []
    for c, (E, p) in enumerate(conds):
        sel = test_pool["cond"] == c
        present = np.unique(test_pool["y"][sel])
        row = dict(E=E, p=p, states=int(sel.sum()), classes=[NAMES[i] for i in present])
        if present.size >= 2:
            for kind in PAPER_KINDS:
                row[kind] = _score(models[best_m[kind]], kind, test_pool, sel)[0]
            row["stability_ratio"] = _score(models["stability_ratio"], "raw", test_pool, sel)[0]
        per_cond.append(row)

    # confusion matrices (rows: true class, columns: predicted) on the held-out networks
    confusion = {}
    for m in (best_m["raw"], best_m["normalised"], "stability_ratio"):
        clf = models[m]
        if clf is None:
            continue
        pred = clf.predict(_feat(test_pool["X"], kind_of[m]))
        confusion[m] = [
            [int(np.sum((test_pool["y"] == i) & (pred == j))) for j in range(3)] for i in range(3)
        ]
    # labelled extra: the binary task memory-like (learned or prototype) vs spurious, read off
    # the three-class predictions of the best raw model
    binary = None
    if models[best_m["raw"]] is not None:
        pred = models[best_m["raw"]].predict(_feat(test_pool["X"], "raw"))
        binary = S.balanced_accuracy(
            (test_pool["y"] == S.SPURIOUS).astype(int), (pred == S.SPURIOUS).astype(int)
        )

    stage("learning curves")
    rng = np.random.default_rng(cfg["seed"])
    per_class = int(np.min(np.bincount(ytr, minlength=3))) if len(ytr) else 0
    sizes = [s for s in cfg["curve_sizes"] if s <= per_class]
    curve_models = {kind: best_m[kind] for kind in PAPER_KINDS}
    curve_models["stability_ratio"] = "stability_ratio"
    curves = {lab: [] for lab in curve_models}
    for size in sizes:
        accs = {lab: [] for lab in curve_models}
        for _ in range(cfg["curve_repeats"]):
            pick = np.concatenate(
                [rng.choice(np.flatnonzero(ytr == c), size, replace=False) for c in range(3)]
            )
            for lab, m in curve_models.items():
                name = m.split("/")[0]
                clf = _fit(name, kind_of[m], Xtr[pick], ytr[pick])
                accs[lab].append(_score(clf, kind_of[m], test_pool)[0])
        for lab in curve_models:
            curves[lab].append(float(np.mean(accs[lab])))

    figures = _figures(out, cfg, scores, best_m, per_cond, sizes, curves, test_pool, models)

    # --- checks ------------------------------------------------------------------------------
    sr = held["stability_ratio"]
    checks = {}
    for kind in PAPER_KINDS:
        m = best_m[kind]
        checks[f"best_{kind}_beats_stability_ratio"] = Check.holds(
            {"best": m, "acc": held[m], "stability_ratio": sr},
            f"on held-out networks (P = {Pa}) the best simple classifier on {kind} profiles "
            "(chosen on validation networks) is more accurate than the stability ratio "
            "(balanced accuracy, [value, 95% half-width])",
            held[m][0] > sr[0],
            cite=ABSTRACT + ": 'simple models often outperform the stability ratio'",
        )
    diff = {n: held[f"{n}/raw"][0] - held[f"{n}/normalised"][0] for n in SIMPLE}
    raw_wins = sum(d > 0 for d in diff.values())
    norm_wins = sum(d < 0 for d in diff.values())
    checks["raw_profiles_often_better"] = Check.holds(
        {"raw_minus_normalised": diff, "raw_better": raw_wins, "normalised_better": norm_wins},
        f"held-out networks (P = {Pa}): raw (non-normalised) profiles give the more accurate "
        "classifier more often than normalised ones (strict comparisons, ties count for neither)",
        raw_wins > norm_wins,
        cite=SUMMARY + ": 'non-normalized energy profiles frequently yielding better performance'",
    )
    gen = {
        f"P={Pb},{kind}": {
            "acc": scores[f"P={Pb}"][best_m[kind]],
            "drop": held[best_m[kind]][0] - scores[f"P={Pb}"][best_m[kind]][0],
            "stability_ratio": scores[f"P={Pb}"]["stability_ratio"],
        }
        for Pb in cfg["P_tests"]
        for kind in PAPER_KINDS
    }
    gen_ok = all(g["drop"] <= 0.05 and g["acc"][0] > g["stability_ratio"][0] for g in gen.values())
    checks["generalises_across_prototype_counts"] = Check.holds(
        gen,
        f"trained on networks with P = {Pa} prototypes, tested on P in {list(cfg['P_tests'])}: "
        "the best raw and best normalised classifiers lose at most 0.05 balanced accuracy and "
        "stay above the stability ratio",
        gen_ok,
        cite=ABSTRACT + ": the models 'generalize exceptionally well' (train on 10, test on 20 "
        "prototypes); the 0.05 margin is ours",
    )
    drops = {
        f"P={Pb},{n}": {
            kind: held[f"{n}/{kind}"][0] - scores[f"P={Pb}"][f"{n}/{kind}"][0]
            for kind in PAPER_KINDS
        }
        for Pb in cfg["P_tests"]
        for n in SIMPLE
    }
    aided = [k for k, d in drops.items() if d["normalised"] < d["raw"]]
    checks["normalisation_aids_generalisation_somewhere"] = Check.holds(
        {"drops": drops, "normalised_loses_less": aided},
        "for at least one classifier and one other number of prototypes, normalised profiles "
        "lose less accuracy than raw profiles",
        len(aided) > 0,
        cite=SUMMARY + ": 'normalization can aid cross-dataset generalization in some scenarios'",
    )
    little = cfg["little_data"]
    small = {}
    for kind in PAPER_KINDS:
        if little in sizes:
            small[kind] = {
                "acc": curves[kind][sizes.index(little)],
                "acc_all": held[best_m[kind]][0],
            }
        else:
            small[kind] = {"acc": float("nan"), "acc_all": held[best_m[kind]][0]}
    checks["little_training_data"] = Check.holds(
        {"states_per_class": little, **small},
        f"{little} training states per class ({3 * little} in all) reach within 0.05 of the "
        f"accuracy with all {len(ytr)} (best raw and best normalised classifiers)",
        all(v["acc"] >= v["acc_all"] - 0.05 for v in small.values()),
        cite=ABSTRACT + ": 'these models require surprisingly little training data'; the 0.05 "
        "margin is ours",
    )
    formed = [r for r in per_cond if "stability_ratio" in r]
    mean_sr = float(np.mean([r["stability_ratio"] for r in formed])) if formed else float("nan")
    cond_m = {
        kind: {
            "at_least_as_good": sum(r[kind] >= r["stability_ratio"] for r in formed),
            "mean": float(np.mean([r[kind] for r in formed])) if formed else float("nan"),
        }
        for kind in PAPER_KINDS
    }
    cond_ok = len(formed) > 0 and all(
        v["at_least_as_good"] >= 2 * len(formed) / 3 and v["mean"] > mean_sr
        for v in cond_m.values()
    )
    cond_m = dict(cond_m, conditions=len(formed), mean_stability_ratio=mean_sr)
    checks["noise_and_examples"] = Check.holds(
        cond_m,
        "per (E, p) condition of the held-out networks: the best raw and best normalised "
        "classifiers are at least as accurate as the stability ratio in >= 2/3 of the conditions "
        "and more accurate on average",
        cond_ok,
        cite=SUMMARY + ": generalisation across Bernoulli noise and instance counts; the 2/3 "
        "rule is ours",
    )
    widths = {
        f"{pname}:{m}": scores[pname][m][1]
        for pname in pools
        if pname != "validation"
        for m in (best_m["raw"], best_m["normalised"], "stability_ratio")
    }
    checks["test_intervals_within_3pct"] = Check.at_most(
        max(widths.values()),
        0.03,
        source="ours",
        cite="validity: every reported held-out accuracy has a 95% interval of at most +-0.03 "
        f"(all half-widths: { ({k: round(v, 4) for k, v in widths.items()}) })",
    )
    pool_counts = {"train": _class_counts(fit_pool), f"test P={Pa}": _class_counts(test_pool)}
    pool_counts.update({f"test P={Pb}": _class_counts(gen_pools[Pb]) for Pb in cfg["P_tests"]})
    checks["three_classes_in_every_pool"] = Check.at_least(
        min(min(c.values()) for c in pool_counts.values()),
        20,
        source="ours",
        cite=f"validity: every pool holds >= 20 states of each class (counts: {pool_counts})",
    )

    regime_fit, both_fit = _summary(fit_counts)
    config = dict(
        cfg,
        best=best_m,
        scores=scores,
        per_condition=per_cond,
        confusion=dict(rows="true learned/prototype/spurious", cols="predicted", **confusion),
        binary_memory_vs_spurious=binary,
        curves=dict(states_per_class=sizes, **curves),
        train_states=int(len(ytr)),
        pool_counts=pool_counts,
        states_per_network=dict(
            columns=list(NAMES),
            train=regime_fit,
            test=_summary(test_counts)[0],
            **{f"P={Pb}": _summary(gen_counts[Pb])[0] for Pb in cfg["P_tests"]},
        ),
        networks_with_learned_and_prototype=dict(
            train=both_fit,
            train_networks=len(fit_counts),
            test=_summary(test_counts)[1],
            test_networks=len(test_counts),
        ),
    )
    notes = (
        f"Three classes (learned / prototype / spurious) pooled over networks at every (E, p) "
        f"in {list(cfg['E_grid'])} x {list(cfg['p_grid'])}: {both_fit} of {len(fit_counts)} "
        "training networks hold both learned and prototype states (Hebbian storage keeps the two "
        "regimes apart). Balanced accuracy on all states of held-out networks (spurious "
        f"subsampled to <= {cfg['max_spurious']} per network), 95% intervals. Best models: "
        f"{best_m['raw']} and {best_m['normalised']} (validation). "
        + (f"Quick run: N = {cfg['N']}, P = {Pa} -> {list(cfg['P_tests'])}. " if quick else "")
    )
    protocol = {
        "source": PAPER,
        "task": "stable states of prototype-regime Hebbian Hopfield networks (P prototypes, E "
        "examples each with Bernoulli(p) bit flips) labelled learned / prototype / spurious; "
        "classifiers on energy profiles vs the stability ratio (abstract)",
        "classifiers": "feed-forward neural networks and support vector machines (linear, RBF) "
        "on non-normalised and normalised energy profiles; stability-ratio baseline (abstract; "
        + SUMMARY
        + ")",
        "factors": "numbers of prototypes, Bernoulli noise and examples per prototype are varied "
        "(abstract; " + SUMMARY + ")",
        "generalisation": "train on networks with 10 prototypes, test on 20 (abstract)",
    }
    deviations = [
        {
            "what": f"N = {cfg['N']}, the (E, p) grid, the numbers of networks and starts are ours",
            "why": "the paper's section on its sizes could not be read here (only its abstract and "
            "a summary); sizes chosen so that every class is present and the held-out intervals "
            "are near +-3% on 2 cores",
        },
        {
            "what": "the data set pools networks over an (E, p) grid",
            "why": "with Hebbian storage one network rarely holds both stable examples (learned) "
            "and prototype states; the grid spans the regimes the paper varies "
            f"(networks holding both: {both_fit} of {len(fit_counts)}). Consequence: learned vs "
            "prototype is confounded with the network's (E, p), and raw profiles carry the "
            "network's energy scale; the per-condition accuracies (two classes each) and the "
            "normalised profiles (no scale) depend less on that cue",
        },
        {
            "what": "starts: random states plus the stored examples and the prototypes; one state "
            "per +- pair; spurious states subsampled per network",
            "why": "stable examples have small basins and are missed by random starts; a state and "
            "its negation have equal profiles (not independent samples)",
        },
        {
            "what": "prototype radius floor(0.05 N), balanced accuracy, class-balanced training",
            "why": "our labelling and scoring (chance 1/3); the paper's exact definitions were "
            "not readable here",
        },
        {
            "what": "the binary task of the earlier version (memory-like vs spurious) is kept only "
            "as a labelled extra (config: binary_memory_vs_spurious)",
            "why": "the paper's task has three classes",
        },
    ]
    if quick:
        deviations.append(
            {
                "what": f"quick run: N = {cfg['N']}, P = {Pa} -> {list(cfg['P_tests'])}, one "
                "network per condition",
                "why": "quick mode",
            }
        )
    return Outcome(
        checks=checks,
        config=config,
        figures=figures,
        notes=notes,
        protocol=protocol,
        deviations=deviations,
    )


def _figures(out, cfg, scores, best_m, per_cond, sizes, curves, test_pool, models):
    figures = []
    tests = [k for k in scores if k != "validation"]
    fig, axes = plt.subplots(1, len(tests), figsize=(5.5 * len(tests), 4), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, pname in zip(axes, tests):
        sc = scores[pname]
        xs = np.arange(len(SIMPLE))
        for off, kind in ((-0.27, "raw"), (0.0, "normalised"), (0.27, "unsorted")):
            vals = [sc[f"{n}/{kind}"] for n in SIMPLE]
            ax.bar(
                xs + off,
                [v[0] for v in vals],
                0.27,
                yerr=[v[1] for v in vals],
                capsize=2,
                label=f"{kind} profile",
            )
        ax.axhline(sc["stability_ratio"][0], color="k", ls="--", label="stability ratio")
        ax.axhline(1 / 3, color="grey", ls=":", lw=1, label="chance")
        ax.set_xticks(xs, SIMPLE)
        ax.set_title(f"trained on P = {cfg['P_train']}, tested on {pname}")
        ax.set_ylim(0.2, 1.0)
    axes[0].set_ylabel("balanced accuracy (3 classes), 95% CI")
    handles, labels = axes[-1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=5, fontsize=8)
    fig.suptitle(f"Hebbian Hopfield network, N = {cfg['N']}, pooled over (E, p)")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    save_figure(fig, out / "accuracy.png")
    plt.close(fig)
    figures.append("accuracy.png")

    fig, ax = plt.subplots(figsize=(8, 4))
    rows = [r for r in per_cond if "stability_ratio" in r]
    xs = np.arange(len(rows))
    for off, lab in ((-0.27, "raw"), (0.0, "normalised"), (0.27, "stability_ratio")):
        ax.bar(
            xs + off,
            [r[lab] for r in rows],
            0.27,
            label=best_m.get(lab, lab) if lab != "stability_ratio" else lab,
        )
    ax.set_xticks(xs, [f"E={r['E']}\np={r['p']}" for r in rows], fontsize=7)
    ax.set_ylabel("balanced accuracy (classes present)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, out / "noise_examples.png")
    plt.close(fig)
    figures.append("noise_examples.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    for lab, accs in curves.items():
        ax.plot(
            sizes, accs, "k--" if lab == "stability_ratio" else "o-", label=best_m.get(lab, lab)
        )
    ax.set_xscale("log", base=2)
    ax.set_xlabel("training states per class")
    ax.set_ylabel("held-out balanced accuracy")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out / "learning_curves.png")
    plt.close(fig)
    figures.append("learning_curves.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    r = np.asarray(S.stability_ratio(test_pool["X"]))
    bins = np.linspace(min(float(r.min()), 0.0), max(float(r.max()), 1e-3), 40)
    for i, nm in enumerate(NAMES):
        ax.hist(r[test_pool["y"] == i], bins, alpha=0.5, density=True, label=nm)
    clf = models["stability_ratio"]
    if clf is not None:
        for t in clf.thresholds_:
            ax.axvline(t, color="k", ls="--", lw=1)
    ax.set_xlabel("stability ratio max e_i / min e_i")
    ax.set_ylabel("density")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, out / "stability_ratio.png")
    plt.close(fig)
    figures.append("stability_ratio.png")
    return figures


REPRODUCTION = Reproduction(
    name="mcalister2025-states",
    paper=PAPER,
    run=run,
    description="learned / prototype / spurious stable states: classifiers vs stability ratio",
)
