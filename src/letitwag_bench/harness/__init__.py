"""Thin adapters between evaluation harnesses and the core (counts, stats); the core never imports them."""
