"""Training Dense Associative Memories with optax (classifiers, sequential learning, U-Hop+)."""
