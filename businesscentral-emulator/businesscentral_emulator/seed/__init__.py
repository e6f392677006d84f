"""Deterministic CRONUS-like data for every entity set."""
