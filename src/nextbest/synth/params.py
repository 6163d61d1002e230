"""Model constants of the synthetic store, kept together so their effect is easy to find."""

from __future__ import annotations

from nextbest.synth.clock import DAY

_PRE_EXISTING = 0.35  # share of customers who signed up before the period
_GROWTH = 1.5  # acquisition density grows linearly by this factor over the period
_BASE_RATE = 0.085  # median sessions per day on an ordinary day
_PRICE_BINS = 5
_PRICE_GAMMA = 0.9  # how strongly price sensitivity tilts product choice
_REACTIVATE = 0.18
_ATTRIBUTION_US = 3 * DAY
