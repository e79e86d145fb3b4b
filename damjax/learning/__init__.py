"""Training Dense Associative Memories with optax (classifiers, sequential learning, U-Hop+)."""

from .._moved import bind_children as _bind_children
from ..models.classifier import DAMClassifier as DAMClassifier
from . import sequential as sequential
from .analysis import contribution_spread as contribution_spread
from .analysis import memory_grid as memory_grid
from .analysis import plot_memories as plot_memories
from .analysis import single_class_share as single_class_share
from .training import KrotovHopfieldRecipe as KrotovHopfieldRecipe
from .training import TrainHistory as TrainHistory
from .training import accuracy as accuracy
from .training import classifier_loss as classifier_loss
from .training import clip_weights as clip_weights
from .training import init_classifier as init_classifier
from .training import krotov_hopfield_optimizer as krotov_hopfield_optimizer
from .training import make_epoch as make_epoch
from .training import normalize_per_memory as normalize_per_memory
from .training import train_classifier as train_classifier
from .uhop import feature_separation_loss as feature_separation_loss
from .uhop import separation_loss as separation_loss
from .uhop import train_feature_map as train_feature_map
from .uhop import uhop_plus as uhop_plus

_bind_children(__name__)
