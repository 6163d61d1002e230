"""Realistic synthetic store: customers with hidden tastes, sessions, orders and churn.

:func:`generate` builds the seven canonical tables of a web shop together with the
hidden truth that drove them (each customer's category taste, price sensitivity,
engagement, activity rate, churn and reactivation dates), so models can be tested
against what really happened. Everything is vectorised with numpy and pyarrow and
fully determined by ``seed``.

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
import pyarrow.compute as pc

from nextbest.errors import NextBestError
from nextbest.schema import EVENT_TYPES, TABLES

__all__ = ["CATEGORIES", "ProgressFn", "SynthStore", "arrow_schema", "generate"]

ProgressFn = Callable[[str, int, int], None]

SEC = 1_000_000
HOUR = 3600 * SEC
DAY = 24 * HOUR
_NEVER = np.iinfo(np.int64).max


# --------------------------------------------------------------------------- vocabulary


@dataclass(frozen=True)
class _Category:
    name: str
    weight: float
    median_price: float
    price_sigma: float
    brands: tuple[str, ...]
    nouns: tuple[str, ...]
    queries: tuple[str, ...]


_CATEGORY_SPECS: tuple[_Category, ...] = (
    _Category(
        "electronics", 1.2, 79.0, 0.9,
        ("Voltix", "Nordtek", "Auralis", "Pixelon", "Corebyte", "Lumio"),
        ("Headphones", "Speaker", "Charger", "Smartwatch", "Keyboard", "Tablet", "Camera"),
        ("wireless headphones", "usb c charger", "bluetooth speaker", "smart watch", "tablet"),
    ),
    _Category(
        "books", 0.9, 14.0, 0.45,
        ("Penrose Press", "Inkwell", "Harbor Books", "Bluefield", "Quillstone"),
        ("Novel", "Cookbook", "Biography", "Travel Guide", "Anthology", "Thriller"),
        ("bestseller", "cookbook", "travel guide", "crime novel", "kids books"),
    ),
    _Category(
        "fashion", 1.4, 39.0, 0.7,
        ("Marlowe", "Threadline", "Velaro", "Kintsu", "Solenne", "Rowan Lane"),
        ("Jacket", "Sneakers", "Dress", "Jeans", "Scarf", "Shirt", "Boots"),
        ("summer dress", "running sneakers", "winter jacket", "slim jeans", "wool scarf"),
    ),
    _Category(
        "home", 1.1, 42.0, 0.8,
        ("Hearthly", "Casa Nova", "Linden", "Brightnest", "Duna"),
        ("Lamp", "Cushion", "Duvet", "Vase", "Rug", "Frying Pan", "Knife Set"),
        ("table lamp", "duvet cover", "frying pan", "area rug", "scented candle"),
    ),
    _Category(
        "beauty", 1.0, 19.0, 0.6,
        ("Velvette", "Aurea", "Lumine", "Skinfolk", "Petalia"),
        ("Serum", "Moisturizer", "Lipstick", "Shampoo", "Perfume", "Face Mask"),
        ("vitamin c serum", "moisturizer", "red lipstick", "dry shampoo", "perfume"),
    ),
    _Category(
        "sports", 0.9, 35.0, 0.8,
        ("Stridex", "Peakform", "Tempo", "Northline", "Arcfit"),
        ("Yoga Mat", "Dumbbells", "Running Shorts", "Water Bottle", "Tennis Racket", "Helmet"),
        ("yoga mat", "dumbbells", "running shorts", "bike helmet", "tennis racket"),
    ),
    _Category(
        "toys", 0.8, 24.0, 0.6,
        ("Bricko", "Funhaus", "Wonderly", "Tinytown", "Kiddo Lab"),
        ("Puzzle", "Building Set", "Plush Bear", "Board Game", "Doll", "RC Car"),
        ("lego", "board game", "puzzle 1000", "plush toy", "remote control car"),
    ),
    _Category(
        "grocery", 1.0, 7.0, 0.5,
        ("Greenacre", "Fieldstone", "Pantry Co", "Mornings", "Olivia Farms"),
        ("Coffee Beans", "Olive Oil", "Granola", "Green Tea", "Pasta", "Dark Chocolate"),
        ("coffee beans", "olive oil", "granola", "green tea", "dark chocolate"),
    ),
    _Category(
        "garden", 0.6, 29.0, 0.8,
        ("Verdant", "Rootwise", "Sunpatch", "Bloomer"),
        ("Planter", "Hose", "Seed Kit", "Pruner", "Garden Chair", "Lantern"),
        ("planter", "garden hose", "tomato seeds", "pruning shears", "solar lantern"),
    ),
    _Category(
        "music", 0.6, 22.0, 0.9,
        ("Vinylhouse", "Echo Lane", "Resona", "Tunecraft"),
        ("Vinyl Record", "Guitar Strings", "Ukulele", "Songbook", "Microphone", "Capo"),
        ("vinyl", "guitar strings", "ukulele", "usb microphone", "songbook"),
    ),
    _Category(
        "pets", 0.7, 21.0, 0.6,
        ("Pawsome", "Whiskerco", "Tailwind", "Petsy"),
        ("Dog Food", "Cat Litter", "Chew Toy", "Pet Bed", "Leash", "Scratching Post"),
        ("dog food", "cat litter", "chew toy", "dog bed", "cat tree"),
    ),
    _Category(
        "health", 0.8, 15.0, 0.6,
        ("Vitalis", "Purewell", "Medra", "Everbloom"),
        ("Vitamins", "Protein Powder", "Thermometer", "First Aid Kit", "Toothbrush", "Omega 3"),
        ("vitamin d", "protein powder", "thermometer", "electric toothbrush", "omega 3"),
    ),
)  # fmt: skip

CATEGORIES: tuple[str, ...] = tuple(c.name for c in _CATEGORY_SPECS)

_ADJECTIVES = (
    "Classic", "Essential", "Pro", "Eco", "Compact", "Premium", "Everyday", "Deluxe", "Mini",
    "Ultra",
)  # fmt: skip
_FIRST_NAMES = (
    "Anna", "Ben", "Chloe", "David", "Emma", "Felix", "Grace", "Hugo", "Isla", "Jack", "Karin",
    "Liam", "Maya", "Noah", "Olivia", "Paul", "Quinn", "Ruby", "Sam", "Tara", "Umar", "Vera",
    "Will", "Xena", "Yusuf", "Zoe", "Amelie", "Bruno", "Clara", "Diego", "Elena", "Finn",
    "Giulia", "Hannah", "Ivan", "Julia", "Kenji", "Lena", "Mateo", "Nina", "Oscar", "Priya",
    "Rosa", "Sofia", "Tom", "Ugo", "Vikram", "Wen", "Yara", "Leo", "Mia", "Lucas", "Ella",
    "Omar", "Freya", "Jonas", "Alice", "Marco", "Sara", "Henry",
)  # fmt: skip
_LAST_NAMES = (
    "smith", "jones", "muller", "garcia", "rossi", "martin", "brown", "silva", "novak", "kim",
    "patel", "nguyen", "larsen", "dubois", "schmidt", "lopez", "walker", "moreau", "fischer",
    "conti", "young", "berg", "hughes", "bauer", "costa", "green", "weber", "ricci", "clark",
    "santos", "evans", "meyer", "perez", "turner", "lindqvist", "ward", "romano", "khan",
)  # fmt: skip
# Reserved example domains (RFC 2606): a synthetic address can never reach a real person.
_DOMAINS = ("example.com", "example.org", "example.net")
_COUNTRIES = ("US", "GB", "DE", "FR", "CA", "AU", "NL", "ES", "IT", "SE")
_COUNTRY_P = (0.45, 0.12, 0.10, 0.08, 0.07, 0.05, 0.04, 0.04, 0.03, 0.02)
_LOCAL_CURRENCY = ("USD", "GBP", "EUR", "EUR", "USD", "USD", "EUR", "EUR", "EUR", "USD")
_ACQUISITION = ("organic", "paid_search", "social", "referral", "email")
_TIERS = ("bronze", "silver", "gold")
_PAGES = ("/", "/deals", "/new", "/account", "/wishlist")
_DISCOUNTS = (0.05, 0.1, 0.15, 0.2)
_WEEKDAY_WEIGHT = np.array([0.92, 0.9, 0.92, 0.95, 1.02, 1.25, 1.2])  # Monday first
_HOUR_WEIGHT = np.array(
    [0.35, 0.22, 0.15, 0.12, 0.12, 0.18, 0.35, 0.6, 0.8, 0.9, 1.0, 1.1,
     1.25, 1.15, 1.0, 1.0, 1.05, 1.2, 1.4, 1.6, 1.75, 1.6, 1.15, 0.7]
)  # fmt: skip

_PV, _VIEW, _ADD, _REMOVE, _CHECKOUT, _PURCHASE, _SEARCH = (
    EVENT_TYPES.index(t)
    for t in (
        "page_view",
        "product_view",
        "add_to_cart",
        "remove_from_cart",
        "checkout",
        "purchase",
        "search",
    )
)
# median seconds since the previous event of the same session, by event type code
_GAP_MEDIAN_S = np.zeros(len(EVENT_TYPES))
_GAP_MEDIAN_S[[_PV, _VIEW, _ADD, _REMOVE, _CHECKOUT, _PURCHASE, _SEARCH]] = (
    20.0, 35.0, 9.0, 22.0, 50.0, 70.0, 12.0,
)  # fmt: skip

# model constants (kept together so their effect is easy to find)
_PRE_EXISTING = 0.35  # share of customers who signed up before the period
_GROWTH = 1.5  # acquisition density grows linearly by this factor over the period
_BASE_RATE = 0.085  # median sessions per day on an ordinary day
_PRICE_BINS = 5
_PRICE_GAMMA = 0.9  # how strongly price sensitivity tilts product choice
_REACTIVATE = 0.18
_ATTRIBUTION_US = 3 * DAY

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


_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "json": pa.string(),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
    "decimal": pa.float64(),
    "float": pa.float64(),
    "int": pa.int32(),
    "boolean": pa.bool_(),
}


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema a clean synthetic table has (canonical names and order).

    Money is ``float64`` rounded to cents, timestamps are naive ``timestamp[us]`` in
    UTC and JSON columns are text.

    Examples
    --------
    >>> arrow_schema("orders").field("total").type
    DataType(double)
    """
    spec = TABLES[table]
    return pa.schema([(c.name, _ARROW_TYPES[c.kind]) for c in spec.columns])


