"""Tests of aeries.store: one module per concern, as in the package."""
