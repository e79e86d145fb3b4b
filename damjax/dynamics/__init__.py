"""Dynamics: one jitted entry point :func:`retrieve` and rules as strategy objects."""

from .._moved import bind_children as _bind_children
from ._base import RESULTS as RESULTS
from ._base import AbstractRule as AbstractRule
from ._base import Retrieval as Retrieval
from ._base import iterate_to_fixed_point as iterate_to_fixed_point
from ._base import register_rule as register_rule
from ._base import retrieve as retrieve
from ._base import rule_from_name as rule_from_name
from ._base import rule_names as rule_names
from ._base import status_of as status_of
from .async_ import Async as Async
from .async_ import Settled as Settled
from .async_ import settle_async as settle_async
from .continuous import ODE as ODE
from .continuous import AbstractContinuousRule as AbstractContinuousRule
from .continuous import Euler as Euler
from .continuous import Trajectory as Trajectory
from .continuous import trajectory as trajectory
from .fixed_point import FixedPoint as FixedPoint
from .fixed_point import fixed_point as fixed_point
from .fixed_point import implicit_fixed_point as implicit_fixed_point
from .gradient import GradientDescent as GradientDescent
from .sync import OneStep as OneStep
from .sync import Sync as Sync

_bind_children(__name__)
