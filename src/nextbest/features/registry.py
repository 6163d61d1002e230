"""The feature registry: every feature's name, description, type, window and family.

A family is a function that gets a :class:`~nextbest.features.context.Context` (the
warehouse tables cut at ``as_of``) and returns one Ibis table keyed by
``customer_id`` with its features as columns. Registering a family declares its
features, so a snapshot, ``nextbest features show`` and the model pipelines all read
the same descriptions.

>>> from nextbest.features import REGISTRY
>>> REGISTRY.feature("recency_days").description
'days since the last order before as_of'
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import ibis

if TYPE_CHECKING:
    from nextbest.features.context import Context

__all__ = ["REGISTRY", "Family", "Feature", "Registry", "count"]


@dataclass(frozen=True)
class Feature:
    """One feature: what it means, its type, the window it covers and how to fill gaps."""

    name: str
    description: str
    dtype: str = "float64"
    window: str = "lifetime"
    family: str = ""
    fill: float | None = None  # value for customers with no data (counts: 0)
    # how the value moves with time alone (no new data): it grows by ``per_day`` a
    # day (ages, countdowns), or it is a decayed sum that halves every half-life
    per_day: float = 0.0
    decays: bool = False


def count(name: str, description: str, window: str = "lifetime") -> Feature:
    """A count feature: an integer that is 0 for customers with nothing to count."""
    return Feature(name, description, dtype="int64", window=window, fill=0)


Declared = Callable[["Context"], list[Feature]] | list[Feature]


@dataclass
class Family:
    """A group of features computed together from one query."""

    name: str
    compute: Callable[[Context], ibis.Table]
    declared: Declared = field(default_factory=list)
    order: int = 100

    def features(self, ctx: Context) -> list[Feature]:
        items = self.declared(ctx) if callable(self.declared) else self.declared
        return [Feature(**{**f.__dict__, "family": self.name}) for f in items]


class Registry:
    """All known feature families, in registration order."""

    def __init__(self) -> None:
        self.families: dict[str, Family] = {}

    def family(
        self, name: str, features: Declared, *, order: int = 100
    ) -> Callable[[Callable[[Context], ibis.Table]], Callable[[Context], ibis.Table]]:
        """Decorator: register ``compute`` as family ``name`` declaring ``features``.

        ``features`` may be a list or a function of the context, for families whose
        columns depend on settings (windows, top categories). Families are kept in
        ``order`` (then registration order); a snapshot's columns follow it.
        """

        def wrap(compute: Callable[[Context], ibis.Table]) -> Callable[[Context], ibis.Table]:
            self.families[name] = Family(name, compute, features, order)
            self.families = dict(sorted(self.families.items(), key=lambda kv: kv[1].order))
            return compute

        return wrap

    def declared(self, ctx: Context) -> list[Feature]:
        """Every feature, as declared for this context's settings."""
        return [f for fam in self.families.values() for f in fam.features(ctx)]

    def feature(self, name: str, ctx: Context | None = None) -> Feature:
        from nextbest.features.context import Context

        for f in self.declared(ctx or Context.empty()):
            if f.name == name:
                return f
        raise KeyError(name)

    def __iter__(self) -> Iterator[Family]:
        return iter(self.families.values())


REGISTRY = Registry()
