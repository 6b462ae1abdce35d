"""Stages (DESIGN.md §3): the contract lives in ``base``; each module holds one algorithm."""
