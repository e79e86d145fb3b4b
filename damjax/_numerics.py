"""Numerical constants shared by the whole package."""

import jax

#: Matmul precision for products that must be exact to float32 rounding: on GPU/TPU JAX's default
#: float32 matmul uses reduced-precision (bf16/tf32) passes; on CPU this is a no-op.
HI = jax.lax.Precision.HIGHEST
