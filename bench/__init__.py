"""Benchmarks that print their figures (not tests): run each as ``python bench/NAME.py``."""
