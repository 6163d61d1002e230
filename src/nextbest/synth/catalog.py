"""The product catalogue: prices, stock, names and how customers choose among products.

The catalogue size grows with the number of customers (200 to 5000 products), split
over the categories by their weight. Within a category, popularity follows a power
law and price sensitivity tilts the choice towards cheap or expensive items.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nextbest.synth.arrays import (
    _draw_member,
    _excl_cumsum,
    _inverse_cdf,
    _lognormal,
    _rank_within,
)
from nextbest.synth.columns import _pick, arrow_schema
from nextbest.synth.ids import _product_ids
from nextbest.synth.params import _PRICE_BINS, _PRICE_GAMMA
from nextbest.synth.vocab import _ADJECTIVES, _CATEGORY_SPECS, CATEGORIES


@dataclass
class _Catalog:
    category: np.ndarray  # int8
    price_cents: np.ndarray  # int64
    in_stock: np.ndarray
    number: np.ndarray  # id number
    zprice: np.ndarray  # standardised log price within category
    table: pa.Table
    seg_cum: np.ndarray  # concatenated cumulative choice weights, offset by group
    seg_prod: np.ndarray
    seg_end: np.ndarray

    def choose(self, cat: np.ndarray, price_bin: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Products for (category, price-sensitivity bin) pairs by inverse CDF."""
        group = cat.astype(np.int64) * _PRICE_BINS + price_bin
        return self.seg_prod[_inverse_cdf(self.seg_cum, group, u, self.seg_end[group] - 1)]


def _allocate(total: int, weights: np.ndarray, minimum: int) -> np.ndarray:
    """Split ``total`` in proportion to ``weights``, at least ``minimum`` each (largest rest)."""
    share = weights / weights.sum() * (total - minimum * len(weights))
    counts = np.floor(share).astype(np.int64)
    rest = total - minimum * len(weights) - counts.sum()
    counts[np.argsort(-(share - counts), kind="stable")[:rest]] += 1
    return counts + minimum


def _stacked(groups: list[tuple[str, ...]]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The words of all groups in one list, with each group's start and size in it."""
    size = np.array([len(g) for g in groups])
    return [w for g in groups for w in g], _excl_cumsum(size), size


def _make_catalog(rng: np.random.Generator, n_customers: int) -> _Catalog:
    n_cat = len(_CATEGORY_SPECS)
    n = int(np.clip(round(20 * n_customers / 1000), 200, 5000))
    counts = _allocate(n, np.array([c.weight for c in _CATEGORY_SPECS]), minimum=8)
    cat = np.repeat(np.arange(n_cat), counts)
    rank = _rank_within(cat)
    pop = 1.0 / (rank + 1.0) ** 1.1
    pop /= np.bincount(cat, weights=pop)[cat]
    median = np.array([c.median_price for c in _CATEGORY_SPECS])[cat]
    sigma = np.array([c.price_sigma for c in _CATEGORY_SPECS])[cat]
    raw = _lognormal(rng, median, sigma)
    charm = rng.random(n) < 0.75  # most prices end in .99
    cents = np.where(charm, np.floor(raw) * 100 + 99, np.round(raw * 100)).astype(np.int64)
    cents = np.maximum(cents, 99)
    zprice = (np.log(cents / 100.0) - np.log(median)) / sigma
    in_stock = rng.random(n) > 0.07
    number = rng.permutation(n) + 1

    brands, brand_start, brand_size = _stacked([c.brands for c in _CATEGORY_SPECS])
    brand = _draw_member(rng, cat, brand_start, brand_size)
    nouns, noun_start, noun_size = _stacked([c.nouns for c in _CATEGORY_SPECS])
    noun = _draw_member(rng, cat, noun_start, noun_size)
    adjective = rng.integers(0, len(_ADJECTIVES), n)
    brand_s = _pick(brands, brand)
    name = pc.binary_join_element_wise(
        brand_s, _pick(_ADJECTIVES, adjective), _pick(nouns, noun), " "
    )
    rating = np.clip(np.round(40 + 3 * rng.standard_normal(n) + 4 * (rank < 5)), 25, 50)
    rating = rating.astype(np.int64)
    attrs = pc.binary_join_element_wise(
        '{"rating": ',
        pc.cast(pa.array(rating // 10), pa.string()),
        ".",
        pc.cast(pa.array(rating % 10), pa.string()),
        ', "reviews": ',
        pc.cast(pa.array(np.round(rng.pareto(1.3, n) * 20 * pop * counts[cat]).astype(np.int64)),
                pa.string()),
        "}",
        "",
    )  # fmt: skip
    attrs = pc.if_else(pa.array(rng.random(n) < 0.05), pa.scalar(None, pa.string()), attrs)

    # inverse-CDF tables: one segment per (category, price-sensitivity bin)
    signed = (np.arange(_PRICE_BINS) + 0.5) / _PRICE_BINS * 2 - 1
    starts = _excl_cumsum(counts)
    seg_cum, seg_prod, seg_end = [], [], []
    done = 0
    for c in range(n_cat):
        idx = np.arange(starts[c], starts[c] + counts[c])
        for k in range(_PRICE_BINS):
            w = pop[idx] * np.exp(-_PRICE_GAMMA * signed[k] * zprice[idx])
            cum = np.cumsum(w)
            cum /= cum[-1]
            cum[-1] = 1.0
            seg_cum.append(c * _PRICE_BINS + k + cum)
            seg_prod.append(idx)
            done += len(idx)
            seg_end.append(done)

    order = np.argsort(number)
    table = pa.Table.from_arrays(
        [
            _product_ids(number),
            name,
            _pick(CATEGORIES, cat),
            brand_s,
            pa.array(cents / 100.0),
            pa.array(in_stock),
            attrs,
        ],
        schema=arrow_schema("products"),
    ).take(pa.array(order))
    return _Catalog(
        category=cat.astype(np.int8),
        price_cents=cents,
        in_stock=in_stock,
        number=number,
        zprice=zprice,
        table=table,
        seg_cum=np.concatenate(seg_cum),
        seg_prod=np.concatenate(seg_prod),
        seg_end=np.array(seg_end, dtype=np.int64),
    )
