"""Visits to the shop: when each customer comes, what the visit is about, from where.

Ordinary visits are a Poisson process per customer over the active intervals, with
the customer's activity rate, the day weights and the hour-of-day profile. Each
click in a message adds a visit shortly after it, focused on the campaign's theme.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nextbest.synth.clock import HOUR, SEC, _Clock, _hour_of_day
from nextbest.synth.messages import _Messages
from nextbest.synth.people import _Life, _People


@dataclass
class _Sessions:
    """One entry per visit: ordinary visits first, then the visits that follow a click."""

    cust: np.ndarray
    t0: np.ndarray
    lo: np.ndarray  # earliest allowed start
    hi: np.ndarray  # all events must be before this
    focus: np.ndarray  # category the visit is about
    message: np.ndarray  # index into messages for visits from a click, else -1
    sale: np.ndarray
    app: np.ndarray


def _make_sessions(
    rng: np.random.Generator,
    clock: _Clock,
    people: _People,
    life: _Life,
    msgs: _Messages,
) -> _Sessions:
    from1, from2 = clock.mass(life.a1), clock.mass(life.a2)
    m1 = clock.mass(life.b1) - from1
    m2 = clock.mass(life.b2) - from2
    count = rng.poisson(people.rate * (m1 + m2))
    cust = np.repeat(np.arange(len(count)), count)
    s = len(cust)
    u = rng.random(s) * (m1 + m2)[cust]
    first = u < m1[cust]
    y = np.where(first, from1[cust] + u, from2[cust] + u - m1[cust])
    lo = np.where(first, life.a1[cust], life.a2[cust])
    hi = np.where(first, life.b1[cust], life.b2[cust])
    t0 = np.clip(clock.invert(y), lo, hi - 1)
    # replace the uniform time of day by the hourly profile when it stays in bounds
    hour = _hour_of_day(rng.random(s))
    cand = clock.midnight(t0) + hour * HOUR + rng.integers(0, HOUR, s)
    t0 = np.where((cand >= lo) & (cand < hi), cand, t0)

    # visits that follow a click in a message
    clicked = np.flatnonzero(msgs.clicked >= 0)
    c_cust = msgs.cust[clicked]
    c_t0 = msgs.clicked[clicked] + rng.integers(SEC, 20 * SEC, len(clicked))
    c_theme = msgs.themes[msgs.campaign[clicked]]

    all_cust = np.concatenate([cust, c_cust])
    n_all = len(all_cust)
    focus = people.draw_category(all_cust, rng.random(n_all))
    focus[s:] = np.where(c_theme >= 0, c_theme, focus[s:])
    sale = np.zeros(n_all, dtype=bool)
    sale[s:] = c_theme == -2
    app = rng.random(n_all) < 0.2 + 0.3 * people.engagement[all_cust]
    return _Sessions(
        cust=all_cust,
        t0=np.concatenate([t0, c_t0]),
        lo=np.concatenate([lo, c_t0]),
        hi=np.concatenate([hi, life.interval_end(c_cust, c_t0)]),
        focus=focus,
        message=np.concatenate([np.full(s, -1), clicked]),
        sale=sale,
        app=app,
    )
