"""Training Dense Associative Memories with optax (classifiers, sequential learning, U-Hop+)."""

from . import sequential as sequential
from .classifier import DAMClassifier as DAMClassifier
from .classifier import KrotovHopfieldRecipe as KrotovHopfieldRecipe
from .classifier import TrainHistory as TrainHistory
from .classifier import accuracy as accuracy
from .classifier import classifier_loss as classifier_loss
from .classifier import clip_weights as clip_weights
from .classifier import contribution_spread as contribution_spread
from .classifier import init_classifier as init_classifier
from .classifier import krotov_hopfield_optimizer as krotov_hopfield_optimizer
from .classifier import make_epoch as make_epoch
from .classifier import memory_grid as memory_grid
from .classifier import normalize_per_memory as normalize_per_memory
from .classifier import plot_memories as plot_memories
from .classifier import single_class_share as single_class_share
from .classifier import train_classifier as train_classifier
from .uhop import feature_separation_loss as feature_separation_loss
from .uhop import separation_loss as separation_loss
from .uhop import train_feature_map as train_feature_map
from .uhop import uhop_plus as uhop_plus
