"""Reproductions of the DAM literature: one module per figure set, run by ``damjax reproduce``.

Every module defines ``REPRODUCTION = damjax.reproduce.Reproduction(...)``; discovery is automatic.
``damjax.reproduce`` imports this folder as the private package ``damjax._experiments`` (an
installed wheel carries it there), so modules here import each other relatively
(``from ._hu2024 import ...``).
"""
