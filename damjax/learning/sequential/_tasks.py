"""Task sequences for sequential learning: permuted pixels (domain-incremental) and disjoint
class splits (class-incremental)."""

from __future__ import annotations

import equinox as eqx
import jax
import numpy as np

from ..._custom_types import PRNGKeyArray
from ..._validation import check_positive_int
from ...datasets import Dataset

__all__ = [
    "Task",
    "permuted_tasks",
    "split_tasks",
]


class Task(eqx.Module):
    """One task: its name, training and test data, and the classes it contains."""

    name: str = eqx.field(static=True)
    train: Dataset
    test: Dataset
    classes: tuple[int, ...] = eqx.field(static=True)


def permuted_tasks(
    train: Dataset,
    test: Dataset,
    *,
    key: PRNGKeyArray,
    n_tasks: int = 5,
    identity_first: bool = True,
) -> list[Task]:
    """``n_tasks`` tasks, each a fixed random pixel permutation (drawn from ``key``) applied to
    every train and test image; task 0 keeps the original images when ``identity_first``."""
    n_tasks = check_positive_int(n_tasks, "n_tasks")
    P = train.n_pixels
    if test.n_pixels != P:
        raise ValueError(f"`test` has {test.n_pixels} pixels, `train` {P}")
    tasks = []
    for t, k in enumerate(jax.random.split(key, n_tasks)):
        perm = (
            np.arange(P)
            if (t == 0 and identity_first)
            else np.asarray(jax.random.permutation(k, P))
        )
        tasks.append(
            Task(
                name=f"perm{t}",
                train=Dataset(
                    train.images[:, perm], train.labels, train.n_classes, train.image_shape
                ),
                test=Dataset(test.images[:, perm], test.labels, test.n_classes, test.image_shape),
                classes=tuple(range(train.n_classes)),
            )
        )
    return tasks


def split_tasks(train: Dataset, test: Dataset, *, classes_per_task: int = 2) -> list[Task]:
    """Tasks of disjoint consecutive classes ({0,1}, {2,3}, ... for 2 per task); labels keep their
    original values (class-incremental: one shared C-way output)."""
    cpt = check_positive_int(classes_per_task, "classes_per_task")
    C = train.n_classes
    if C % cpt:
        raise ValueError(f"`classes_per_task` ({cpt}) must divide the number of classes ({C})")
    tasks = []
    for start in range(0, C, cpt):
        cls = tuple(range(start, start + cpt))
        sel_tr = np.isin(np.asarray(train.labels), cls)
        sel_te = np.isin(np.asarray(test.labels), cls)
        tasks.append(
            Task(
                name="classes" + "".join(map(str, cls)),
                train=train.take(sel_tr),
                test=test.take(sel_te),
                classes=cls,
            )
        )
    return tasks


def _choose(task: Task, key, size):
    n = len(task.train)
    idx = np.asarray(jax.random.choice(key, n, (min(size, n),), replace=False))
    return task.train.images[idx], task.train.labels[idx]
