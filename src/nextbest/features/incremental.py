"""Incremental snapshots: tomorrow's features from today's state plus the new days.

Next to each stored snapshot the warehouse keeps the *feature state* it was made
from (tables ``feature_state_*``):

- per customer: lifetime counts and sums, first and last times, the running mean
  and spread of inter-purchase gaps, session totals, message counts, and decayed
  sums (activity, sends, hits) valid at the customer's reference time ``ref``;
- daily per-customer rollups (orders, spend, views, carts, searches, session ends,
  abandoned carts), so a sliding window adds the new days and drops the expiring
  ones;
- per session its first and last event and size (sessions may cross midnight);
- per customer and category or brand the decayed activity, per customer and
  category the price paid, and per category its event count (the top categories).

Advancing from ``A`` to ``B`` reads only the rows with times in ``[A, B)`` (and the
carts whose outcome became known), merges them into the state, and derives the
snapshot at ``B``: windows are the old value plus the new days minus the expired
ones; decayed sums are multiplied down by ``2^(-(B - ref)/half-life)`` and added to.
Only customers with new data get new state rows. Families without an incremental
form (custom features, user modules) are computed in full at ``B``.

A step runs the same statements every day; only ``A`` and ``B`` change. They are
compiled once (with ``A`` and ``B`` read from a one-row parameters table) and kept
in the warehouse (:class:`nextbest.warehouse.statements.Statements`), keyed by the
feature settings, the code and the schema of the tables read, so the next day's
step runs the stored SQL without building a query. Only the lifecycle features
(their birthdays are worked out from ``B``'s calendar date) and families from user
modules are compiled each time.

The result equals a full recompute (tests prove it on random days). The state is
rebuilt in full instead when that cannot hold: no state yet, changed feature
settings, an ``as_of`` that is not a later midnight, rows added before the state's
``as_of`` since it was made, or a changed product catalogue; the result says which.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis

from nextbest.config import FeatureSettings
from nextbest.features.behaviour import abandoned_carts, finish_behaviour
from nextbest.features.context import Context
from nextbest.features.engagement import finish_engagement
from nextbest.features.lifecycle import lifecycle_from
from nextbest.features.preferences import preferences_from, weighted_activity
from nextbest.features.registry import REGISTRY
from nextbest.features.rfm import finish_rfm
from nextbest.features.snapshot import build_snapshot, typed
from nextbest.features.store import SNAPSHOT_TABLE, save_snapshot
from nextbest.schema import TABLES
from nextbest.warehouse import Warehouse
from nextbest.warehouse.statements import Statements, schema_key
from nextbest.warehouse.writes import overwrite

__all__ = ["Update", "update_snapshot"]

# families whose rows carry over unchanged for customers without new data, but for:
CARRIED = ("rfm", "behaviour", "preferences", "engagement")
AGES = {  # days since something: grow by the days passed
    "recency_days": 1,
    "days_since_last_event": 1,
    "days_since_last_abandonment": 1,
    "days_since_last_open": 1,
    "expected_days_to_next": -1,
}
DECAYED = {"activity_score"}  # decayed sums: shrink by 2^(-days/half-life)
# the families whose queries only depend on as_of through the context's cut
# (lifecycle is compiled each time; families from user modules turn the cache off)
BUILT_IN = (*CARRIED, "lifecycle", "custom")

CUSTOMERS = "feature_state_customers"
DAILY = "feature_state_daily"
SESSIONS = "feature_state_sessions"
AFFINITY = "feature_state_affinity"
PRICES = "feature_state_prices"
CATEGORIES = "feature_state_categories"
META = "feature_state_meta"
STATE_TABLES = (CUSTOMERS, DAILY, SESSIONS, AFFINITY, PRICES, CATEGORIES)

LN2 = 0.6931471805599453
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
    "d_sent": ("int64", "sum"),
    "d_opened": ("int64", "sum"),
    "d_clicked": ("int64", "sum"),
    "d_last_open": (TS, "max"),
    "d_w_sent": ("float64", "sum"),
    "d_w_hit": ("float64", "sum"),
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
    "activity": ("d_activity", "decay"),
    "n_sessions": ("d_sessions", "add"),
    "session_minutes": ("d_minutes", "add"),
    "bounces": ("d_bounces", "add"),
    "last_abandoned": ("d_last_abandoned", "max"),
    "sent": ("d_sent", "add"),
    "opened": ("d_opened", "add"),
    "clicked": ("d_clicked", "add"),
    "last_open": ("d_last_open", "max"),
    "w_sent": ("d_w_sent", "decay"),
    "w_hit": ("d_w_hit", "decay"),
    "lined_orders": ("d_lined", "add"),
    "discounted_orders": ("d_discounted", "add"),
}


@dataclass
class Update:
    """What :func:`update_snapshot` did: rows stored, and how."""

    as_of: dt.datetime
    rows: int
    mode: str  # "incremental" or "full"
    since: dt.datetime | None = None  # the state advanced from (incremental)
    reason: str = ""  # why a full build was needed

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
        snapshot = build_snapshot(wh, as_of, settings)
        with wh.transaction():
            step.write_state()
            rows = _store_full(wh, snapshot, as_of)
            meta = _meta(as_of, settings, step.top_categories(), rows, check.guards)
            overwrite(wh, META, ibis.memtable({k: [v] for k, v in meta.items()}))
            run.save()
    else:
        step = _Step(wh, since, as_of, settings, run)
        step.stage_state()
        step.stage_snapshot(check.categories)
        with wh.transaction():
            rows = step.store_snapshot()
            step.write_state()
            meta = _meta(as_of, settings, step.top_categories(), rows, check.guards)
            run.execute("meta:delete", lambda: f'DELETE FROM "{META}"')
            columns = ", ".join(f'"{c}"' for c in meta)
            marks = ", ".join("?" for _ in meta)
            run.execute(
                "meta:insert",
                lambda: f'INSERT INTO "{META}" ({columns}) VALUES ({marks})',
                params=list(meta.values()),
            )
            run.save()
    wh.clear_scratch()
    mode = "full" if since is None else "incremental"
    return Update(as_of, rows, mode, since, reason)


def _store_full(wh: Warehouse, snapshot: ibis.Table, as_of: dt.datetime) -> int:
    """Store a fully built snapshot as the slice ``as_of``; its rows."""
    stamped = snapshot.select(
        as_of=ibis.literal(as_of, type=TS), **{c: snapshot[c] for c in snapshot.columns}
    )
    wh.replace_slice(SNAPSHOT_TABLE, stamped, "as_of", as_of)
    t = wh.table(SNAPSHOT_TABLE)
    return int(wh.execute(t.filter(t.as_of == ibis.literal(as_of, type=TS)).count()))


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
    tables = [*TABLES, *STATE_TABLES, META, SNAPSHOT_TABLE]
    return json.dumps(
        ["incremental", _code_key(), settings.model_dump_json(), schema_key(wh, tables)]
    )


def _guards(run: Statements) -> ibis.Table:
    """Row counts before the parameters ``since`` and ``as_of`` and a catalogue
    fingerprint (what must not change), as one row."""
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
        counted = {
            f"{name}_{when}": (
                (t[column].isnull() | (t[column] < cut)) if name == "customers" else t[column] < cut
            )
            .cast("int64")
            .sum()
            .fill_null(0)
            for when, cut in cuts.items()
        }
        row = t.aggregate(**counted)
        values.update({c: row[c].as_scalar() for c in counted})
    p = wh.table("products")
    key = p.product_id.concat("|", p.category.fill_null(""), "|", p.brand.fill_null(""))
    values["products_n"] = p.count().as_scalar()
    values["products_hash"] = key.hash().sum().as_scalar()
    return run.table("params").select(**values)


def _guard_values(row: dict[str, Any], when: str) -> dict[str, str]:
    out = {name: str(row[f"{name}_{when}"]) for name in ("orders", "events", "messages")}
    out["customers"] = str(row[f"customers_{when}"])
    out["products"] = f"{row['products_n']}:{row['products_hash'] or 0}"
    return out


def _meta(
    as_of: dt.datetime,
    settings: FeatureSettings,
    categories: list[str],
    rows: int,
    guards: dict[str, str],
) -> dict[str, Any]:
    return {
        "rows": rows,
        "categories": json.dumps(categories),
        "as_of": as_of,
        "settings": _settings_key(settings),
        "guards": json.dumps(guards),
    }


def _midnight(t: dt.datetime) -> bool:
    return t == dt.datetime(t.year, t.month, t.day)


@dataclass
class _Check:
    """Whether the state can grow to ``as_of``: its ``as_of`` (``since``) and top
    categories, else why not; and the guards as of ``as_of`` (for the next check)."""

    since: dt.datetime | None
    reason: str
    categories: list[str]
    guards: dict[str, str]


def _state_usable(
    wh: Warehouse, run: Statements, as_of: dt.datetime, settings: FeatureSettings
) -> _Check:
    """Whether the snapshot at ``as_of`` can grow from the stored state (binds the
    parameters ``since`` and ``as_of`` of ``run``)."""
    meta = None
    if META in wh.list_tables():
        meta = run.query("meta", lambda: wh.table(META))[0]
    since = meta["as_of"] if meta is not None else as_of
    run.bind(since=(since, TS), as_of=(as_of, TS))
    row = run.query("guards", lambda: _guards(run))[0]
    guards = _guard_values(row, "as_of")

    def no(reason: str) -> _Check:
        return _Check(None, reason, [], guards)

    if meta is None:
        return no("no feature state yet")
    if meta["settings"] != _settings_key(settings):
        return no("feature settings changed")
    if as_of <= since:
        return no(f"as_of {as_of} is not after the state's {since}")
    if meta["rows"]:
        snapshots = wh.table(SNAPSHOT_TABLE)
        kept = run.query(
            "kept",
            lambda: snapshots.filter(snapshots.as_of == run.param("since")).count().as_table(),
        )
        if not next(iter(kept[0].values())):
            return no(f"the snapshot as of {since} is gone")
    if json.loads(meta["guards"]) != _guard_values(row, "since"):
        return no(f"data before {since} or the product catalogue changed")
    return _Check(since, "", json.loads(meta["categories"]), guards)


# -- one step: the state at A plus the rows in [A, B) -------------------------------------


def _lit(t: dt.datetime) -> ibis.Value:
    return ibis.literal(t, type=TS)


def _least(a: ibis.Value, b: ibis.Value) -> ibis.Value:
    return ibis.least(a.fill_null(b), b.fill_null(a))


def _greatest(a: ibis.Value, b: ibis.Value) -> ibis.Value:
    return ibis.greatest(a.fill_null(b), b.fill_null(a))


def _variant(categories: list[str], everyone: bool) -> str:
    """A short name for the snapshot's shape (its affinity columns, whose rows)."""
    text = json.dumps([categories, everyone])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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
        self._variant = ""
        self._everyone = False
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

    def _decay_factor(self, ref: ibis.Value) -> ibis.Value:
        """2^(-(as_of - ref)/half-life): carries a decayed sum from ``ref`` to ``as_of``."""
        return (-self.ctx.age_days(ref) * (LN2 / self.ctx.settings.half_life_days)).exp()

    def _days(self) -> ibis.Value:
        """Days from ``A`` to ``B``."""
        seconds = self.B.epoch_seconds().cast("float64") - self.A.epoch_seconds().cast("float64")
        return seconds / 86_400.0

    def stage_state(self) -> None:
        """Stage the deltas and the merged state rows."""
        run = self.run
        run.stage("sessions", self._sessions)
        run.stage("carts", self._abandoned)
        run.stage("delta", self._customer_delta)
        run.stage("daily_delta", self._daily_delta)
        if not self.fresh:
            run.stage("windows", self._window_delta)
        run.stage("customers", self._merged_customers)
        run.stage("affinity", self._merged_affinity)
        run.stage("prices", self._merged_prices)
        run.stage("daily", self._merged_daily)
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
            d_last_event=e.occurred_at.max(), d_activity=ctx.decay(e.occurred_at).sum()
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
            self._messages(),
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
            m = self.wh.table("messages")
            m = m.filter(
                (m.sent_at < b)
                & ((m.sent_at >= a) | (m.opened_at >= a) | (m.clicked_at >= a)).fill_null(False)
            )
            new_sent = m.sent_at >= a
            opened = (m.opened_at < b).fill_null(False) & (new_sent | (m.opened_at >= a))
            clicked = (m.clicked_at < b).fill_null(False) & (new_sent | (m.clicked_at >= a))
        w = ctx.decay(m.sent_at)
        t = m.group_by("customer_id").aggregate(
            d_sent=new_sent.cast("int64").sum(),
            d_opened=opened.cast("int64").sum(),
            d_clicked=clicked.cast("int64").sum(),
            d_last_open=ibis.ifelse(opened, m.opened_at, ibis.null().cast(TS)).max(),
            d_w_sent=ibis.ifelse(new_sent, w, 0.0).sum(),
            d_w_hit=(ibis.ifelse(opened, w, 0.0) + ibis.ifelse(clicked, 2 * w, 0.0)).sum(),
        )
        names = ("d_sent", "d_opened", "d_clicked", "d_last_open", "d_w_sent", "d_w_hit")
        return self._part(t, **{k: t[k] for k in names})

    def _new_items(self) -> ibis.Table:
        """The lines of this step's orders, with the order's customer and total."""
        items = self.ctx["order_items"].semi_join(self.orders, "order_id")
        orders = self.orders.select("order_id", "customer_id", "total")
        return items.inner_join(orders, "order_id")

    def _discounts(self) -> ibis.Table:
        items = self._new_items()
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

    def _window_delta(self) -> ibis.Table:
        """Per customer how each windowed feature changes: new days in, expired days out."""
        windows = self.ctx.settings.windows
        a, b = self.A.date(), self.B.date()
        back = {w: ibis.interval(days=w) for w in windows}
        dd = self._t("daily_delta")
        old = self.old(DAILY)
        expiring = [(old.day >= a - back[w]) & (old.day < b - back[w]) for w in windows]
        old = old.filter(ibis.or_(*expiring))
        added = dd.select(
            "customer_id",
            **{
                f"{feat}_{w}d": ibis.ifelse(dd.day >= b - back[w], dd[col], 0)
                for w in windows
                for col, feat in ROLLUPS.items()
            },
        )
        expired = old.select(
            "customer_id",
            **{
                f"{feat}_{w}d": ibis.ifelse(
                    (old.day >= a - back[w]) & (old.day < b - back[w]), -old[col], 0
                )
                for w in windows
                for col, feat in ROLLUPS.items()
            },
        )
        u = added.union(expired)
        return u.group_by("customer_id").aggregate(**{n: u[n].sum() for n in self._window_names()})

    # ---- merged state rows --------------------------------------------------------------
    def _merged_customers(self) -> ibis.Table:
        d = self._t("delta")
        if self.fresh:
            j = d
            old = {name: ibis.null() for name in (*STATE, "ref", "gap_n", "gap_mean", "gap_m2")}
        else:
            s = self.old(CUSTOMERS)
            s = s.rename(**{f"s_{c}": c for c in s.columns if c != "customer_id"})
            j = d.left_join(s, "customer_id").drop("customer_id_right")
            old = {c[2:]: j[c] for c in s.columns if c != "customer_id"}
        factor = self._decay_factor(old["ref"]) if not self.fresh else ibis.literal(0.0)
        # decayed sums are kept valid at ``ref``; it moves to as_of with new events
        # (their category and brand scores are rewritten then), else it stays and
        # what is added is carried back to it
        moves = (
            j.d_last_event.notnull() | old["ref"].isnull() | (factor < 1e-100)
            if not self.fresh
            else ibis.literal(True)
        )
        merged: dict[str, ibis.Value] = {}
        for name, (delta, how) in STATE.items():
            new, prev = j[delta], old[name]
            if how == "add":
                merged[name] = new.fill_null(0) + (prev.fill_null(0) if not self.fresh else 0)
            elif how == "decay" and self.fresh:
                merged[name] = new.fill_null(0.0)
            elif how == "decay":
                merged[name] = ibis.ifelse(
                    moves,
                    new.fill_null(0.0) + (prev * factor).fill_null(0.0),
                    prev.fill_null(0.0) + new.fill_null(0.0) / factor,
                )
            elif how == "min":
                merged[name] = new if self.fresh else _least(new, prev)
            else:
                merged[name] = new if self.fresh else _greatest(new, prev)
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
            ref=self.B if self.fresh else ibis.ifelse(moves, self.B, old["ref"]).cast(TS),
            gap_n=n.cast("int64"),
            gap_mean=mean,
            gap_m2=m2_all,
            **{k: v.cast(self._state_type(k)) for k, v in merged.items()},
        )

    @staticmethod
    def _state_type(name: str) -> str:
        return DELTA[STATE[name][0]][0]

    def _merged_affinity(self) -> ibis.Table:
        act = weighted_activity(self.ctx, self.events)
        parts = [
            act.filter(act[kind].notnull()).select(
                "customer_id", kind=ibis.literal(kind), key=act[kind], score=act._w
            )
            for kind in ("category", "brand")
        ]
        if not self.fresh:
            merged = self._t("customers")
            moved = merged.filter(merged.ref == self.B)
            old = self.old(AFFINITY).semi_join(moved, "customer_id")
            refs = self.old(CUSTOMERS).select("customer_id", "ref")
            old = old.inner_join(refs, "customer_id")
            parts.append(
                old.select(
                    "customer_id", "kind", "key", score=old.score * self._decay_factor(old.ref)
                )
            )
        u = ibis.union(*parts)
        return u.group_by(["customer_id", "kind", "key"]).aggregate(score=u.score.sum())

    def _merged_prices(self) -> ibis.Table:
        items = self._new_items()
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
        writes = [
            (CUSTOMERS, "customers", ["customer_id"]),
            # every score of a customer whose ref moved is rewritten
            (AFFINITY, "affinity", ["customer_id"]),
            (PRICES, "prices", ["customer_id", "category"]),
            (DAILY, "daily", ["customer_id", "day"]),
            (SESSIONS, "sessions", ["customer_id", "session_id"]),
        ]
        if self.fresh:
            sessions = ["customer_id", "session_id", "first", "last", "events"]
            for name, scratch, _ in writes:
                rows = self._t(scratch)
                overwrite(self.wh, name, rows.select(*sessions) if name == SESSIONS else rows)
            overwrite(self.wh, CATEGORIES, self._t("categories"))
            return
        for name, scratch, keys in writes:
            self.run.upsert(name, scratch, keys)
        self.run.execute(f"delete:{CATEGORIES}", lambda: f'DELETE FROM "{CATEGORIES}"')
        self.run.insert(f"insert:{CATEGORIES}", CATEGORIES, lambda: self._t("categories"))

    def _after(self, name: str, rows: ibis.Table, keys: list[str]) -> ibis.Table:
        """State table ``name`` as it is after this step."""
        if self.fresh:
            return rows
        return self.old(name).anti_join(rows, keys).union(rows.select(*self.old(name).columns))

    def stage_snapshot(self, old_categories: list[str]) -> None:
        """Stage the snapshot at ``as_of`` (before the merged state is written).

        Customers with new data (and new sign-ups) get their rows from the merged
        state; every other row is yesterday's moved forward: ages grow by the days
        passed, decayed scores shrink, windows drop their expired days. When the top
        categories changed, every customer's row comes from the state.
        """
        top = self.top_categories()
        everyone = set(top) != set(old_categories)
        self._variant = _variant(top, everyone)
        run = self.run
        run.stage("changed", lambda: self._changed(everyone), label=f"changed:{everyone}")
        run.stage("lifecycle", self._lifecycle, cache=False)
        self._everyone = everyone

    def _changed(self, everyone: bool) -> ibis.Table:
        """Per customer whose features come from the state: a flag per family.

        Orders change rfm and price preferences, events (and carts settled in the
        step) behaviour and category and brand preferences, messages engagement;
        new sign-ups and, when the top categories changed, everyone get every family.
        """
        customers = self.ctx["customers"]
        every = {name: ibis.literal(True) for name in CARRIED}
        if everyone:
            return customers.select("customer_id", **every)
        d = self._t("delta")
        events, orders = d.d_last_event.notnull(), d.d_orders.notnull()
        flags = d.select(
            "customer_id",
            rfm=orders,
            behaviour=events | d.d_last_abandoned.notnull(),
            preferences=events | orders,
            engagement=d.d_sent.notnull(),
        )
        signed_up = customers.filter(customers.signup_at >= self.A)
        u = flags.union(signed_up.select("customer_id", **every))
        return u.group_by("customer_id").aggregate(**{n: u[n].any() for n in CARRIED})

    def _lifecycle(self) -> ibis.Table:
        """The lifecycle features of every customer (lifetime spend from the state)."""
        state = self._after(CUSTOMERS, self._t("customers"), ["customer_id"])
        buyers = state.filter(state.n_orders > 0)
        spend = buyers.select("customer_id", _spend=buyers.spend, _first=buyers.first_order)
        return lifecycle_from(self.ctx, spend)

    def _snapshot(self, everyone: bool) -> ibis.Table:
        ctx = self.ctx
        ctx.categories = self.top_categories()
        old = self.wh.table(SNAPSHOT_TABLE)
        old = old.filter(old.as_of == self.A).drop("as_of")
        if everyone:
            state = self._after(CUSTOMERS, self._t("customers"), ["customer_id"])
            affinity = self._after(AFFINITY, self._t("affinity"), ["customer_id", "kind", "key"])
        else:
            state, affinity = self._t("customers"), self._t("affinity")
        changed = self._t("changed")
        families = [f for f in REGISTRY if f.name in CARRIED]
        moved = self._moved(old, [f for fam in families for f in fam.features(ctx)])
        flags = changed.rename(**{f"_{n}": n for n in CARRIED})
        core = ctx["customers"].select("customer_id")
        core = core.left_join(moved, "customer_id").drop("customer_id_right")
        core = core.left_join(flags, "customer_id").drop("customer_id_right")
        values: dict[str, ibis.Value] = {}
        fresh = self._from_state(changed, state, affinity, old)
        for fam in families:
            features = fam.features(ctx)
            part = typed(fresh[fam.name], features)
            part = part.rename(**{f"{f.name}__new": f.name for f in features})
            core = core.left_join(part, "customer_id").drop("customer_id_right")
            flag = core[f"_{fam.name}"].fill_null(False)
            for f in features:
                values[f.name] = ibis.ifelse(flag, core[f"{f.name}__new"], core[f.name])
        out = core.select("customer_id", **values)
        parts = [self._t("lifecycle")]
        parts += [
            f.compute(ctx)
            for f in REGISTRY
            if f.name not in (*CARRIED, "lifecycle") and f.features(ctx)
        ]
        for part in parts:
            out = out.left_join(part, "customer_id").drop("customer_id_right")
        return typed(out, [f for fam in REGISTRY for f in fam.features(ctx)])

    def store_snapshot(self) -> int:
        """Store the snapshot as the slice ``as_of`` (inside the caller's transaction,
        before the merged state is written); its rows."""
        run = self.run
        run.replace_slice(
            SNAPSHOT_TABLE,
            lambda: self._snapshot(self._everyone),
            "as_of",
            "as_of",
            label=f"snapshot:{self._variant}",
        )

        def count() -> ibis.Table:
            t = self.wh.table(SNAPSHOT_TABLE)
            return t.filter(t.as_of == self.B).count().as_table()

        return int(next(iter(run.query("rows", count)[0].values())))

    def _moved(self, old: ibis.Table, features: list[Any]) -> ibis.Table:
        """Yesterday's rows of customers without new data, carried to ``as_of``."""
        days = self._days()
        shrink = ibis.literal(2.0) ** (-days / self.ctx.settings.half_life_days)
        delta = self._t("windows")
        delta = delta.rename(**{f"{c}__d": c for c in delta.columns if c != "customer_id"})
        t = old.left_join(delta, "customer_id").drop("customer_id_right")
        windows = set(self._window_names())
        values: dict[str, ibis.Value] = {}
        for f in features:
            col = t[f.name]
            if f.name in windows:
                values[f.name] = col + t[f"{f.name}__d"].fill_null(0)
            elif f.name in AGES:
                values[f.name] = col + AGES[f.name] * days
            elif f.name in DECAYED:
                values[f.name] = col * shrink
            else:
                values[f.name] = col
        return t.select("customer_id", **values)

    def _from_state(
        self, changed: ibis.Table, s: ibis.Table, affinity: ibis.Table, old: ibis.Table
    ) -> dict[str, ibis.Table]:
        """Per family its part for the ``changed`` customers flagged for it (one row
        each, features not yet filled)."""
        ctx = self.ctx
        names = self._window_names()
        # the windows (only rfm and behaviour have them): yesterday's plus the change
        windowed = changed.filter(changed.rfm | changed.behaviour).select("customer_id")
        windows = windowed.left_join(old.select("customer_id", *names), "customer_id").drop(
            "customer_id_right"
        )
        delta = self._t("windows")
        delta = delta.rename(**{f"{c}__d": c for c in delta.columns if c != "customer_id"})
        windows = windows.left_join(delta, "customer_id").drop("customer_id_right")
        windows = windows.select(
            "customer_id",
            **{n: windows[n].fill_null(0) + windows[f"{n}__d"].fill_null(0) for n in names},
        )
        s = s.semi_join(changed, "customer_id")
        sw = s.inner_join(windows, "customer_id")
        sets = {n: changed.filter(changed[n]).select("customer_id") for n in CARRIED}
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
                activity_score=active.activity * self._decay_factor(active.ref),
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
        reached = s.filter(s.sent > 0).semi_join(sets["engagement"], "customer_id")
        factor = self._decay_factor(reached.ref)
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
        preferences = self._preferences(sets["preferences"], s, affinity)
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

    def _preferences(self, changed: ibis.Table, s: ibis.Table, aff: ibis.Table) -> ibis.Table:
        aff = aff.semi_join(changed, "customer_id")
        by_category = aff.filter(aff.kind == "category").select(
            "customer_id", category="key", _w="score"
        )
        by_brand = aff.filter(aff.kind == "brand").select("customer_id", brand="key", _w="score")
        prices = self.old(PRICES).semi_join(changed, "customer_id")
        new = self._t("prices")
        prices = prices.anti_join(new, ["customer_id", "category"]).union(
            new.semi_join(changed, "customer_id").select(*prices.columns)
        )
        products = self.ctx["products"]
        avg = products.group_by("category").aggregate(_avg=products.price.cast("float64").mean())
        p = prices.inner_join(avg, "category")
        p = p.filter(p._avg.notnull())
        index = p.group_by("customer_id").aggregate(
            price_index=(p.price_sum / p._avg).sum() / p["items"].sum()
        )
        lined = s.filter(s.lined_orders > 0)
        price = lined.select(
            "customer_id",
            discount_share=lined.discounted_orders.cast("float64") / lined.lined_orders,
        )
        price = price.outer_join(index, "customer_id")
        price = price.mutate(customer_id=price.customer_id.fill_null(price.customer_id_right)).drop(
            "customer_id_right"
        )
        return preferences_from(self.ctx, by_category, by_brand, price)
