"""Incremental snapshots: tomorrow's features from today's state plus the new days.

Next to each stored snapshot the warehouse keeps the *feature state* it was made
from (tables ``feature_state_*``):

- per customer: lifetime counts and sums, first and last times, the running mean
  and spread of inter-purchase gaps, session totals, message counts, and decayed
  sums (activity, sends, hits);
- per customer the windowed counts and sums (orders, spend, views, carts,
  searches, sessions, abandoned carts over each window), and the daily rollups
  they are made of, so a sliding window adds the new days and drops the ones
  leaving it;
- per session its first and last event and size (sessions may cross midnight);
- per customer and category or brand the decayed activity, per customer and
  category the price paid, and per category its event count (the top categories).

Decayed sums are kept relative to a fixed *anchor* time: an event at ``t`` adds
``2^((t - anchor)/half-life)``, and the value at ``B`` is the sum times
``2^(-(B - anchor)/half-life)``, so new weights are added without touching the old.

Advancing from ``A`` to ``B`` reads only the rows with times in ``[A, B)`` (and the
carts whose outcome became known), merges them into the state (only customers with
new data, or with days leaving a window, get new state rows), and stores the
snapshot at ``B`` as patches on the one at ``A`` (see
:mod:`nextbest.features.store`): per family, the rows of the customers whose
values changed other than by time passing. Families without an incremental form
(custom features, user modules) are stored in full at ``B``, and so is a family
whose patches have grown as large as the full part they build on.

A step runs the same statements every day; only ``A`` and ``B`` change. They are
compiled once (with ``A`` and ``B`` read from a one-row parameters table) and kept
in the warehouse (:class:`nextbest.warehouse.statements.Statements`), keyed by the
feature settings, the code and the schema of the tables read, so the next day's
step runs the stored SQL without building a query. Only families from user
modules are compiled each time.

The result equals a full recompute (tests prove it on random days). The state is
rebuilt in full instead when that cannot hold: no state yet, changed feature
settings, an ``as_of`` that is not a later midnight, rows added before the state's
``as_of`` since it was made, changed customer profiles or product catalogue, or a
replaced snapshot at ``A``; the result says which.

>>> import datetime as dt, tempfile, pathlib
>>> from nextbest.warehouse import Warehouse
>>> with Warehouse(pathlib.Path(tempfile.mkdtemp()) / "w.duckdb") as wh:
...     first = update_snapshot(wh, dt.datetime(2025, 1, 1))
...     second = update_snapshot(wh, dt.datetime(2025, 1, 2))
>>> first.mode, first.reason
('full', 'no feature state yet')
>>> second.mode, second.since
('incremental', datetime.datetime(2025, 1, 1, 0, 0))
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis

from nextbest.config import FeatureSettings
from nextbest.features.behaviour import abandoned_carts, finish_behaviour
from nextbest.features.context import Context
from nextbest.features.engagement import finish_engagement
from nextbest.features.lifecycle import lifecycle_from, next_birthday
from nextbest.features.preferences import preferences_from, weighted_activity
from nextbest.features.registry import REGISTRY, Feature
from nextbest.features.rfm import finish_rfm
from nextbest.features.snapshot import assemble, typed
from nextbest.features.store import (
    PARTS_TABLE,
    NewPart,
    Part,
    current_parts,
    save_snapshot,
    write_snapshot,
)
from nextbest.schema import TABLES
from nextbest.warehouse import Warehouse
from nextbest.warehouse.statements import Statements, schema_key
from nextbest.warehouse.writes import overwrite

__all__ = ["Update", "update_snapshot"]

# the families whose rows a step writes as patches (the others are written in full)
INCREMENTAL = ("rfm", "behaviour", "preferences", "engagement", "lifecycle")
# the families whose queries only depend on as_of through the context's cut
# (families from user modules turn the cache of compiled statements off)
BUILT_IN = (*INCREMENTAL, "custom")
MAX_DEPTH = 32  # patches on one full part at most (bounds what a read goes through)

CUSTOMERS = "feature_state_customers"
DAILY = "feature_state_daily"
SESSIONS = "feature_state_sessions"
AFFINITY = "feature_state_affinity"
PRICES = "feature_state_prices"
CATEGORIES = "feature_state_categories"
WINDOWS = "feature_state_windows"
MESSAGES = "feature_state_messages"
META = "feature_state_meta"
STATE_TABLES = (CUSTOMERS, DAILY, SESSIONS, AFFINITY, PRICES, CATEGORIES, WINDOWS, MESSAGES)
# the state tables a step upserts: their key columns, and the scratch table they come from
STATE_KEYS: dict[str, tuple[str, list[str]]] = {
    CUSTOMERS: ("customers", ["customer_id"]),
    AFFINITY: ("affinity", ["customer_id", "kind", "key"]),
    PRICES: ("prices", ["customer_id", "category"]),
    DAILY: ("daily", ["customer_id", "day"]),
    SESSIONS: ("sessions", ["customer_id", "session_id"]),
    WINDOWS: ("windows", ["customer_id"]),
    MESSAGES: ("messages", ["customer_id"]),
}

STATE_VERSION = 4  # the state tables and guards as written (older states are rebuilt)
LN2 = 0.6931471805599453
MAX_HALF_LIVES = 500  # from the anchor (2^500: far from overflowing a float)
TS = "timestamp(6)"

# daily rollup column -> the windowed feature it sums to
ROLLUPS = {
    "orders": "frequency",
    "spend": "monetary",
    "product_views": "product_views",
    "add_to_carts": "add_to_carts",
    "searches": "searches",
    "sessions": "sessions",
    "abandoned": "cart_abandonments",
}
COUNTED_EVENTS = {
    "product_views": "product_view",
    "add_to_carts": "add_to_cart",
    "searches": "search",
}

# per-customer delta columns: type and how parts of one customer combine
DELTA: dict[str, tuple[str, str]] = {
    "d_orders": ("int64", "sum"),
    "d_spend": ("float64", "sum"),
    "d_first": (TS, "min"),
    "d_last": (TS, "max"),
    "g_n": ("int64", "sum"),
    "g_mean": ("float64", "max"),  # one part only (the orders)
    "g_m2": ("float64", "max"),
    "d_last_event": (TS, "max"),
    "d_activity": ("float64", "sum"),
    "d_sessions": ("int64", "sum"),
    "d_minutes": ("float64", "sum"),
    "d_bounces": ("int64", "sum"),
    "d_last_abandoned": (TS, "max"),
    "d_lined": ("int64", "sum"),
    "d_discounted": ("int64", "sum"),
}
# customer state column -> (the delta column it grows by, how)
STATE: dict[str, tuple[str, str]] = {
    "n_orders": ("d_orders", "add"),
    "spend": ("d_spend", "add"),
    "first_order": ("d_first", "min"),
    "last_order": ("d_last", "max"),
    "last_event": ("d_last_event", "max"),
    "activity": ("d_activity", "add"),
    "n_sessions": ("d_sessions", "add"),
    "session_minutes": ("d_minutes", "add"),
    "bounces": ("d_bounces", "add"),
    "last_abandoned": ("d_last_abandoned", "max"),
    "lined_orders": ("d_lined", "add"),
    "discounted_orders": ("d_discounted", "add"),
}
# the same for the messages (kept apart: a campaign reaches many customers at once)
MESSAGE_DELTA: dict[str, tuple[str, str]] = {
    "d_sent": ("int64", "sum"),
    "d_opened": ("int64", "sum"),
    "d_clicked": ("int64", "sum"),
    "d_last_open": (TS, "max"),
    "d_w_sent": ("float64", "sum"),
    "d_w_hit": ("float64", "sum"),
}
MESSAGE_STATE: dict[str, tuple[str, str]] = {
    "sent": ("d_sent", "add"),
    "opened": ("d_opened", "add"),
    "clicked": ("d_clicked", "add"),
    "last_open": ("d_last_open", "max"),
    "w_sent": ("d_w_sent", "add"),
    "w_hit": ("d_w_hit", "add"),
}


@dataclass
class Update:
    """What :func:`update_snapshot` did: rows stored, and how."""

    as_of: dt.datetime
    rows: int
    mode: str  # "incremental" or "full"
    since: dt.datetime | None = None  # the state advanced from (incremental)
    reason: str = ""  # why a full build was needed
    # seconds per statement of an incremental step, and its commit (a profile)
    timings: dict[str, float] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "rows": self.rows,
            "mode": self.mode,
            "since": self.since.isoformat() if self.since else None,
            "reason": self.reason,
        }


def update_snapshot(
    wh: Warehouse,
    as_of: dt.datetime,
    settings: FeatureSettings | None = None,
    *,
    full: bool = False,
) -> Update:
    """Store the snapshot as of ``as_of``: incrementally from the stored state when it
    can, else in full (then the state is rebuilt for the next day). ``full`` forces
    a full build. Only midnights keep a state (days are the state's unit)."""
    settings = settings or FeatureSettings()
    if not _midnight(as_of):
        rows = save_snapshot(wh, as_of, settings)
        return Update(as_of, rows, "full", None, f"as_of {as_of} is not a midnight")
    run = Statements(wh, _job_key(wh, settings))
    check = _state_usable(wh, run, as_of, settings)
    since, reason = check.since, check.reason
    if full:
        since, reason = None, "full build requested"
    if since is None:
        step = _Step(wh, None, as_of, settings, Statements(wh, None))
        step.stage_state()

        def with_state() -> None:
            step.write_state()
            parts = current_parts(wh, as_of)
            meta = _meta(as_of, as_of, settings, step.top_categories(), parts, check.guards)
            overwrite(wh, META, ibis.memtable({k: [v] for k, v in meta.items()}))
            run.save()

        rows = save_snapshot(wh, as_of, settings, then=with_state)
    else:
        step = _Step(wh, since, as_of, settings, run)
        step.stage_state()
        step.stage_parts(check.categories, check.parents)
        with wh.transaction():
            parts = step.store_parts()
            step.write_state()
            anchor = check.anchor or as_of
            meta = _meta(as_of, anchor, settings, step.top_categories(), parts, check.guards)
            run.execute("meta:delete", lambda: f'DELETE FROM "{META}"')
            columns = ", ".join(f'"{c}"' for c in meta)
            marks = ", ".join("?" for _ in meta)
            run.execute(
                "meta:insert",
                lambda: f'INSERT INTO "{META}" ({columns}) VALUES ({marks})',
                params=list(meta.values()),
            )
            run.save()
            committing = time.perf_counter()
        run.timings["commit"] = time.perf_counter() - committing
        rows = int(check.guards["customers"])
    wh.clear_scratch()
    mode = "full" if since is None else "incremental"
    return Update(as_of, rows, mode, since, reason, run.timings)


# -- when the state can be used ----------------------------------------------------------


def _settings_key(settings: FeatureSettings) -> str:
    keep = ("windows", "half_life_days", "abandonment_hours")
    return json.dumps({k: getattr(settings, k) for k in keep}, sort_keys=True)


@functools.cache
def _code_key() -> str:
    """A fingerprint of the code the step's SQL comes from (features, warehouse, schema)."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for folder in ("features", "warehouse"):
        for path in sorted((root / folder).glob("*.py")):
            digest.update(path.read_bytes())
    digest.update((root / "schema.py").read_bytes())
    return digest.hexdigest()


def _job_key(wh: Warehouse, settings: FeatureSettings) -> str | None:
    """What the step's compiled SQL depends on; None when it cannot be kept (families
    from user modules may read ``as_of`` in ways a stored query would not follow)."""
    if settings.modules or any(f.name not in BUILT_IN for f in REGISTRY):
        return None
    tables = [*TABLES, *STATE_TABLES, META, PARTS_TABLE]
    return json.dumps(
        ["incremental", _code_key(), settings.model_dump_json(), schema_key(wh, tables)]
    )


def _guards(run: Statements) -> ibis.Table:
    """Row counts before the parameters ``since`` and ``as_of``, fingerprints of the
    customer profiles known then and of the catalogue (what must not change), as one
    row."""
    wh = run.wh
    cuts = {when: run.param(when) for when in ("since", "as_of")}
    values: dict[str, ibis.Value] = {}
    for name, column in (
        ("orders", "ordered_at"),
        ("events", "occurred_at"),
        ("messages", "sent_at"),
        ("customers", "signup_at"),
    ):
        t = wh.table(name)
        total = t.count().as_scalar()
        # rows before a cut: all but those from it on (which the time order finds fast)
        values.update(
            {
                f"{name}_{when}": total - t.filter(t[column] >= cut).count().as_scalar()
                for when, cut in cuts.items()
            }
        )
        counted: dict[str, ibis.Value] = {}
        if name == "customers":  # and what the lifecycle features read of them
            # hashed as a record, not as text: no value is formatted
            profile = ibis.struct(
                {"id": t.customer_id, "signup": t.signup_at, "birth": t.birth_date}
            )
            for when, cut in cuts.items():
                known = t.signup_at.isnull() | (t.signup_at < cut)
                counted[f"profiles_{when}"] = ibis.ifelse(known, profile.hash(), 0).sum()
            row = t.aggregate(**counted)
            values.update({c: row[c].as_scalar() for c in counted})
    p = wh.table("products")
    key = ibis.struct({"id": p.product_id, "category": p.category, "brand": p.brand})
    values["products_n"] = p.count().as_scalar()
    values["products_hash"] = key.hash().sum().as_scalar()
    return run.table("params").select(**values)


def _guard_values(row: dict[str, Any], when: str) -> dict[str, str]:
    out = {name: str(row[f"{name}_{when}"]) for name in ("orders", "events", "messages")}
    out["customers"] = str(row[f"customers_{when}"])
    out["profiles"] = str(row[f"profiles_{when}"] or 0)
    out["products"] = f"{row['products_n']}:{row['products_hash'] or 0}"
    return out


def _meta(
    as_of: dt.datetime,
    anchor: dt.datetime,
    settings: FeatureSettings,
    categories: list[str],
    parts: dict[str, Part],
    guards: dict[str, str],
) -> dict[str, Any]:
    return {
        "parts": json.dumps({name: p.part for name, p in parts.items()}),
        "categories": json.dumps(categories),
        "as_of": as_of,
        "anchor": anchor,
        "settings": _settings_key(settings),
        "version": STATE_VERSION,
        "guards": json.dumps(guards),
    }


def _midnight(t: dt.datetime) -> bool:
    return t == dt.datetime(t.year, t.month, t.day)


@dataclass
class _Check:
    """Whether the state can grow to ``as_of``: its ``as_of`` (``since``), top
    categories and snapshot parts, else why not; and the guards as of ``as_of`` (for
    the next check)."""

    since: dt.datetime | None
    reason: str
    categories: list[str]
    guards: dict[str, str]
    parents: dict[str, Part] = field(default_factory=dict)
    anchor: dt.datetime | None = None  # what the state's decayed sums are relative to


def _state_usable(
    wh: Warehouse, run: Statements, as_of: dt.datetime, settings: FeatureSettings
) -> _Check:
    """Whether the snapshot at ``as_of`` can grow from the stored state (binds the
    parameters ``since`` and ``as_of`` of ``run``)."""
    meta = None
    if wh.has_table(META):
        meta = run.query("meta", lambda: wh.table(META))[0]
    since = meta["as_of"] if meta is not None else as_of
    anchor = meta.get("anchor") if meta is not None else None
    back = {
        f"{name}_minus_{w}": ((moment - dt.timedelta(days=w)).date(), "date")
        for w in settings.windows
        for name, moment in (("A", since), ("B", as_of))
    }
    run.bind(since=(since, TS), as_of=(as_of, TS), anchor=(anchor or as_of, TS), **back)
    row = run.query("guards", lambda: _guards(run))[0]
    guards = _guard_values(row, "as_of")

    def no(reason: str) -> _Check:
        return _Check(None, reason, [], guards)

    if meta is None:
        return no("no feature state yet")
    if meta.get("version") != STATE_VERSION:
        return no("the feature state was made by another version")
    if meta["settings"] != _settings_key(settings):
        return no("feature settings changed")
    if as_of <= since:
        return no(f"as_of {as_of} is not after the state's {since}")
    if (as_of - meta["anchor"]).days > MAX_HALF_LIVES * settings.half_life_days:
        return no(f"the decayed sums' anchor {meta['anchor']} is too far back")
    parents = current_parts(wh, since)
    if {name: p.part for name, p in parents.items()} != json.loads(meta["parts"]):
        return no(f"the snapshot as of {since} is gone or was replaced")
    if json.loads(meta["guards"]) != _guard_values(row, "since"):
        return no(f"data before {since}, customer profiles or the product catalogue changed")
    return _Check(since, "", json.loads(meta["categories"]), guards, parents, meta["anchor"])


# -- one step: the state at A plus the rows in [A, B) -------------------------------------


def _lit(t: dt.datetime) -> ibis.Value:
    return ibis.literal(t, type=TS)


def _least(a: ibis.Value, b: ibis.Value) -> ibis.Value:
    return ibis.least(a.fill_null(b), b.fill_null(a))


def _greatest(a: ibis.Value, b: ibis.Value) -> ibis.Value:
    return ibis.greatest(a.fill_null(b), b.fill_null(a))


def _variant(categories: list[str]) -> str:
    """A short name for the preferences' shape (their affinity columns)."""
    return hashlib.sha256(json.dumps(categories).encode()).hexdigest()[:16]