# --------------------------------------------------------------------------- helpers


def _excl_cumsum(counts: np.ndarray) -> np.ndarray:
    """Start offset of each group given group sizes."""
    out = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=out[1:])
    return out


def _rank_within(groups: np.ndarray) -> np.ndarray:
    """0-based position of each element within its run of equal, sorted group ids."""
    n = len(groups)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    idx = np.arange(n, dtype=np.int64)
    first = np.ones(n, dtype=bool)
    first[1:] = groups[1:] != groups[:-1]
    return idx - np.maximum.accumulate(np.where(first, idx, 0))


def _rank(values: np.ndarray) -> np.ndarray:
    """0-based rank of each value (ties broken by position)."""
    order = np.argsort(values, kind="stable")
    out = np.empty(len(values), dtype=np.int64)
    out[order] = np.arange(len(values))
    return out


_ID_CHUNK = 1 << 18


def _id_width(default: int, count: int) -> int:
    return max(default, len(str(max(count, 1))))


def make_ids(
    prefix: str, numbers: np.ndarray, width: int, valid: np.ndarray | None = None
) -> pa.Array:
    """Zero-padded string ids (``prefix`` + digits) built directly as an Arrow buffer.

    Entries where ``valid`` is False become null.

    Examples
    --------
    >>> make_ids("C", np.array([1, 42]), 6).to_pylist()
    ['C000001', 'C000042']
    """
    nums = np.asarray(numbers, dtype=np.int64)
    n = len(nums)
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        nums = nums[valid]
    if len(nums) and (nums.min() < 0 or nums.max() >= 10**width):
        raise ValueError(f"id numbers do not fit in {width} digits")
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    length = len(head) + width
    data = np.empty((len(nums), length), dtype=np.uint8)
    data[:, : len(head)] = head
    kind = np.dtype(np.uint32 if width <= 9 else np.uint64)
    ten = kind.type(10)  # a scalar divisor lets numpy use its fast division
    for lo in range(0, len(nums), _ID_CHUNK):
        rest: np.ndarray = nums[lo : lo + _ID_CHUNK].astype(kind)
        digits = np.empty((width, len(rest)), dtype=np.uint8)
        for k in range(width - 1, -1, -1):
            quot = np.floor_divide(rest, ten)
            digits[k] = rest - quot * ten
            rest = quot
        data[lo : lo + _ID_CHUNK, len(head) :] = digits.T + 48
    if len(nums) * length >= 2**31:
        raise ValueError("too many ids for one Arrow string array")
    if valid is None:
        offsets = np.arange(0, (n + 1) * length, length, dtype=np.int32)
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(valid * length, out=offsets[1:])
    bitmap = np.packbits(valid, bitorder="little")
    return pa.StringArray.from_buffers(
        n,
        pa.py_buffer(offsets),
        pa.py_buffer(data),
        pa.py_buffer(bitmap),
        null_count=int(n - valid.sum()),
    )


