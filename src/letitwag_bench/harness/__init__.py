"""Thin adapters between the core and evaluation harnesses (clip_benchmark, lm-eval)."""