class _Step:
    """The deltas of one step, staged once, and the state and snapshot they give.

    Expressions are only built when ``run`` has no stored SQL for them. The step's
    moments are ``A`` and ``B``: the parameters of ``run`` when it grows a state,
    else ``B`` is ``as_of`` itself.
    """

    def __init__(
        self,
        wh: Warehouse,
        since: dt.datetime | None,
        as_of: dt.datetime,
        settings: FeatureSettings,
        run: Statements,
    ) -> None:
        self.wh, self.since, self.as_of, self.settings = wh, since, as_of, settings
        self.run = run
        self.fresh = since is None  # building the state from nothing
        self._top: list[str] | None = None
        self._parts: list[NewPart] = []
        self._state: dict[str, ibis.Table] = {}
        if not self.fresh:
            # the context's cut is the literal as_of: compiled, it reads the parameter
            run.substitute = lambda: {_lit(as_of): run.param("as_of")}

    @functools.cached_property
    def ctx(self) -> Context:
        """The tables cut at ``as_of`` (the top categories come from the merged counts)."""
        return Context.from_warehouse(self.wh, self.as_of, self.settings, categories=[])

    @functools.cached_property
    def orders(self) -> ibis.Table:
        return self._new(self.ctx["orders"], "ordered_at")

    @functools.cached_property
    def events(self) -> ibis.Table:
        return self._new(self.ctx["events"], "occurred_at")

    @property
    def A(self) -> ibis.Value:
        """The state's ``as_of`` (only for a step that grows an existing state)."""
        if self.fresh:
            raise ValueError("a state built from nothing has no start")
        return self.run.param("since")

    @property
    def B(self) -> ibis.Value:
        """The moment of the snapshot being made."""
        return _lit(self.as_of) if self.fresh else self.run.param("as_of")

    def old(self, name: str) -> ibis.Table:
        """State table ``name`` as it was before this step."""
        if name not in self._state:
            self._state[name] = self.wh.table(name)
        return self._state[name]

    def _t(self, name: str) -> ibis.Table:
        """Scratch table ``name`` staged by this step."""
        return self.run.table(name)

    # rows that are new in this step
    def _new(self, t: ibis.Table, column: str) -> ibis.Table:
        return t if self.fresh else t.filter(t[column] >= self.A)

    def _growth(self) -> ibis.Value:
        """2^((as_of - anchor)/half-life): what a weight decayed to ``as_of`` is
        multiplied by to be kept relative to the state's fixed anchor, so sums of
        weights from different days add up without being decayed again."""
        if self.fresh:
            return ibis.literal(1.0)
        return (self.ctx.age_days(self.run.param("anchor")) * self._per_day()).exp()

    def _per_day(self) -> float:
        return LN2 / self.ctx.settings.half_life_days

    def _back(self, moment: str, days: int) -> ibis.Value:
        """The date ``days`` days before ``A`` or ``B`` (``moment``): a parameter, so
        that the engine compares the stored days with a plain date."""
        if self.fresh:
            return ibis.literal((self.as_of - dt.timedelta(days=days)).date())
        return self.run.param(f"{moment}_minus_{days}")

    def stage_state(self) -> None:
        """Stage the deltas and the merged state rows."""
        run = self.run
        run.stage("sessions", self._sessions)
        run.stage("carts", self._abandoned)
        run.stage("items", self._items)
        run.stage("delta", self._customer_delta)
        run.stage("message_delta", self._messages)
        run.stage("daily_delta", self._daily_delta)
        run.stage("customers", self._merged_customers)
        run.stage("messages", self._merged_messages)
        run.stage("affinity", self._merged_affinity)
        run.stage("prices", self._merged_prices)
        run.stage("daily", self._merged_daily)
        if not self.fresh:
            run.stage("leaving", self._leaving)
        run.stage("windows", self._merged_windows)
        run.stage("categories", self._merged_categories)

    # ---- deltas ----
    def _sessions(self) -> ibis.Table:
        """The sessions with new events, merged with what the state knew of them."""
        e = self.events.filter(self.events.session_id.notnull())
        new = e.group_by(["customer_id", "session_id"]).aggregate(
            first=e.occurred_at.min(), last=e.occurred_at.max(), events=e.count()
        )
        if self.fresh:
            return new.mutate(
                o_first=ibis.null().cast(TS),
                o_last=ibis.null().cast(TS),
                o_events=ibis.null().cast("int64"),
            )
        old = self.old(SESSIONS).select(
            "customer_id", "session_id", o_first="first", o_last="last", o_events="events"
        )
        j = new.left_join(old, ["customer_id", "session_id"]).drop(
            "customer_id_right", "session_id_right"
        )
        return j.mutate(
            first=_least(j.first, j.o_first),
            last=_greatest(j.last, j.o_last),
            events=j.events + j.o_events.fill_null(0),
        )

    def _abandoned(self) -> ibis.Table:
        """Carts whose outcome became known in this step and were abandoned."""
        ctx = self.ctx
        horizon = ibis.interval(seconds=int(ctx.settings.abandonment_hours * 3600))
        if self.fresh:
            return abandoned_carts(ctx, ctx["events"])
        start = self.A - horizon  # settled before: cart + horizon < since
        e = ctx["events"]
        carts = abandoned_carts(ctx, e.filter(e.occurred_at >= start))
        return carts.filter(carts.occurred_at >= start)

    def _part(self, t: ibis.Table, **columns: ibis.Value) -> ibis.Table:
        return t.select(
            "customer_id",
            **{
                name: columns.get(name, ibis.null()).cast(dtype)
                for name, (dtype, _) in DELTA.items()
            },
        )

    def _customer_delta(self) -> ibis.Table:
        ctx = self.ctx
        o = self.orders
        prev = (
            self.old(CUSTOMERS).select(
                "customer_id", ordered_at="last_order", _new=ibis.literal(False)
            )
            if not self.fresh
            else None
        )
        rows = o.select("customer_id", "ordered_at", _new=ibis.literal(True))
        if prev is not None:
            rows = rows.union(prev.filter(prev.ordered_at.notnull()).semi_join(o, "customer_id"))
        before = rows.ordered_at.lag().over(group_by="customer_id", order_by="ordered_at")
        gaps = rows.mutate(_gap=ctx.age_days(before) - ctx.age_days(rows.ordered_at))
        gaps = gaps.filter(gaps._new & gaps._gap.notnull())
        gap_stats = gaps.group_by("customer_id").aggregate(
            g_n=gaps.count(), g_mean=gaps._gap.mean(), g_m2=gaps._gap.var(how="pop") * gaps.count()
        )
        orders = o.group_by("customer_id").aggregate(
            d_orders=o.count(),
            d_spend=o.total.cast("float64").sum(),
            d_first=o.ordered_at.min(),
            d_last=o.ordered_at.max(),
        )
        e = self.events
        events = e.group_by("customer_id").aggregate(
            d_last_event=e.occurred_at.max(),
            d_activity=(ctx.decay(e.occurred_at) * self._growth()).sum(),
        )
        s = self._t("sessions")
        existed = s.o_events.notnull()
        minutes = (ctx.age_days(s.first) - ctx.age_days(s.last)) * 1440.0
        old_minutes = (ctx.age_days(s.o_first) - ctx.age_days(s.o_last)) * 1440.0
        sessions = s.group_by("customer_id").aggregate(
            d_sessions=(~existed).cast("int64").sum(),
            d_minutes=(minutes - old_minutes.fill_null(0.0)).sum(),
            d_bounces=(
                (s.events == 1).cast("int64") - (s.o_events == 1).fill_null(False).cast("int64")
            ).sum(),
        )
        c = self._t("carts")
        carts = c.group_by("customer_id").aggregate(d_last_abandoned=c.occurred_at.max())
        parts = [
            self._part(
                orders, **{k: orders[k] for k in ("d_orders", "d_spend", "d_first", "d_last")}
            ),
            self._part(gap_stats, g_n=gap_stats.g_n, g_mean=gap_stats.g_mean, g_m2=gap_stats.g_m2),
            self._part(events, d_last_event=events.d_last_event, d_activity=events.d_activity),
            self._part(
                sessions, **{k: sessions[k] for k in ("d_sessions", "d_minutes", "d_bounces")}
            ),
            self._part(carts, d_last_abandoned=carts.d_last_abandoned),
            self._discounts(),
        ]
        u = ibis.union(*parts)
        how = {"sum": lambda v: v.sum(), "min": lambda v: v.min(), "max": lambda v: v.max()}
        return u.group_by("customer_id").aggregate(
            **{name: how[kind](u[name]) for name, (_, kind) in DELTA.items()}
        )

    def _messages(self) -> ibis.Table:
        ctx = self.ctx
        if self.fresh:
            m = ctx["messages"]
            new_sent = m.sent_at.notnull()
            opened = m.opened_at.notnull()
            clicked = m.clicked_at.notnull()
        else:
            # straight from the table (cheaper to filter), with the context's cut:
            # opens and clicks count once they happened before as_of
            a, b = self.A, ctx.cut
            t = self.wh.table("messages")
            # a scan per column (the sends are stored in time order: that one reads little)
            touched = [t.filter(t[c] >= a) for c in ("sent_at", "opened_at", "clicked_at")]
            m = ibis.union(*touched, distinct=True)
            m = m.filter(m.sent_at < b)
            new_sent = m.sent_at >= a
            opened = (m.opened_at < b).fill_null(False) & (new_sent | (m.opened_at >= a))
            clicked = (m.clicked_at < b).fill_null(False) & (new_sent | (m.clicked_at >= a))
        w = ctx.decay(m.sent_at) * self._growth()
        t = m.group_by("customer_id").aggregate(
            d_sent=new_sent.cast("int64").sum(),
            d_opened=opened.cast("int64").sum(),
            d_clicked=clicked.cast("int64").sum(),
            d_last_open=ibis.ifelse(opened, m.opened_at, ibis.null().cast(TS)).max(),
            d_w_sent=ibis.ifelse(new_sent, w, 0.0).sum(),
            d_w_hit=(ibis.ifelse(opened, w, 0.0) + ibis.ifelse(clicked, 2 * w, 0.0)).sum(),
        )
        return t

    def _items(self) -> ibis.Table:
        """The lines of this step's orders, with the order's customer and total (staged
        once: the discounts and the prices read them)."""
        items = self.ctx["order_items"].semi_join(self.orders, "order_id")
        orders = self.orders.select("order_id", "customer_id", "total")
        return items.inner_join(orders, "order_id")

    def _discounts(self) -> ibis.Table:
        items = self._t("items")
        lines = items.group_by(["order_id", "customer_id"]).aggregate(
            _value=(items.quantity * items.unit_price.cast("float64")).sum(),
            _total=items.total.cast("float64").max(),
        )
        t = lines.group_by("customer_id").aggregate(
            d_lined=lines.count(),
            d_discounted=(lines._total < lines._value - 0.005).cast("int64").sum(),
        )
        return self._part(t, d_lined=t.d_lined, d_discounted=t.d_discounted)

    def _daily_delta(self) -> ibis.Table:
        """Per customer and day what the rollups grow by in this step."""
        zero = {name: 0 for name in ROLLUPS}

        def part(t: ibis.Table, ts: ibis.Value, **values: ibis.Value) -> ibis.Table:
            cols = {**zero, **values}
            return t.select(
                "customer_id",
                day=ts.date(),
                **{
                    name: ibis.literal(v).cast("float64" if name == "spend" else "int64")
                    if isinstance(v, int)
                    else v.cast("float64" if name == "spend" else "int64")
                    for name, v in cols.items()
                },
            )

        o, e, s, c = self.orders, self.events, self._t("sessions"), self._t("carts")
        parts = [
            part(o, o.ordered_at, orders=1, spend=o.total.cast("float64")),
            part(
                e.filter(e.event_type.isin(list(COUNTED_EVENTS.values()))),
                e.occurred_at,
                **{k: (e.event_type == v).cast("int64") for k, v in COUNTED_EVENTS.items()},
            ),
            part(s, s.last, sessions=1),
            part(c, c.occurred_at, abandoned=1),
        ]
        if not self.fresh:
            moved = s.filter(s.o_last.notnull())
            parts.append(part(moved, moved.o_last, sessions=-1))
        u = ibis.union(*parts)
        return u.group_by(["customer_id", "day"]).aggregate(**{n: u[n].sum() for n in ROLLUPS})

    def _window_names(self) -> list[str]:
        return [f"{feat}_{w}d" for w in self.ctx.settings.windows for feat in ROLLUPS.values()]

    # ---- merged state rows --------------------------------------------------------------
    def _with_old(
        self, delta: str, table: str, names: list[str]
    ) -> tuple[ibis.Table, dict[str, ibis.Value]]:
        """Scratch table ``delta`` joined to the previous rows of state ``table``, and
        those rows' columns ``names`` by name (nulls when the state is built anew)."""
        d = self._t(delta)
        if self.fresh:
            return d, {name: ibis.null() for name in names}
        s = self.old(table)
        s = s.rename(**{f"s_{c}": c for c in s.columns if c != "customer_id"})
        j = d.left_join(s, "customer_id").drop("customer_id_right")
        return j, {c[2:]: j[c] for c in s.columns if c != "customer_id"}

    def _merged_customers(self) -> ibis.Table:
        j, old = self._with_old("delta", CUSTOMERS, [*STATE, "gap_n", "gap_mean", "gap_m2"])
        merged = self._merge(j, old, STATE, DELTA)
        # inter-purchase gaps: count, mean and sum of squares merged (Chan et al.)
        n2, m2, q2 = j.g_n.fill_null(0), j.g_mean.fill_null(0.0), j.g_m2.fill_null(0.0)
        if self.fresh:
            n1, m1, q1 = ibis.literal(0), ibis.literal(0.0), ibis.literal(0.0)
        else:
            n1, m1, q1 = (
                old["gap_n"].fill_null(0),
                old["gap_mean"].fill_null(0.0),
                old["gap_m2"].fill_null(0.0),
            )
        n = n1 + n2
        mean = ibis.ifelse(n > 0, (m1 * n1 + m2 * n2) / n.nullif(0), ibis.null().cast("float64"))
        m2_all = q1 + q2 + ibis.ifelse(n > 0, (m2 - m1) ** 2 * n1 * n2 / n.nullif(0), 0.0)
        return j.select(
            "customer_id",
            gap_n=n.cast("int64"),
            gap_mean=mean,
            gap_m2=m2_all,
            **merged,
        )

    def _merge(
        self,
        j: ibis.Table,
        old: dict[str, ibis.Value],
        state: dict[str, tuple[str, str]],
        delta: dict[str, tuple[str, str]],
    ) -> dict[str, ibis.Value]:
        """Each ``state`` column grown by its delta column of ``j`` (``old``: the
        previous values), cast to the delta's type."""
        merged: dict[str, ibis.Value] = {}
        for name, (column, how) in state.items():
            new, prev = j[column], old[name]
            if how == "add":  # decayed sums too: they are kept relative to the anchor
                value = new.fill_null(0) + (prev.fill_null(0) if not self.fresh else 0)
            elif how == "min":
                value = new if self.fresh else _least(new, prev)
            else:
                value = new if self.fresh else _greatest(new, prev)
            merged[name] = value.cast(delta[column][0])
        return merged

    def _merged_messages(self) -> ibis.Table:
        j, old = self._with_old("message_delta", MESSAGES, list(MESSAGE_STATE))
        return j.select("customer_id", **self._merge(j, old, MESSAGE_STATE, MESSAGE_DELTA))

    def _merged_affinity(self) -> ibis.Table:
        act = weighted_activity(self.ctx, self.events)
        parts = [
            act.filter(act[kind].notnull()).select(
                "customer_id", kind=ibis.literal(kind), key=act[kind], score=act._w * self._growth()
            )
            for kind in ("category", "brand")
        ]
        if not self.fresh:
            new = ibis.union(*parts)
            parts.append(self.old(AFFINITY).semi_join(new, ["customer_id", "kind", "key"]))
        u = ibis.union(*parts)
        return u.group_by(["customer_id", "kind", "key"]).aggregate(score=u.score.sum())

    def _merged_prices(self) -> ibis.Table:
        items = self._t("items")
        products = self.ctx["products"].select("product_id", "category")
        items = items.inner_join(products, "product_id")
        items = items.filter(items.category.notnull() & items.unit_price.notnull())
        new = items.group_by(["customer_id", "category"]).aggregate(
            price_sum=items.unit_price.cast("float64").sum(), items=items.count()
        )
        if self.fresh:
            return new
        old = self.old(PRICES)
        u = new.union(old.semi_join(new, ["customer_id", "category"]))
        return u.group_by(["customer_id", "category"]).aggregate(
            price_sum=u.price_sum.sum(), items=u["items"].sum()
        )

    def _merged_daily(self) -> ibis.Table:
        dd = self._t("daily_delta")
        if self.fresh:
            return dd
        u = dd.union(self.old(DAILY).semi_join(dd, ["customer_id", "day"]))
        return u.group_by(["customer_id", "day"]).aggregate(**{n: u[n].sum() for n in ROLLUPS})

    def _merged_categories(self) -> ibis.Table:
        e = self.ctx.events_with_products(self.events)
        e = e.filter(e.category.notnull())
        new = e.group_by("category").aggregate(n=e.count())
        if not self.fresh:
            new = new.union(self.old(CATEGORIES))
        return new.group_by("category").aggregate(n=new.n.sum())

    def top_categories(self) -> list[str]:
        """The top categories after this step (counted once, then remembered)."""
        if self._top is None:
            n = self.settings.top_categories

            def top() -> ibis.Table:
                t = self._t("categories")
                return t.order_by([ibis.desc("n"), "category"]).limit(n).select("category")

            self._top = [str(r["category"]) for r in self.run.query("top", top)]
        return self._top

    # ---- writing and deriving -----------------------------------------------------------
    def write_state(self) -> None:
        """Write the merged rows (inside the caller's transaction): upserts of the
        changed rows when the state grows, else whole tables."""
        if self.fresh:
            sessions = ["customer_id", "session_id", "first", "last", "events"]
            for name, (scratch, _) in STATE_KEYS.items():
                rows = self._t(scratch)
                if name == SESSIONS:
                    rows = rows.select(*sessions)
                elif name == DAILY:  # by day: a step reads the days leaving the windows
                    rows = rows.order_by("day")
                overwrite(self.wh, name, rows)
            overwrite(self.wh, CATEGORIES, self._t("categories"))
            return
        for name, (scratch, keys) in STATE_KEYS.items():
            self.run.upsert(name, scratch, keys)
        self.run.execute(f"delete:{CATEGORIES}", lambda: f'DELETE FROM "{CATEGORIES}"')
        self.run.insert(f"insert:{CATEGORIES}", CATEGORIES, lambda: self._t("categories"))

    def _after(self, name: str, rows: ibis.Table, keys: list[str], who: ibis.Table) -> ibis.Table:
        """The rows of state table ``name`` of the customers in ``who`` after this step
        (``rows``: the merged ones)."""
        rows = rows.semi_join(who, "customer_id")
        if self.fresh:
            return rows
        old = self.old(name).semi_join(who, "customer_id").anti_join(rows, keys)
        return old.union(rows.select(*old.columns))

    def stage_parts(self, old_categories: list[str], parents: dict[str, Part]) -> None:
        """Stage each family's rows at ``as_of`` (before the merged state is written):
        a patch on its part in ``parents`` for the customers whose values changed, or
        every customer's (families without an incremental form, a family whose chain
        of patches grew as long as its full part, or preferences when the top
        categories changed)."""
        ctx = self.ctx
        ctx.categories = self.top_categories()
        families = {f.name: f.features(ctx) for f in REGISTRY if f.features(ctx)}
        full = set()
        for name, features in families.items():
            parent = parents.get(name)
            if (
                name not in INCREMENTAL
                or parent is None
                or [f.name for f in features] != list(parent.columns)
                or parent.since_full >= parent.full_rows
                or parent.depth >= MAX_DEPTH
            ):
                full.add(name)
        if set(ctx.categories) != set(old_categories):
            full.add("preferences")
        run = self.run
        flagged = sorted(full & set(INCREMENTAL))
        run.stage("changed", lambda: self._changed(flagged), label=f"changed:{flagged}")
        run.stage("state", self._changed_state)
        run.stage("state_windows", self._state_windows)
        for name, features in families.items():
            label = f"part_{name}:{_variant(ctx.categories) if name == 'preferences' else ''}"
            build = functools.partial(self._family_rows, name, features)
            run.stage(f"part_{name}", build, label=label)
        self._parts = [
            NewPart(
                name, run.name(f"part_{name}"), features, None if name in full else parents[name]
            )
            for name, features in families.items()
        ]

    def store_parts(self) -> dict[str, Part]:
        """Store the staged parts as the snapshot at ``as_of`` (inside the caller's
        transaction, before the merged state is written)."""
        return write_snapshot(self.wh, self.as_of, self._parts, self.settings.half_life_days)

    def _changed(self, full: list[str]) -> ibis.Table:
        """Per customer whose rows change: a flag per family (lifecycle's birthdays
        come in :meth:`_lifecycle`).

        Orders change rfm, price preferences and the loyalty tier; events (and carts
        settled in the step) behaviour and category and brand preferences; messages
        engagement; a day leaving a window the windowed rfm or behaviour counts. New
        sign-ups get every family, and every customer the families in ``full``.
        """
        customers = self.ctx["customers"]
        d = self._t("delta")
        events, orders = d.d_last_event.notnull(), d.d_orders.notnull()
        parts = [
            d.select(
                "customer_id",
                rfm=orders,
                behaviour=events | d.d_last_abandoned.notnull(),
                preferences=events | orders,
                engagement=ibis.literal(False),
                lifecycle=orders,
            )
        ]
        no = dict.fromkeys(INCREMENTAL, ibis.literal(False))
        messaged = self._t("message_delta")
        parts.append(messaged.select("customer_id", **{**no, "engagement": ibis.literal(True)}))
        leaving = self._t("leaving")
        bought = (leaving.orders != 0) | (leaving.spend != 0)
        active = ibis.or_(*[leaving[c] != 0 for c in ROLLUPS if c not in ("orders", "spend")])
        parts.append(leaving.select("customer_id", **{**no, "rfm": bought, "behaviour": active}))
        every = dict.fromkeys(INCREMENTAL, ibis.literal(True))
        signed_up = customers.filter(customers.signup_at >= self.A)
        parts.append(signed_up.select("customer_id", **every))
        if full:
            parts.append(
                customers.select("customer_id", **{**no, **dict.fromkeys(full, ibis.literal(True))})
            )
        u = ibis.union(*parts)
        return u.group_by("customer_id").aggregate(**{n: u[n].any() for n in INCREMENTAL})

    def _lifecycle(self) -> ibis.Table:
        """The lifecycle rows of the flagged customers and of those whose birthday fell
        in the step."""
        ctx = self.ctx
        # what the features read of the profiles (the rest are wide text, read for nothing)
        customers = ctx["customers"].select("customer_id", "signup_at", "birth_date")
        changed = self._t("changed")
        flagged = customers.semi_join(changed.filter(changed.lifecycle), "customer_id")
        # a birthday in [A, B) restarts the countdown; one on B's day adds a year
        birthday = customers.filter(
            next_birthday(customers.birth_date, self.A.date()) <= self.B.date()
        )
        who = flagged.union(birthday).distinct()
        state = self._after(CUSTOMERS, self._t("customers"), ["customer_id"], who)
        buyers = state.filter(state.n_orders > 0)
        spend = buyers.select("customer_id", _spend=buyers.spend, _first=buyers.first_order)
        features = REGISTRY.families["lifecycle"].features(ctx)
        return typed(lifecycle_from(ctx, spend, who), features)

    def _family_rows(self, name: str, features: list[Feature]) -> ibis.Table:
        """Family ``name``'s rows at ``as_of``: of the flagged customers (incremental
        families), else of every customer."""
        if name == "lifecycle":
            return self._lifecycle()
        if name in INCREMENTAL:
            return typed(self._from_state[name], features)
        family = REGISTRY.families[name]
        return assemble(self.ctx, [family.compute(self.ctx)], [family], ordered=False)

    def _state_windows(self) -> ibis.Table:
        """The state rows after this step of the customers flagged for rfm or behaviour,
        with their windowed counts (staged once: both families read them)."""
        changed = self._t("changed")
        windowed = changed.filter(changed.rfm | changed.behaviour).select("customer_id")
        windows = self._after(WINDOWS, self._t("windows"), ["customer_id"], windowed)
        names = self._window_names()
        sw = self._t("state").semi_join(windowed, "customer_id").left_join(windows, "customer_id")
        return sw.drop("customer_id_right").mutate(**{n: sw[n].fill_null(0) for n in names})

    def _changed_state(self) -> ibis.Table:
        """The customer state rows after this step of the customers flagged for any family."""
        who = self._t("changed").select("customer_id")
        return self._after(CUSTOMERS, self._t("customers"), ["customer_id"], who)

    def _leaving(self) -> ibis.Table:
        """The daily rollups of the days that leave a window in this step."""
        old = self.old(DAILY)
        # one range per window (the rollups are stored by day, so each reads little)
        leaving = [
            old.filter((old.day >= self._back("A", w)) & (old.day < self._back("B", w)))
            for w in self.ctx.settings.windows
        ]
        return ibis.union(*leaving, distinct=True)

    def _merged_windows(self) -> ibis.Table:
        """Per customer the windowed rfm and behaviour counts at ``as_of``: the state's
        plus the new days minus the days leaving each window (in full: summed from
        the daily rollups)."""
        windows = self.ctx.settings.windows
        start = {w: self._back("B", w) for w in windows}
        dd = self._t("daily_delta")
        added = dd.select(
            "customer_id",
            **{
                f"{feat}_{w}d": ibis.ifelse(dd.day >= start[w], dd[col], 0)
                for w in windows
                for col, feat in ROLLUPS.items()
            },
        )
        parts = [added]
        if not self.fresh:
            old = self._t("leaving")
            expired = old.select(
                "customer_id",
                **{
                    f"{feat}_{w}d": ibis.ifelse(
                        (old.day >= self._back("A", w)) & (old.day < start[w]), -old[col], 0
                    )
                    for w in windows
                    for col, feat in ROLLUPS.items()
                },
            )
            state = self.old(WINDOWS)
            state = state.semi_join(added.union(expired), "customer_id")
            parts += [expired, state.select(*added.columns)]
        u = ibis.union(*parts)
        return u.group_by("customer_id").aggregate(
            **{
                name: u[name].sum().cast("float64" if name.startswith("monetary") else "int64")
                for name in self._window_names()
            }
        )

    @functools.cached_property
    def _from_state(self) -> dict[str, ibis.Table]:
        """Per incremental family but lifecycle its rows for the customers flagged for
        it in the ``changed`` stage (one row each, features not yet filled)."""
        ctx = self.ctx
        changed = self._t("changed")
        sets = {n: changed.filter(changed[n]).select("customer_id") for n in INCREMENTAL}
        s, sw = self._t("state"), self._t("state_windows")
        w = ctx.settings.windows

        def window_cols(t: ibis.Table, *feats: str) -> dict[str, ibis.Value]:
            return {f"{f}_{d}d": t[f"{f}_{d}d"] for d in w for f in feats}

        buyers = sw.filter(sw.n_orders > 0).semi_join(sets["rfm"], "customer_id")
        rfm = finish_rfm(
            ctx,
            buyers.select(
                "customer_id",
                "last_order",
                frequency=buyers.n_orders,
                monetary=buyers.spend,
                ipt_mean_days=ibis.ifelse(
                    buyers.gap_n > 0, buyers.gap_mean, ibis.null().cast("float64")
                ),
                ipt_std_days=(buyers.gap_m2 / buyers.gap_n.nullif(0)).sqrt(),
                **window_cols(buyers, "frequency", "monetary"),
            ),
        )
        active = sw.filter(sw.last_event.notnull()).semi_join(sets["behaviour"], "customer_id")
        sessions = active.n_sessions.nullif(0)
        behaviour = finish_behaviour(
            ctx,
            active.select(
                "customer_id",
                _last=active.last_event,
                _last_abandoned=active.last_abandoned,
                activity_score=active.activity / self._growth(),
                avg_session_minutes=active.session_minutes / sessions,
                bounce_rate=active.bounces.cast("float64") / sessions,
                **window_cols(
                    active,
                    "product_views",
                    "add_to_carts",
                    "searches",
                    "sessions",
                    "cart_abandonments",
                ),
            ),
        )
        m = self._after(MESSAGES, self._t("messages"), ["customer_id"], sets["engagement"])
        reached = m.filter(m.sent > 0)
        factor = 1.0 / self._growth()
        engagement = finish_engagement(
            ctx,
            reached.select(
                "customer_id",
                messages_sent=reached.sent,
                _opened=reached.opened,
                _clicked=reached.clicked,
                _last_open=reached.last_open,
                _w_sent=reached.w_sent * factor,
                _w_hit=reached.w_hit * factor,
            ),
        )
        preferences = self._preferences(sets["preferences"], s)
        parts = {
            "rfm": rfm,
            "behaviour": behaviour,
            "preferences": preferences,
            "engagement": engagement,
        }
        return {
            n: sets[n].left_join(part, "customer_id").drop("customer_id_right")
            for n, part in parts.items()
        }

    def _preferences(self, changed: ibis.Table, s: ibis.Table) -> ibis.Table:
        aff = self._after(AFFINITY, self._t("affinity"), ["customer_id", "kind", "key"], changed)
        by_category = aff.filter(aff.kind == "category").select(
            "customer_id", category="key", _w="score"
        )
        by_brand = aff.filter(aff.kind == "brand").select("customer_id", brand="key", _w="score")
        prices = self._after(PRICES, self._t("prices"), ["customer_id", "category"], changed)
        products = self.ctx["products"]
        avg = products.group_by("category").aggregate(_avg=products.price.cast("float64").mean())
        p = prices.inner_join(avg, "category")
        p = p.filter(p._avg.notnull())
        index = p.group_by("customer_id").aggregate(
            price_index=(p.price_sum / p._avg).sum() / p["items"].sum()
        )
        lined = s.filter(s.lined_orders > 0).semi_join(changed, "customer_id")
        price = lined.select(
            "customer_id",
            discount_share=lined.discounted_orders.cast("float64") / lined.lined_orders,
        )
        price = price.outer_join(index, "customer_id")
        price = price.mutate(customer_id=price.customer_id.fill_null(price.customer_id_right)).drop(
            "customer_id_right"
        )
        return preferences_from(self.ctx, by_category, by_brand, price)