def _pick(vocab: pa.Array | list[str] | tuple[str, ...], idx: np.ndarray) -> pa.Array:
    """Strings ``vocab[idx]``, null where ``idx < 0``."""
    arr = vocab if isinstance(vocab, pa.Array) else pa.array(list(vocab), type=pa.string())
    idx = np.asarray(idx)
    neg = idx < 0
    return arr.take(pa.array(idx, mask=neg if neg.any() else None))


def _ts(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    mask = None if valid is None else ~np.asarray(valid, dtype=bool)
    return pa.array(np.asarray(values, dtype=np.int64), type=pa.timestamp("us"), mask=mask)


def _lognormal_seconds(rng: np.random.Generator, median: np.ndarray, sigma: float) -> np.ndarray:
    return median * np.exp(sigma * rng.standard_normal(len(median)))


# --------------------------------------------------------------------------- time


class _Clock:
    """The period, its day weights (weekly cycle, holidays) and their inverse."""

    def __init__(self, start: np.datetime64, days: int) -> None:
        self.days = days
        self.start_day = start.astype("datetime64[D]")
        self.start = int(self.start_day.astype("datetime64[us]").astype(np.int64))
        self.end = self.start + days * DAY
        self.dates = self.start_day + np.arange(days)
        self.weights = _day_weights(self.dates)
        self.cum = np.zeros(days + 1)
        np.cumsum(self.weights, out=self.cum[1:])

    def mass(self, t: np.ndarray) -> np.ndarray:
        """Weighted days from the period start to ``t`` (clipped to the period)."""
        x = np.clip((np.asarray(t) - self.start) / DAY, 0.0, float(self.days))
        d = np.minimum(x.astype(np.int64), self.days - 1)
        return self.cum[d] + self.weights[d] * (x - d)

    def invert(self, y: np.ndarray) -> np.ndarray:
        """Timestamp (us) at which the weighted-day mass reaches ``y``."""
        d = np.clip(np.searchsorted(self.cum, y, side="right") - 1, 0, self.days - 1)
        x = d + (y - self.cum[d]) / self.weights[d]
        return self.start + np.round(x * DAY).astype(np.int64)


def _weekday(dates: np.ndarray) -> np.ndarray:
    return (dates.astype("datetime64[D]").astype(np.int64) + 3) % 7  # Monday = 0


def _holiday_flags(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Black Friday week Thursday..Cyber Monday, December 1-22) masks."""
    years = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    peak = np.zeros(len(dates), dtype=bool)
    for year in np.unique(years):
        nov1 = np.datetime64(f"{year}-11-01")
        thanksgiving = nov1 + int((3 - _weekday(np.array([nov1]))[0]) % 7) + 21
        peak |= (dates >= thanksgiving) & (dates <= thanksgiving + 4)
    month = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1
    return peak, (month == 12) & (dom <= 22)


def _day_weights(dates: np.ndarray) -> np.ndarray:
    w = _WEEKDAY_WEIGHT[_weekday(dates)].copy()
    month = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1
    peak, advent = _holiday_flags(dates)
    w[peak] *= 1.9
    w[advent] *= 1.5
    dec = month == 12
    w[dec & ((dom == 23) | (dom == 24))] *= 1.2
    w[dec & (dom == 25)] *= 0.6
    w[dec & (dom >= 26)] *= 1.15
    w[(month == 1) & (dom <= 15)] *= 0.9
    return w


# --------------------------------------------------------------------------- catalogue


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
        pos = np.searchsorted(self.seg_cum, group + u, side="right")
        return self.seg_prod[np.minimum(pos, self.seg_end[group] - 1)]


def _allocate(total: int, weights: np.ndarray, minimum: int) -> np.ndarray:
    share = weights / weights.sum() * (total - minimum * len(weights))
    counts = np.floor(share).astype(np.int64)
    rest = total - minimum * len(weights) - counts.sum()
    counts[np.argsort(-(share - counts), kind="stable")[:rest]] += 1
    return counts + minimum


def _make_catalog(rng: np.random.Generator, n_customers: int) -> _Catalog:
    n_cat = len(_CATEGORY_SPECS)
    n = int(np.clip(round(20 * n_customers / 1000), 200, 5000))
    counts = _allocate(n, np.array([c.weight for c in _CATEGORY_SPECS]), minimum=8)
    cat = np.repeat(np.arange(n_cat), counts)
    rank = np.arange(n) - np.repeat(_excl_cumsum(counts), counts)
    pop = 1.0 / (rank + 1.0) ** 1.1
    pop /= np.bincount(cat, weights=pop)[cat]
    median = np.array([c.median_price for c in _CATEGORY_SPECS])[cat]
    sigma = np.array([c.price_sigma for c in _CATEGORY_SPECS])[cat]
    raw = median * np.exp(sigma * rng.standard_normal(n))
    charm = rng.random(n) < 0.75  # most prices end in .99
    cents = np.where(charm, np.floor(raw) * 100 + 99, np.round(raw * 100)).astype(np.int64)
    cents = np.maximum(cents, 99)
    zprice = (np.log(cents / 100.0) - np.log(median)) / sigma
    in_stock = rng.random(n) > 0.07
    number = rng.permutation(n) + 1

    brands = [b for c in _CATEGORY_SPECS for b in c.brands]
    brand_off = _excl_cumsum(np.array([len(c.brands) for c in _CATEGORY_SPECS]))
    brand_n = np.array([len(c.brands) for c in _CATEGORY_SPECS])
    brand = brand_off[cat] + (rng.random(n) * brand_n[cat]).astype(np.int64)
    nouns = [w for c in _CATEGORY_SPECS for w in c.nouns]
    noun_off = _excl_cumsum(np.array([len(c.nouns) for c in _CATEGORY_SPECS]))
    noun_n = np.array([len(c.nouns) for c in _CATEGORY_SPECS])
    noun = noun_off[cat] + (rng.random(n) * noun_n[cat]).astype(np.int64)
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
            make_ids("P", number, 5),
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


# --------------------------------------------------------------------------- customers


@dataclass
class _People:
    signup: np.ndarray
    taste: np.ndarray  # (n, n_cat)
    taste_cum: np.ndarray  # flattened row-offset cumulative taste for inverse CDF
    price_sensitivity: np.ndarray
    price_bin: np.ndarray
    engagement: np.ndarray
    rate: np.ndarray
    country: np.ndarray
    table: pa.Table

    def draw_category(self, cust: np.ndarray, u: np.ndarray) -> np.ndarray:
        n_cat = self.taste.shape[1]
        pos = np.searchsorted(self.taste_cum, cust + u, side="right") - cust * n_cat
        return np.minimum(pos, n_cat - 1).astype(np.int8)


def _make_people(rng: np.random.Generator, n: int, clock: _Clock) -> _People:
    n_cat = len(_CATEGORY_SPECS)
    pre = rng.random(n) < _PRE_EXISTING
    v = rng.random(n)
    u = (-1 + np.sqrt(1 + 2 * _GROWTH * v * (1 + _GROWTH / 2))) / _GROWTH
    joined = clock.start + (u * (clock.end - clock.start - SEC)).astype(np.int64)
    before = clock.start - SEC - (rng.random(n) * 730 * DAY).astype(np.int64)
    signup = np.sort(np.where(pre, before, joined))

    k = rng.choice(np.array([1, 2, 3]), size=n, p=[0.35, 0.4, 0.25])
    keys = np.log([c.weight for c in _CATEGORY_SPECS]) + rng.gumbel(size=(n, n_cat))
    rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
    alpha = np.where(rank < k[:, None], 2.0, 0.06)
    taste = rng.gamma(alpha)
    taste /= taste.sum(axis=1, keepdims=True)
    cum = np.cumsum(taste, axis=1)
    cum[:, -1] = 1.0
    taste_cum = (cum + np.arange(n)[:, None]).ravel()

    ps = rng.beta(2.0, 2.0, n)
    engagement = rng.beta(2.0, 3.0, n)
    rate = np.exp(np.log(_BASE_RATE) + 1.2 * (engagement - 0.4) + 0.7 * rng.standard_normal(n))
    country = rng.choice(len(_COUNTRIES), size=n, p=_COUNTRY_P)
    first = rng.integers(0, len(_FIRST_NAMES), n)
    last = rng.integers(0, len(_LAST_NAMES), n)
    domain = rng.choice(len(_DOMAINS), size=n, p=[0.6, 0.25, 0.15])
    age_days = ((18 + 62 * rng.beta(2.0, 3.0, n)) * 365.25).astype(np.int64)
    birth = clock.start_day.astype(np.int64) - age_days
    attr_idx = rng.integers(0, len(_ACQUISITION) * len(_TIERS), n)
    attr_idx = np.where(rng.random(n) < 0.12, -1, attr_idx)
    attr_vocab = [f'{{"acquisition": "{a}", "tier": "{t}"}}' for a in _ACQUISITION for t in _TIERS]

    width = _id_width(6, n)
    email = pc.binary_join_element_wise(
        _pick([f.lower() for f in _FIRST_NAMES], first),
        ".",
        _pick(_LAST_NAMES, last),
        pc.cast(pa.array(np.arange(1, n + 1)), pa.string()),
        "@",
        _pick(_DOMAINS, domain),
        "",
    )
    table = pa.Table.from_arrays(
        [
            make_ids("C", np.arange(1, n + 1), width),
            email,
            _pick(_FIRST_NAMES, first),
            pa.array(birth.astype(np.int32), type=pa.date32()),
            _pick(_COUNTRIES, country),
            _ts(signup),
            _pick(attr_vocab, attr_idx),
        ],
        schema=arrow_schema("customers"),
    )
    price_bin = np.minimum((ps * _PRICE_BINS).astype(np.int64), _PRICE_BINS - 1)
    return _People(signup, taste, taste_cum, ps, price_bin, engagement, rate, country, table)


# --------------------------------------------------------------------------- lifecycle


@dataclass
class _Life:
    a1: np.ndarray
    b1: np.ndarray
    a2: np.ndarray
    b2: np.ndarray
    churned: np.ndarray
    churn_at: np.ndarray
    reactivated: np.ndarray
    reactivated_at: np.ndarray

    def active(self, cust: np.ndarray, t: np.ndarray) -> np.ndarray:
        return ((self.a1[cust] <= t) & (t < self.b1[cust])) | (
            (self.a2[cust] <= t) & (t < self.b2[cust])
        )

    def interval_end(self, cust: np.ndarray, t: np.ndarray) -> np.ndarray:
        return np.where(t < self.b1[cust], self.b1[cust], self.b2[cust])


def _make_life(rng: np.random.Generator, people: _People, clock: _Clock) -> _Life:
    n = len(people.signup)
    a1 = np.maximum(people.signup, clock.start)
    hazard = 0.0018 * np.exp(2.5 * (0.4 - people.engagement))  # per day
    churn_at = a1 + (rng.exponential(1.0, n) / hazard * DAY).astype(np.int64)
    churned = churn_at < clock.end
    gap = ((30 + rng.exponential(60.0, n)) * DAY).astype(np.int64)
    react_at = churn_at + gap
    reactivated = churned & (rng.random(n) < _REACTIVATE) & (react_at < clock.end)
    b1 = np.where(churned, churn_at, clock.end)
    a2 = np.where(reactivated, react_at, clock.end)
    return _Life(a1, b1, a2, np.full(n, clock.end), churned, churn_at, reactivated, react_at)


# --------------------------------------------------------------------------- consents


@dataclass
class _Consent:
    granted0: np.ndarray  # (2, n) email, push at signup
    change: np.ndarray  # (2, n) time the state flips, or _NEVER
    table: pa.Table

    def granted(self, channel: int, cust: np.ndarray, t: np.ndarray) -> np.ndarray:
        return self.granted0[channel, cust] ^ (t >= self.change[channel, cust])


def _make_consents(
    rng: np.random.Generator, people: _People, clock: _Clock, width: int
) -> _Consent:
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
            make_ids("C", all_cust[order] + 1, width),
            pa.repeat(pa.scalar("marketing", pa.string()), rows),
            _pick(("email", "push"), all_chan[order]),
            pa.array(granted[order]),
            _ts(updated[order]),
            _pick(("signup", "preference_center"), source[order]),
        ],
        schema=arrow_schema("consents"),
    )
    return _Consent(granted0, change, table)


# --------------------------------------------------------------------------- messages


@dataclass
class _Campaign:
    name: str
    channel: int  # 0 email, 1 push
    send: int  # us
    theme: int  # category index, or -1 newsletter, -2 sale


@dataclass
class _Messages:
    cust: np.ndarray
    campaign: np.ndarray
    sent: np.ndarray
    opened: np.ndarray  # -1 if not
    clicked: np.ndarray  # -1 if not
    campaigns: list[_Campaign]


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
            kind = "email" if channel == 0 else "push"
            out.append(_Campaign(f"{kind}-{stamp}-{label}", channel, send, theme))
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
            open_delay = _lognormal_seconds(rng, np.full(m, 7200.0), 1.3)
        else:
            p_open = 0.02 + 0.25 * e
            open_delay = _lognormal_seconds(rng, np.full(m, 600.0), 1.2)
        opened = sent + (np.clip(open_delay, 10, 7 * 86400) * SEC).astype(np.int64)
        did_open = (rng.random(m) < p_open) & (opened < clock.end) & life.active(cust, opened)
        if camp.theme >= 0:
            affinity = np.clip(0.25 + 3.5 * people.taste[cust, camp.theme], 0.0, 3.0)
        elif camp.theme == -1:
            affinity = np.full(m, 0.7)
        else:
            affinity = 0.4 + 1.2 * people.price_sensitivity[cust]
        p_click = np.minimum((0.05 + 0.35 * e) * affinity, 0.95)
        click_delay = np.clip(_lognormal_seconds(rng, np.full(m, 40.0), 1.0), 2, 3600)
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


# --------------------------------------------------------------------------- sessions


@dataclass
class _Sessions:
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
    m1 = clock.mass(life.b1) - clock.mass(life.a1)
    m2 = clock.mass(life.b2) - clock.mass(life.a2)
    count = rng.poisson(people.rate * (m1 + m2))
    cust = np.repeat(np.arange(len(count)), count)
    s = len(cust)
    u = rng.random(s) * (m1 + m2)[cust]
    first = u < m1[cust]
    y = np.where(first, clock.mass(life.a1)[cust] + u, clock.mass(life.a2)[cust] + u - m1[cust])
    lo = np.where(first, life.a1[cust], life.a2[cust])
    hi = np.where(first, life.b1[cust], life.b2[cust])
    t0 = np.clip(clock.invert(y), lo, hi - 1)
    # replace the uniform time of day by the hourly profile when it stays in bounds
    hour_cdf = np.cumsum(_HOUR_WEIGHT) / _HOUR_WEIGHT.sum()
    hour = np.minimum(np.searchsorted(hour_cdf, rng.random(s), side="right"), 23)
    day_start = clock.start + (t0 - clock.start) // DAY * DAY
    cand = day_start + hour * HOUR + rng.integers(0, HOUR, s)
    t0 = np.where((cand >= lo) & (cand < hi), cand, t0)

    # visits that follow a click in a message
    clicked = np.flatnonzero(msgs.clicked >= 0)
    c_cust = msgs.cust[clicked]
    c_t0 = msgs.clicked[clicked] + rng.integers(SEC, 20 * SEC, len(clicked))
    themes = np.array([c.theme for c in msgs.campaigns] or [0], dtype=np.int64)
    c_theme = themes[msgs.campaign[clicked]]

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


# --------------------------------------------------------------------------- events


@dataclass
class _Events:
    """Events in time order (session index, type, product, ...) and the order lines."""

    session: np.ndarray  # session index per event
    etype: np.ndarray
    product: np.ndarray  # -1 if none
    category: np.ndarray  # -1 if none
    occurred: np.ndarray
    prop: np.ndarray  # index into vocab, -1 for null
    order: np.ndarray  # order index for purchase events, else -1
    vocab: list[str]
    keep: np.ndarray  # sessions that fit their activity window
    t0: np.ndarray  # session start, after fitting it into its window
    # order lines (adds kept until purchase), grouped by session
    line_session: np.ndarray
    line_product: np.ndarray
    line_qty: np.ndarray
    purchase_session: np.ndarray
    purchase_time: np.ndarray


def _vocab(campaigns: list[_Campaign]) -> tuple[list[str], dict[str, int]]:
    words: list[str] = []
    at: dict[str, int] = {}

    def add(key: str, text: str) -> None:
        at[key] = len(words)
        words.append(text)

    for p in _PAGES:
        add(f"page:{p}", f'{{"page": "{p}"}}')
    for c in CATEGORIES:
        add(f"page:/c/{c}", f'{{"page": "/c/{c}"}}')
    for k, camp in enumerate(campaigns):
        medium = "email" if camp.channel == 0 else "push"
        add(
            f"utm:{k}",
            f'{{"page": "/", "utm_medium": "{medium}", "utm_campaign": "{camp.name}"}}',
        )
    for spec in _CATEGORY_SPECS:
        for q in spec.queries:
            add(f"query:{spec.name}:{q}", f'{{"query": "{q}"}}')
    for qty in (1, 2, 3):
        add(f"qty:{qty}", f'{{"quantity": {qty}}}')
    return words, at


def _make_events(
    rng: np.random.Generator,
    people: _People,
    catalog: _Catalog,
    sess: _Sessions,
    msgs: _Messages,
) -> _Events:
    s_n = len(sess.cust)
    eng = people.engagement[sess.cust]
    clicked = sess.message >= 0
    npv = 1 + np.minimum(rng.poisson(0.6, s_n), 5)
    search = rng.random(s_n) < 0.22
    bounce = (rng.random(s_n) < 0.22) & ~clicked
    nv = np.where(bounce, 0, 1 + np.minimum(rng.poisson(0.6 + 2.6 * eng), 24))

    # product views
    v_n = int(nv.sum())
    v_sess = np.repeat(np.arange(s_n), nv)
    v_cust = sess.cust[v_sess]
    drift = rng.random(v_n) >= 0.7
    v_cat = sess.focus[v_sess].copy()
    v_cat[drift] = people.draw_category(v_cust[drift], rng.random(int(drift.sum())))
    v_prod = catalog.choose(v_cat, people.price_bin[v_cust], rng.random(v_n))

    # add to cart (maybe twice), quantities, removals
    signed = 2 * people.price_sensitivity[v_cust] - 1
    fit = np.clip(1 - 0.3 * signed * catalog.zprice[v_prod], 0.3, 1.6)
    p_add = (0.07 + 0.16 * eng[v_sess]) * fit * np.where(clicked[v_sess], 1.3, 1.0)
    added = (rng.random(v_n) < p_add) & catalog.in_stock[v_prod]
    n_add = added.astype(np.int64) + (added & (rng.random(v_n) < 0.04))
    a_view = np.repeat(np.arange(v_n), n_add)
    a_n = len(a_view)
    a_sess = v_sess[a_view]
    uq = rng.random(a_n)
    a_qty = 1 + (uq > 0.86) + (uq > 0.96)
    a_removed = rng.random(a_n) < 0.12
    adds_s = np.bincount(a_sess, minlength=s_n)
    rem_s = np.bincount(a_sess, weights=a_removed, minlength=s_n).astype(np.int64)
    kept_s = adds_s - rem_s
    p_checkout = 0.36 + 0.25 * eng + 0.1 * clicked
    checkout = (kept_s > 0) & (rng.random(s_n) < p_checkout)
    purchase = checkout & (rng.random(s_n) < 0.72 + 0.15 * eng)

    # layout: page views, search, [view, add, add?]..., removes, checkout, purchase
    per_s = npv + search + nv + adds_s + rem_s + checkout + purchase
    off = _excl_cumsum(per_s)
    e_n = int(per_s.sum())
    etype = np.empty(e_n, dtype=np.int8)
    product = np.full(e_n, -1, dtype=np.int32)
    category = np.full(e_n, -1, dtype=np.int8)
    prop = np.full(e_n, -1, dtype=np.int32)
    vocab, at = _vocab(msgs.campaigns)

    pv_sess = np.repeat(np.arange(s_n), npv)
    pv_pos = off[pv_sess] + _rank_within(pv_sess)
    etype[pv_pos] = _PV
    n_pages = len(_PAGES)
    page = rng.integers(0, n_pages + 1, len(pv_pos))
    cat_page = at[f"page:/c/{CATEGORIES[0]}"] + sess.focus[pv_sess].astype(np.int64)
    prop[pv_pos] = np.where(page < n_pages, at[f"page:{_PAGES[0]}"] + page, cat_page)
    c_sess = np.flatnonzero(clicked)
    if len(c_sess):
        prop[off[c_sess]] = at["utm:0"] + msgs.campaign[sess.message[c_sess]]

    s_idx = np.flatnonzero(search)
    pos = off[s_idx] + npv[s_idx]
    etype[pos] = _SEARCH
    q_off = np.array([at[f"query:{c.name}:{c.queries[0]}"] for c in _CATEGORY_SPECS])
    q_n = np.array([len(c.queries) for c in _CATEGORY_SPECS])
    f = sess.focus[s_idx].astype(np.int64)
    prop[pos] = q_off[f] + (rng.random(len(s_idx)) * q_n[f]).astype(np.int64)

    block = 1 + n_add
    g = _excl_cumsum(block)
    v_start = _excl_cumsum(nv)
    v_pos = off[v_sess] + npv[v_sess] + search[v_sess] + g - g[v_start[v_sess]]
    etype[v_pos] = _VIEW
    product[v_pos] = v_prod
    category[v_pos] = catalog.category[v_prod]

    a_pos = v_pos[a_view] + 1 + _rank_within(a_view)
    a_prod = v_prod[a_view]
    etype[a_pos] = _ADD
    product[a_pos] = a_prod
    category[a_pos] = catalog.category[a_prod]
    prop[a_pos] = at["qty:1"] + a_qty - 1

    tail = off + npv + search + nv + adds_s
    r_idx = np.flatnonzero(a_removed)
    r_sess = a_sess[r_idx]
    r_pos = tail[r_sess] + _rank_within(r_sess)
    etype[r_pos] = _REMOVE
    product[r_pos] = a_prod[r_idx]
    category[r_pos] = catalog.category[a_prod[r_idx]]
    c_idx = np.flatnonzero(checkout)
    etype[tail[c_idx] + rem_s[c_idx]] = _CHECKOUT
    p_idx = np.flatnonzero(purchase)
    p_pos = tail[p_idx] + rem_s[p_idx] + 1
    etype[p_pos] = _PURCHASE

    # timestamps: seconds to minutes apart, increasing within a session
    # (float32 and in-place steps keep the peak memory of this 10M-row step low)
    gap = rng.standard_normal(e_n, dtype=np.float32)
    gap *= 0.8
    np.exp(gap, out=gap)
    gap *= _GAP_MEDIAN_S.astype(np.float32)[etype]
    np.clip(gap, 1.0, 900.0, out=gap)
    gap *= SEC
    cum = gap.astype(np.int64)
    del gap
    cum[off] = 0
    np.cumsum(cum, out=cum)
    ev_sess = np.repeat(np.arange(s_n, dtype=np.int32), per_s)
    last = off + per_s - 1
    duration = cum[last] - cum[off]
    t0 = np.maximum(np.minimum(sess.t0, sess.hi - duration - SEC), sess.lo)
    keep = t0 + duration < sess.hi
    occurred = cum
    occurred += (t0 - cum[off])[ev_sess]
    del cum
    order = np.full(e_n, -1, dtype=np.int32)

    purchase &= keep
    p_idx = np.flatnonzero(purchase)
    order[tail[p_idx] + rem_s[p_idx] + 1] = np.arange(len(p_idx))
    line = purchase[a_sess] & ~a_removed

    # drop sessions that do not fit their window, then put events in time order
    cols: dict[str, np.ndarray] = {
        "session": ev_sess,
        "etype": etype,
        "product": product,
        "category": category,
        "prop": prop,
        "order": order,
    }
    del ev_sess, etype, product, category, prop, order
    ev_keep = keep[cols["session"]]
    if not ev_keep.all():
        occurred = occurred[ev_keep]
        cols = {k: v[ev_keep] for k, v in cols.items()}
    perm = np.argsort(occurred, kind="stable")
    occurred = occurred[perm]
    for key in cols:
        cols[key] = cols[key][perm]
    del perm
    return _Events(
        session=cols["session"],
        etype=cols["etype"],
        product=cols["product"],
        category=cols["category"],
        occurred=occurred,
        prop=cols["prop"],
        order=cols["order"],
        vocab=vocab,
        keep=keep,
        t0=t0,
        line_session=a_sess[line],
        line_product=a_prod[line],
        line_qty=a_qty[line],
        purchase_session=p_idx,
        purchase_time=t0[p_idx] + duration[p_idx],
    )


# --------------------------------------------------------------------------- orders


@dataclass
class _Orders:
    cust: np.ndarray
    time: np.ndarray
    rank: np.ndarray  # order number - 1 (orders are numbered by time)
    discount: np.ndarray  # index into _DISCOUNTS, -1 for none
    width: int
    orders: pa.Table
    items: pa.Table


def _make_orders(
    rng: np.random.Generator,
    people: _People,
    catalog: _Catalog,
    sess: _Sessions,
    ev: _Events,
) -> _Orders:
    o_sess = ev.purchase_session
    o_n = len(o_sess)
    o_cust = sess.cust[o_sess]
    o_time = ev.purchase_time
    order_of = np.full(len(sess.cust), -1, dtype=np.int64)
    order_of[o_sess] = np.arange(o_n)
    l_order = order_of[ev.line_session]
    line_no = _rank_within(l_order) + 1
    unit = catalog.price_cents[ev.line_product]
    subtotal = np.bincount(l_order, weights=unit * ev.line_qty, minlength=o_n)
    p_disc = 0.05 + 0.12 * people.price_sensitivity[o_cust] + 0.45 * sess.sale[o_sess]
    has = rng.random(o_n) < p_disc
    d_idx = np.where(has, rng.integers(0, len(_DISCOUNTS), o_n), -1)
    rate = np.where(has, np.asarray(_DISCOUNTS)[np.maximum(d_idx, 0)], 0.0)
    total = np.rint(subtotal * (1.0 - rate)) / 100.0
    currencies = ("USD", "EUR", "GBP")
    local = np.array([currencies.index(c) for c in _LOCAL_CURRENCY])[people.country[o_cust]]
    currency = np.where(rng.random(o_n) < 0.35, local, 0)

    width = _id_width(8, o_n)
    rank = _rank(o_time)
    by_time = np.argsort(o_time, kind="stable")
    orders = pa.Table.from_arrays(
        [
            make_ids("O", np.arange(1, o_n + 1), width),
            make_ids("C", o_cust[by_time] + 1, _id_width(6, len(people.signup))),
            _ts(o_time[by_time]),
            pa.array(total[by_time]),
            _pick(currencies, currency[by_time]),
            _pick(("web", "app"), sess.app[o_sess][by_time].astype(np.int64)),
        ],
        schema=arrow_schema("orders"),
    )
    l_rank = rank[l_order]
    li = np.argsort(l_rank, kind="stable")
    items = pa.Table.from_arrays(
        [
            make_ids("O", l_rank[li] + 1, width),
            pa.array(line_no[li].astype(np.int32)),
            make_ids("P", catalog.number[ev.line_product[li]], 5),
            pa.array(ev.line_qty[li].astype(np.int32)),
            pa.array(unit[li] / 100.0),
        ],
        schema=arrow_schema("order_items"),
    )
    return _Orders(o_cust, o_time, rank, d_idx, width, orders, items)


def _first_after(
    keys: np.ndarray, times: np.ndarray, key: np.ndarray, after: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For rows sorted by (keys, times): index of the first row of ``key`` with time > ``after``.

    Returns (index, found) with a vectorised binary search inside each key's segment.
    """
    lo = np.searchsorted(keys, key, side="left")
    end = np.searchsorted(keys, key, side="right")
    hi = end.copy()
    while True:
        open_ = lo < hi
        if not open_.any():
            break
        mid = (lo + hi) // 2
        go = times[np.minimum(mid, len(times) - 1)] <= after
        lo = np.where(open_ & go, mid + 1, lo)
        hi = np.where(open_ & ~go, mid, hi)
    return lo, lo < end


def _conversions(msgs: _Messages, orders: _Orders) -> np.ndarray:
    """Time of the first order within the attribution window after a click, else -1."""
    out = np.full(len(msgs.cust), -1, dtype=np.int64)
    clicked = np.flatnonzero(msgs.clicked >= 0)
    if not len(clicked) or not len(orders.cust):
        return out
    by = np.lexsort((orders.time, orders.cust))
    keys, times = orders.cust[by], orders.time[by]
    at = msgs.clicked[clicked]
    idx, found = _first_after(keys, times, msgs.cust[clicked], at)
    hit = np.where(found, times[np.minimum(idx, len(times) - 1)], -1)
    ok = found & (hit <= at + _ATTRIBUTION_US)
    out[clicked[ok]] = hit[ok]
    return out


# --------------------------------------------------------------------------- tables


def _events_table(
    people: _People, catalog: _Catalog, sess: _Sessions, ev: _Events, orders: _Orders
) -> pa.Table:
    e_n = len(ev.occurred)
    kept = np.flatnonzero(ev.keep)
    s_num = np.zeros(len(sess.cust), dtype=np.int64)
    s_num[kept] = _rank(ev.t0[kept]) + 1
    props = _pick(ev.vocab, ev.prop)
    is_purchase = ev.order >= 0
    if is_purchase.any():
        o = ev.order[is_purchase]
        suffix = ['"}'] + [f'", "discount": {d}}}' for d in _DISCOUNTS]
        text = pc.binary_join_element_wise(
            '{"order_id": "',
            make_ids("O", orders.rank[o] + 1, orders.width),
            _pick(suffix, orders.discount[o] + 1),
            "",
        )
        props = pc.replace_with_mask(props, pa.array(is_purchase), text)
    del is_purchase
    has_product = ev.product >= 0
    return pa.Table.from_arrays(
        [
            make_ids("E", np.arange(1, e_n + 1), _id_width(9, e_n)),
            make_ids("C", sess.cust[ev.session] + 1, _id_width(6, len(people.signup))),
            make_ids("S", s_num[ev.session], _id_width(8, len(kept))),
            _pick(EVENT_TYPES, ev.etype),
            make_ids("P", catalog.number[np.maximum(ev.product, 0)], 5, valid=has_product),
            _pick(CATEGORIES, ev.category),
            _ts(ev.occurred),
            props,
        ],
        schema=arrow_schema("events"),
    )


def _messages_table(people: _People, msgs: _Messages, converted: np.ndarray) -> pa.Table:
    perm = np.argsort(msgs.sent, kind="stable")
    m_n = len(perm)
    camp = msgs.campaign[perm]
    channels = np.array([c.channel for c in msgs.campaigns] or [0], dtype=np.int64)
    opened, clicked, conv = msgs.opened[perm], msgs.clicked[perm], converted[perm]
    return pa.Table.from_arrays(
        [
            make_ids("M", np.arange(1, m_n + 1), _id_width(8, m_n)),
            make_ids("C", msgs.cust[perm] + 1, _id_width(6, len(people.signup))),
            _pick(("email", "push"), channels[camp]),
            _pick([c.name for c in msgs.campaigns], camp),
            _ts(msgs.sent[perm]),
            _ts(opened, valid=opened >= 0),
            _ts(clicked, valid=clicked >= 0),
            _ts(conv, valid=conv >= 0),
        ],
        schema=arrow_schema("messages"),
    )


def _truth_table(people: _People, life: _Life) -> pa.Table:
    cols: dict[str, pa.Array] = {"customer_id": people.table.column("customer_id").combine_chunks()}
    for k, name in enumerate(CATEGORIES):
        cols[f"taste_{name}"] = pa.array(people.taste[:, k])
    cols["price_sensitivity"] = pa.array(people.price_sensitivity)
    cols["engagement"] = pa.array(people.engagement)
    cols["activity_rate"] = pa.array(people.rate)
    cols["churn_at"] = _ts(life.churn_at, valid=life.churned)
    cols["reactivated_at"] = _ts(np.where(life.reactivated, life.a2, 0), valid=life.reactivated)
    return pa.table(cols)


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
    consent = _make_consents(rngs["consents"], people, clock, _id_width(6, n))
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
