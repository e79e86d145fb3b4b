"""Reproductions of the DAM literature: one module per figure set, run by ``damjax reproduce``.

Every module defines ``REPRODUCTION = damjax.reproduce.Reproduction(...)``; discovery is automatic.
"""
