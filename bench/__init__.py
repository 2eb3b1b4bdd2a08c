"""Benchmarks of pgbe's generated endpoints against a hand-written floor (`make bench`)."""
