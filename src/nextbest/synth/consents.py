"""Marketing consents per customer and channel: the state at signup and one possible change.

Every customer has an e-mail and a push consent row from signup; some flip once
later (opt-out or opt-in in the preference center), which adds a second row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from nextbest.synth.clock import DAY, _Clock
from nextbest.synth.columns import _pick, _ts, arrow_schema
from nextbest.synth.ids import _customer_ids
from nextbest.synth.people import _People
from nextbest.synth.vocab import _CHANNELS

_NEVER = np.iinfo(np.int64).max


@dataclass
class _Consent:
    granted0: np.ndarray  # (2, n) email, push at signup
    change: np.ndarray  # (2, n) time the state flips, or _NEVER
    table: pa.Table

    def granted(self, channel: int, cust: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Whether customers ``cust`` have granted ``channel`` at times ``t``."""
        return self.granted0[channel, cust] ^ (t >= self.change[channel, cust])


def _make_consents(rng: np.random.Generator, people: _People, clock: _Clock) -> _Consent:
    n = len(people.signup)
    eng = people.engagement
    granted0 = np.stack([rng.random(n) < 0.85, rng.random(n) < 0.6])
    mean_days = np.where(granted0, 1800.0 * (0.35 + eng), 2500.0)
    change = people.signup + (rng.exponential(1.0, (2, n)) * mean_days * DAY).astype(np.int64)
    change = np.where(change < clock.end, change, _NEVER)

    cust = np.concatenate([np.arange(n), np.arange(n)])
    chan = np.repeat([0, 1], n)
    g0 = granted0.ravel()
    ch = change.ravel()
    moved = ch != _NEVER
    all_cust = np.concatenate([cust, cust[moved]])
    all_chan = np.concatenate([chan, chan[moved]])
    granted = np.concatenate([g0, ~g0[moved]])
    updated = np.concatenate([people.signup[cust], ch[moved]])
    source = np.concatenate([np.zeros(2 * n, np.int64), np.ones(int(moved.sum()), np.int64)])
    order = np.lexsort((all_chan, all_cust, updated))
    rows = len(order)
    table = pa.Table.from_arrays(
        [
            _customer_ids(all_cust[order], n),
            pa.repeat(pa.scalar("marketing", pa.string()), rows),
            _pick(_CHANNELS, all_chan[order]),
            pa.array(granted[order]),
            _ts(updated[order]),
            _pick(("signup", "preference_center"), source[order]),
        ],
        schema=arrow_schema("consents"),
    )
    return _Consent(granted0, change, table)
