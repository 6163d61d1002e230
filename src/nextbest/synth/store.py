"""Realistic synthetic store: customers with hidden tastes, sessions, orders and churn.

:func:`generate` builds the seven canonical tables of a web shop together with the
hidden truth that drove them (each customer's category taste, price sensitivity,
engagement, activity rate, churn and reactivation dates), so models can be tested
against what really happened. Everything is vectorised with numpy and pyarrow and
fully determined by ``seed``. Each generation step lives in its own module of this
package (catalog, people, consents, messages, sessions, events, orders, tables);
:func:`generate` runs them in order, each with its own random stream.

Examples
--------
>>> store = generate(customers=60, days=30, seed=3)
>>> sorted(store.tables)
['consents', 'customers', 'events', 'messages', 'order_items', 'orders', 'products']
>>> store.tables["customers"].column("customer_id")[0].as_py()
'C000001'
>>> store.truth.num_rows
60
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pyarrow as pa

from nextbest.errors import NextBestError
from nextbest.schema import TABLES
from nextbest.synth.catalog import _make_catalog
from nextbest.synth.clock import _Clock
from nextbest.synth.columns import arrow_schema
from nextbest.synth.consents import _make_consents
from nextbest.synth.events import _make_events
from nextbest.synth.messages import _make_messages
from nextbest.synth.orders import _conversions, _make_orders
from nextbest.synth.people import _make_life, _make_people
from nextbest.synth.sessions import _make_sessions
from nextbest.synth.tables import _events_table, _messages_table, _truth_table
from nextbest.synth.vocab import CATEGORIES

__all__ = ["CATEGORIES", "ProgressFn", "SynthStore", "arrow_schema", "generate"]

ProgressFn = Callable[[str, int, int], None]

_STEPS = (
    "products",
    "customers",
    "lifecycle",
    "consents",
    "messages",
    "sessions",
    "events",
    "orders",
    "tables",
)


# --------------------------------------------------------------------------- public types


@dataclass(frozen=True)
class SynthStore:
    """A generated store: canonical tables plus the hidden truth behind them.

    Attributes
    ----------
    tables : dict of str to pyarrow.Table
        ``customers``, ``products``, ``orders``, ``order_items``, ``events``,
        ``messages`` and ``consents`` with the canonical column names and order.
    truth : pyarrow.Table
        One row per customer: ``customer_id``, ``taste_<category>`` (summing to 1),
        ``price_sensitivity``, ``engagement``, ``activity_rate`` (sessions per
        ordinary day while active), ``churn_at`` and ``reactivated_at`` (null when
        it did not happen within the period).
    categories : list of str
        Product categories, in the order of the ``taste_`` columns.
    seed, n_customers, days, start
        The arguments the store was generated with (``start`` as ISO date).

    Examples
    --------
    >>> store = generate(customers=40, days=20, seed=5)
    >>> store.row_counts()["customers"]
    40
    """

    tables: dict[str, pa.Table]
    truth: pa.Table
    categories: list[str]
    seed: int
    n_customers: int
    days: int
    start: str
    meta: dict[str, object] = field(default_factory=dict)

    def row_counts(self) -> dict[str, int]:
        """Rows per table, in canonical table order."""
        return {name: self.tables[name].num_rows for name in TABLES if name in self.tables}


# --------------------------------------------------------------------------- entry point


def _parse_start(start: str | date | datetime) -> np.datetime64:
    if isinstance(start, datetime):
        start = start.date()
    text = start.isoformat() if isinstance(start, date) else str(start)
    try:
        return np.datetime64(text).astype("datetime64[D]")
    except ValueError as err:
        raise NextBestError(
            f"start {text!r} is not a date", field="start", hint="Use YYYY-MM-DD."
        ) from err


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise NextBestError(f"{name} must be an integer >= {low}, got {value!r}", field=name)
    return int(value)


def generate(
    customers: int = 2000,
    days: int = 365,
    seed: int = 42,
    start: str | date | datetime = "2025-01-01",
    progress: ProgressFn | None = None,
) -> SynthStore:
    """Generate a synthetic web shop with hidden customer truth.

    Parameters
    ----------
    customers : int
        Number of customers (about 35% signed up before the period, the rest join
        during it at a growing pace).
    days : int
        Length of the period in days, starting at midnight UTC of ``start``.
    seed : int
        Seed; the same arguments always give identical tables.
    start : str, date or datetime
        First day of the period (``YYYY-MM-DD``).
    progress : callable, optional
        Called as ``progress(step, done, total)`` after each generation step.

    Returns
    -------
    SynthStore
        Canonical tables, the hidden truth per customer and the categories.

    Notes
    -----
    How the hidden truth drives what is observed:

    - ``taste_*``: each session focuses on a category drawn from the taste (visits
      from a campaign click focus on the campaign's category); 70% of product views
      stay in that focus, the rest are drawn from the taste again. Purchases follow
      views, so bought categories follow the taste.
    - ``price_sensitivity``: tilts the choice of product within a category towards
      cheap (sensitive) or expensive items, lowers add-to-cart for items priced above
      the category norm, and raises the chance of a discounted order.
    - ``engagement``: raises the activity rate, product views per session, add-to-cart,
      checkout and purchase probabilities, message open and click rates, and lowers
      the churn hazard and the chance to opt out of marketing.
    - ``activity_rate``: sessions per ordinary day while active. Sessions are a
      Poisson process with that rate times the day weight (weekends, Black Friday
      week, December before Christmas) and an hour-of-day profile (UTC).
    - ``churn_at`` / ``reactivated_at``: no sessions, opens or clicks between them;
      churned customers without reactivation are silent until the end.

    Tables only cover the period ``[start, start + days)``; ``signup_at`` and the
    consent rows of customers who existed before it are earlier.

    Examples
    --------
    >>> steps = []
    >>> store = generate(customers=30, days=14, seed=2, progress=lambda s, d, t: steps.append(s))
    >>> steps[0], steps[-1], len(steps)
    ('products', 'tables', 9)
    >>> store.tables["orders"].schema.names
    ['order_id', 'customer_id', 'ordered_at', 'total', 'currency', 'channel']
    """
    n = _check_int("customers", customers, 1)
    days = _check_int("days", days, 1)
    seed = _check_int("seed", seed, 0)
    start_day = _parse_start(start)
    rngs = dict(zip(_STEPS, np.random.default_rng(seed).spawn(len(_STEPS)), strict=True))
    clock = _Clock(start_day, days)

    def done(step: str) -> None:
        if progress is not None:
            progress(step, _STEPS.index(step) + 1, len(_STEPS))

    catalog = _make_catalog(rngs["products"], n)
    done("products")
    people = _make_people(rngs["customers"], n, clock)
    done("customers")
    life = _make_life(rngs["lifecycle"], people, clock)
    done("lifecycle")
    consent = _make_consents(rngs["consents"], people, clock)
    done("consents")
    msgs = _make_messages(rngs["messages"], clock, people, life, consent)
    done("messages")
    sess = _make_sessions(rngs["sessions"], clock, people, life, msgs)
    done("sessions")
    ev = _make_events(rngs["events"], people, catalog, sess, msgs)
    done("events")
    orders = _make_orders(rngs["orders"], people, catalog, sess, ev)
    converted = _conversions(msgs, orders)
    done("orders")
    sessions = int(ev.keep.sum())
    events = _events_table(people, catalog, sess, ev, orders)
    del ev, sess
    tables = {
        "customers": people.table,
        "products": catalog.table,
        "orders": orders.orders,
        "order_items": orders.items,
        "events": events,
        "messages": _messages_table(people, msgs, converted),
        "consents": consent.table,
    }
    truth = _truth_table(people, life)
    done("tables")
    return SynthStore(
        tables={name: tables[name] for name in TABLES},
        truth=truth,
        categories=list(CATEGORIES),
        seed=seed,
        n_customers=n,
        days=days,
        start=str(start_day),
        meta={"sessions": sessions},
    )
