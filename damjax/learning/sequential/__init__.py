r"""Sequential (continual) learning of the Krotov-Hopfield DAM classifier.

McAlister, Robins & Szymanski 2025, "Sequential Learning in the Dense Associative Memory": a DAM
classifier (:mod:`damjax.learning.classifier`) is trained on a sequence of tasks, one after the
other, with a strategy against catastrophic forgetting.

**Tasks.** :func:`permuted_tasks` (each task applies its own fixed pixel permutation to all images;
the first task is the identity; domain-incremental, 10 shared classes) and :func:`split_tasks`
(disjoint groups of classes, e.g. {0,1}, {2,3}, ...; class-incremental with one shared head).

**Strategies** are small equinox modules with optax-like pure pieces, combined with
:class:`Compose`:

* ``init(model, n_tasks) -> state``;
* ``penalty(memories, state) -> scalar`` added to the loss (EWC, SI, MAS);
* ``batch(state, key, x, y, w) -> (x, y, w)`` extends a minibatch (rehearsal, pseudo-rehearsal);
* ``project(grad, memories, state, key, ctx) -> grad`` changes the step direction (GEM, A-GEM);
* ``after_step(state, old, new, task_grad) -> state`` (SI's path integral);
* ``end_task(state, model, task, key, ctx) -> state`` (importances, buffers, anchors).

:class:`Naive` (fine-tuning), :class:`Rehearsal`, :class:`PseudoRehearsal`, :class:`EWC`,
:class:`SI`, :class:`MAS`, :class:`GEM`, :class:`AGEM`.

**Metrics** from the accuracy matrix ``R[t, s]`` (accuracy on task s after training task t):
:func:`average_accuracy` :math:`\frac1T\sum_s R_{T-1,s}`, :func:`forgetting`
:math:`\frac1{T-1}\sum_{s<T-1}\max_{t<T-1}R_{t,s} - R_{T-1,s}` (Chaudhry et al. 2018) and
:func:`backward_transfer` :math:`\frac1{T-1}\sum_{s<T-1}R_{T-1,s} - R_{s,s}` (Lopez-Paz & Ranzato
2017).
"""

from ._metrics import average_accuracy as average_accuracy
from ._metrics import backward_transfer as backward_transfer
from ._metrics import forgetting as forgetting
from ._projection import AGEM as AGEM
from ._projection import GEM as GEM
from ._projection import _project_dual as _project_dual
from ._regularization import EWC as EWC
from ._regularization import MAS as MAS
from ._regularization import SI as SI
from ._regularization import _fisher as _fisher
from ._regularization import _mas_importance as _mas_importance
from ._rehearsal import PseudoRehearsal as PseudoRehearsal
from ._rehearsal import Rehearsal as Rehearsal
from ._rehearsal import _sample_buffer as _sample_buffer
from ._strategies import AbstractStrategy as AbstractStrategy
from ._strategies import Compose as Compose
from ._strategies import LossContext as LossContext
from ._strategies import Naive as Naive
from ._tasks import Task as Task
from ._tasks import _choose as _choose
from ._tasks import permuted_tasks as permuted_tasks
from ._tasks import split_tasks as split_tasks
from ._train import SequenceResult as SequenceResult
from ._train import train_sequence as train_sequence

__all__ = [
    "Task",
    "permuted_tasks",
    "split_tasks",
    "LossContext",
    "AbstractStrategy",
    "Naive",
    "Rehearsal",
    "PseudoRehearsal",
    "EWC",
    "SI",
    "MAS",
    "GEM",
    "AGEM",
    "Compose",
    "SequenceResult",
    "train_sequence",
    "average_accuracy",
    "forgetting",
    "backward_transfer",
]
