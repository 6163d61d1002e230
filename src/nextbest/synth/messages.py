"""Marketing campaigns and the messages they send: who got what, who opened, who clicked.

Campaigns follow a weekly plan (a Tuesday e-mail, a push every other Thursday, extra
e-mails on holiday Fridays) with a theme: a category, a newsletter or a sale. Each
campaign reaches part of the customers who consented; opens and clicks depend on
engagement, on how well the theme fits the customer, and on the customer being active.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nextbest.synth.arrays import _lognormal
from nextbest.synth.clock import DAY, HOUR, SEC, _Clock, _holiday_flags, _weekday
from nextbest.synth.consents import _Consent
from nextbest.synth.people import _Life, _People
from nextbest.synth.vocab import _CATEGORY_SPECS, _CHANNELS, CATEGORIES


@dataclass
class _Campaign:
    name: str
    channel: int  # 0 email, 1 push
    send: int  # us
    theme: int  # category index, or -1 newsletter, -2 sale


@dataclass
class _Messages:
    """One entry per message sent (customer, campaign index, times), grouped by campaign."""

    cust: np.ndarray
    campaign: np.ndarray
    sent: np.ndarray
    opened: np.ndarray  # -1 if not
    clicked: np.ndarray  # -1 if not
    campaigns: list[_Campaign]

    @property
    def channels(self) -> np.ndarray:
        """Channel code of each campaign (0 email, 1 push), indexable by ``campaign``."""
        return _per_campaign([c.channel for c in self.campaigns])

    @property
    def themes(self) -> np.ndarray:
        """Theme of each campaign (see :class:`_Campaign`), indexable by ``campaign``."""
        return _per_campaign([c.theme for c in self.campaigns])


def _per_campaign(values: list[int]) -> np.ndarray:
    return np.array(values or [0], dtype=np.int64)


def _campaigns(rng: np.random.Generator, clock: _Clock) -> list[_Campaign]:
    peak, advent = _holiday_flags(clock.dates)
    weekday = _weekday(clock.dates)
    weights = np.array([c.weight for c in _CATEGORY_SPECS])
    out: list[_Campaign] = []
    for d in range(clock.days):
        day = clock.dates[d]
        stamp = str(day).replace("-", "")
        plans: list[tuple[int, int]] = []  # (channel, hour)
        if weekday[d] == 1:
            plans.append((0, 9))
        if (peak[d] or advent[d]) and weekday[d] == 4:
            plans.append((0, 15))
        if weekday[d] == 3 and (d // 7) % 2 == 0:
            plans.append((1, 17))
        for channel, hour in plans:
            r = rng.random()
            if peak[d]:
                theme, label = -2, "black-friday"
            elif advent[d] and r < 0.5:
                theme, label = -1, "gift-guide"
            elif r < 0.7:
                theme = int(rng.choice(len(weights), p=weights / weights.sum()))
                label = CATEGORIES[theme]
            elif r < 0.88:
                theme, label = -1, "newsletter"
            else:
                theme, label = -2, "sale"
            send = clock.start + d * DAY + hour * HOUR + int(rng.integers(0, 30)) * 60 * SEC
            out.append(_Campaign(f"{_CHANNELS[channel]}-{stamp}-{label}", channel, send, theme))
    return out


def _make_messages(
    rng: np.random.Generator,
    clock: _Clock,
    people: _People,
    life: _Life,
    consent: _Consent,
) -> _Messages:
    n = len(people.signup)
    eng = people.engagement
    everyone = np.arange(n)
    campaigns = _campaigns(rng, clock)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("c", "k", "s", "o", "x")}
    for k, camp in enumerate(campaigns):
        spread = 40 * 60 * SEC if camp.channel == 0 else 5 * 60 * SEC
        sent = camp.send + rng.integers(0, spread, n)
        audience = 0.65 if camp.channel == 0 else 0.5
        ok = (people.signup < sent) & consent.granted(camp.channel, everyone, sent)
        ok &= (rng.random(n) < audience) & (sent < clock.end)
        cust = np.flatnonzero(ok)
        sent = sent[cust]
        m = len(cust)
        e = eng[cust]
        if camp.channel == 0:
            p_open = 0.05 + 0.5 * e
            open_delay = _lognormal(rng, np.full(m, 7200.0), 1.3)
        else:
            p_open = 0.02 + 0.25 * e
            open_delay = _lognormal(rng, np.full(m, 600.0), 1.2)
        opened = sent + (np.clip(open_delay, 10, 7 * 86400) * SEC).astype(np.int64)
        did_open = (rng.random(m) < p_open) & (opened < clock.end) & life.active(cust, opened)
        if camp.theme >= 0:
            affinity = np.clip(0.25 + 3.5 * people.taste[cust, camp.theme], 0.0, 3.0)
        elif camp.theme == -1:
            affinity = np.full(m, 0.7)
        else:
            affinity = 0.4 + 1.2 * people.price_sensitivity[cust]
        p_click = np.minimum((0.05 + 0.35 * e) * affinity, 0.95)
        click_delay = np.clip(_lognormal(rng, np.full(m, 40.0), 1.0), 2, 3600)
        clicked = opened + (click_delay * SEC).astype(np.int64)
        did_click = did_open & (rng.random(m) < p_click) & (clicked < clock.end)
        did_click &= life.active(cust, clicked)
        parts["c"].append(cust)
        parts["k"].append(np.full(m, k))
        parts["s"].append(sent)
        parts["o"].append(np.where(did_open, opened, -1))
        parts["x"].append(np.where(did_click, clicked, -1))

    def cat(key: str) -> np.ndarray:
        return np.concatenate(parts[key]) if parts[key] else np.zeros(0, dtype=np.int64)

    return _Messages(cat("c"), cat("k"), cat("s"), cat("o"), cat("x"), campaigns)
