"""Realistic synthetic store: customers with hidden tastes, sessions, orders and churn.

``generate`` builds the canonical tables and the hidden truth, ``spoil`` injects the
faults real exports have (and lists each one), ``write_store`` writes it all to disk.

Examples
--------
>>> from nextbest.synth import generate, spoil
>>> store = generate(customers=50, days=14, seed=1)
>>> dirty, spoiled = spoil(store, seed=1, rate=0.05)
>>> set(spoiled.column("table").to_pylist()) <= set(store.tables)
True
"""

from nextbest.synth.dirty import spoil
from nextbest.synth.io import write_store
from nextbest.synth.store import CATEGORIES, SynthStore, arrow_schema, generate

__all__ = ["CATEGORIES", "SynthStore", "arrow_schema", "generate", "spoil", "write_store"]
