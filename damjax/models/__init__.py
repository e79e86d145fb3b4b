"""Memory models: one file per model family."""

from ._base import AbstractBinaryMemory as AbstractBinaryMemory
from ._base import AbstractMemory as AbstractMemory
from .binary import BinaryDAM as BinaryDAM
