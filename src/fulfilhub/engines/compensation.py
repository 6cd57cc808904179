"""Compensation: ask the policy, cap it, keep to the budget, record it, issue it once.

The policy contract (``register_compensation_policies``): a :class:`~fulfilhub.CompensationPolicy`'s
``propose`` is called with keyword arguments ``order`` (the :class:`~fulfilhub.models.Order`),
``assessment`` (the :class:`~fulfilhub.models.DelayAssessment` that found the delay),
``given`` (the :class:`~fulfilhub.models.CompensationProposal` s already given for this
order, oldest first; what is pending a person's approval counts as given) and
``settings`` (the ``[compensation]`` table of ``fulfilhub.toml`` as written). It returns
a :class:`~fulfilhub.models.CompensationProposal` for the tier the delay reached, or
None. It proposes what the *whole* incident deserves; the engine gives the difference.

**The top-up rule.** One delay incident (one order) is compensated once. When the delay
grows into a higher tier (1 day late, then 3 days), the customer gets at most a top-up:
the higher tier's value (after caps) minus what was already given, issued as the higher
tier's kind. A tier already given, or one worth no more than what was given, gives
nothing. A tier is recorded under the key ``compensation:<order id>:<tier>``, which the
store keeps unique, so no rerun, crash or second runner gives a tier twice.

Then, in the same transaction: caps per order (``max_per_order``, ``max_share`` of the
order value, after ``min_amount``: a cap is never exceeded), auto-approval up to
``auto_approve_below`` (above it a person approves with ``fulfilhub compensations
approve``), and the period's ``budget``, reserved by one conditional UPDATE so that no
two runners together exceed it. What the budget cannot cover waits as ``over_budget``
for a person. An approved compensation is written to the outbox as
``channel.issue_compensation``, issued through the channel's ``issue_compensation``
capability where it has one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from ..adapters import CompensationPolicy
from ..errors import ConfigError, PluginError
from ..models import CompensationKind, CompensationProposal, DelayAssessment, DelayState, Money, Order
from ..store import Tx, outbox
from ..store import compensation as ledger
from ..store.outbox import Effect
from .tiers import CAUSES, Tier, cause_of, decimal_setting, rounded, tier

PERIODS = ("day", "week", "month")


def period_of(at: datetime, period: str) -> str:
    """The budget period ``at`` falls in: ``2026-12``, ``2026-W49`` or ``2026-12-01``."""
    if period == "day":
        return at.strftime("%Y-%m-%d")
    if period == "week":
        return at.strftime("%G-W%V")
    return at.strftime("%Y-%m")


# --------------------------------------------------------------------------- settings


@attrs.frozen(kw_only=True)
class Settings:
    """The ``[compensation]`` table, checked."""

    enabled: bool = False
    policy: str = "rules"
    states: tuple[DelayState, ...] = (DelayState.LATE,)
    auto_approve_below: Decimal = Decimal(0)
    max_per_order: Decimal | None = None
    max_share: Decimal | None = None
    min_amount: Decimal | None = None
    budget: Money | None = None
    period: str = "month"
    tiers: tuple[Tier, ...] = ()
    table: Mapping[str, Any] = attrs.Factory(dict)


_KEYS = ("enabled", "policy", "states", "auto_approve_below", "max_per_order", "max_share", "min_amount", "budget",
         "period", "tiers", "options")


def settings(table: Mapping[str, Any], *, path: str = "fulfilhub.toml") -> Settings:
    """Check the ``[compensation]`` table; ConfigError naming the key on any mistake."""
    for key in table:
        if key not in _KEYS:
            raise ConfigError(f"unknown setting {key!r}; expected one of {', '.join(_KEYS)}", path=path,
                              key=f"compensation.{key}")
    enabled = table.get("enabled", bool(table))
    if not isinstance(enabled, bool):
        raise ConfigError(f"expected true or false, got {enabled!r}", path=path, key="compensation.enabled")
    policy = table.get("policy", "rules")
    if not isinstance(policy, str) or not policy:
        raise ConfigError(f"expected a registered policy name, got {policy!r}", path=path, key="compensation.policy")
    try:
        states = tuple(DelayState(s) for s in table.get("states", ["late"]))
    except (ValueError, TypeError):
        raise ConfigError(f"expected a list of {', '.join(DelayState)}, got {table.get('states')!r}", path=path,
                          key="compensation.states") from None
    period = table.get("period", "month")
    if period not in PERIODS:
        raise ConfigError(f"expected one of {', '.join(PERIODS)}, got {period!r}", path=path, key="compensation.period")
    budget = None
    if "budget" in table:
        raw = table["budget"]
        if not isinstance(raw, Mapping) or set(raw) - {"amount", "currency"} or "amount" not in raw or "currency" not in raw:
            raise ConfigError("expected a table {amount = \"5000\", currency = \"TWD\"}", path=path, key="compensation.budget")
        try:
            budget = Money(amount=decimal_setting(raw["amount"], "compensation.budget.amount", path), currency=raw["currency"])
        except ValueError as exc:
            raise ConfigError(str(exc), path=path, key="compensation.budget.currency") from None
    share = table.get("max_share")
    if share is not None:
        share = decimal_setting(share, "compensation.max_share", path)
        if share > 1:
            raise ConfigError(f"expected a share from 0 to 1 (0.2 is 20 %), got {table['max_share']!r}", path=path,
                              key="compensation.max_share")
    if not isinstance(table.get("options", {}), Mapping):
        raise ConfigError("expected a table of the policy's own settings", path=path, key="compensation.options")
    tiers = []
    raw_tiers = table.get("tiers", [])
    if not isinstance(raw_tiers, list):
        raise ConfigError("expected a list of [[compensation.tiers]] tables", path=path, key="compensation.tiers")
    for i, raw in enumerate(raw_tiers):
        tiers.append(tier(raw, where=f"compensation.tiers[{i}]", path=path))
    optional = {k: decimal_setting(table[k], f"compensation.{k}", path) for k in ("max_per_order", "min_amount") if k in table}
    return Settings(enabled=enabled, policy=policy, states=states, period=period, budget=budget, max_share=share,
                    auto_approve_below=decimal_setting(table.get("auto_approve_below", 0), "compensation.auto_approve_below", path),
                    tiers=tuple(tiers), table=dict(table), **optional)


# --------------------------------------------------------------------------- deciding


@attrs.frozen(kw_only=True)
class Decision:
    """What :func:`decide` recorded: a new compensation row, or why nothing."""

    compensation_id: int | None
    status: str  # approved | pending_approval | over_budget | none
    amount: Money | None = None
    proposal: CompensationProposal | None = None
    why: str = ""


def given_of(rows: Sequence[Any]) -> list[CompensationProposal]:
    """The compensations already given (or pending approval), as proposals, oldest first."""
    return [CompensationProposal(kind=row.kind, value=Money(amount=row.amount, currency=row.currency), tier=row.tier,
                                 reason=row.reason, percent=row.percent, points=row.points, months=row.months,
                                 policy=row.policy) for row in rows if row.status in ledger.GIVEN]


def capped(value: Money, order: Order, conf: Settings, *, raise_to_min: bool = True) -> Money:
    """``value`` raised to ``min_amount``, then cut to the caps (a cap is never exceeded).

    Not raised for a shipping refund: no more shipping can be refunded than was paid.
    """
    amount = value.amount
    if conf.min_amount is not None and raise_to_min and amount > 0:
        amount = max(amount, conf.min_amount)
    if conf.max_per_order is not None:
        amount = min(amount, conf.max_per_order)
    if conf.max_share is not None:
        amount = min(amount, rounded(order.total.amount * conf.max_share))
    return Money(amount=rounded(amount), currency=value.currency)


def decide(tx: Tx, policies: Mapping[str, CompensationPolicy], conf: Settings, order: Order,
           assessment: DelayAssessment, assessment_id: int | None, at: datetime, *,
           rows: Sequence[Any] | None = None) -> Decision:
    """Ask the policy about a delay and record what it deserves under the top-up rule, caps,
    approval and budget; an approved compensation goes to the outbox. One transaction (``tx``).

    ``rows``: the order's compensations, read in ``tx`` by the caller with others'
    (``store.compensation.for_orders``); read here when not given."""
    if not conf.enabled or assessment.state not in conf.states or assessment.days_late < 1:
        return Decision(compensation_id=None, status="none", why="no delay that is compensated")
    policy = policies.get(conf.policy)
    if policy is None:
        raise ConfigError(f"no compensation policy named {conf.policy!r}; registered: {', '.join(sorted(policies)) or 'none'}",
                          key="compensation.policy")
    rows = ledger.for_order(tx.conn, order.id) if rows is None else rows
    given = given_of(rows)
    proposal = policy.propose(order=order, assessment=assessment, given=tuple(given), settings=conf.table)
    if proposal is None:
        return Decision(compensation_id=None, status="none", why=f"policy {policy.name} proposes nothing")
    if not isinstance(proposal, CompensationProposal):
        raise PluginError(f"compensation policy {policy.name!r} returned {proposal!r}; expected a CompensationProposal or None")
    if proposal.value.currency != order.currency:
        raise PluginError(f"compensation policy {policy.name!r} proposed {proposal.value} for an order in {order.currency}")
    if proposal.value.amount <= 0:
        return Decision(compensation_id=None, status="none", why="the proposal is worth nothing")
    proposal = attrs.evolve(proposal, policy=policy.name, value=capped(
        proposal.value, order, conf, raise_to_min=proposal.kind is not CompensationKind.SHIPPING_REFUND))
    if any(row.tier == proposal.tier for row in rows):
        return Decision(compensation_id=None, status="none", proposal=proposal, why=f"tier {proposal.tier} was decided already")
    already = sum((g.value.amount for g in given), Decimal(0))
    topup = proposal.value.amount - already
    if topup <= 0:
        return Decision(compensation_id=None, status="none", proposal=proposal,
                        why=f"already given {already} {order.currency}, as much as tier {proposal.tier} is worth")
    amount = Money(amount=topup, currency=order.currency)
    note = proposal.reason + (f"; top-up: {proposal.value} less {already} already given" if already else "")
    period = period_of(at, conf.period)
    comp_id = ledger.add(tx, order_id=order.id, assessment_id=assessment_id, proposal=proposal, amount=amount,
                         status="proposed", period=period, at=at, note=note)
    if comp_id is None:  # another runner recorded this tier first
        return Decision(compensation_id=None, status="none", proposal=proposal, why="recorded by another runner")
    if topup > conf.auto_approve_below:
        ledger.decide(tx, comp_id, "pending_approval", actor="engine", at=at,
                      note=f"{amount} is above the auto-approval threshold {conf.auto_approve_below}: a person approves")
        return Decision(compensation_id=comp_id, status="pending_approval", amount=amount, proposal=proposal)
    status = _approve(tx, conf, comp_id, order, amount, period, actor="engine", at=at)
    return Decision(compensation_id=comp_id, status=status, amount=amount, proposal=proposal)


def _approve(tx: Tx, conf: Settings, comp_id: int, order: Order | None, amount: Money, period: str, *, actor: str,
             at: datetime, order_id: str = "", channel: str = "") -> str:
    """Reserve the budget and approve (outbox effect written), or leave it over budget."""
    if conf.budget is not None:
        if conf.budget.currency != amount.currency or not ledger.reserve(tx, period=period, amount=amount,
                                                                         limit=conf.budget, at=at):
            spent, limit = ledger.spent(tx.conn, period, amount.currency)
            ledger.decide(tx, comp_id, "over_budget", actor=actor, at=at,
                          note=f"{amount} does not fit the {period} budget ({spent} of {limit or conf.budget} spent)")
            return "over_budget"
    ledger.decide(tx, comp_id, "approved", actor=actor, at=at, period=period,
                  note="auto-approved" if actor == "engine" else f"approved by {actor}")
    row = ledger.get(tx.conn, str(comp_id))
    order_id = order.id if order is not None else order_id
    channel = order.channel if order is not None else (channel or Order.channel_of(order_id))
    outbox.enqueue(tx, Effect.issue_compensation(row.key, comp_id, order_id, channel), at)
    return "approved"


def approve(tx: Tx, conf: Settings, comp_id: int, *, actor: str, at: datetime) -> str:
    """A person approves a compensation waiting for approval (or for budget): approved or over_budget."""
    row = ledger.get(tx.conn, str(comp_id))
    if row is None:
        raise ConfigError(f"no compensation {comp_id}")
    if row.status not in ("pending_approval", "over_budget"):
        raise ConfigError(f"compensation {comp_id} is {row.status}; only pending_approval or over_budget ones are approved")
    amount = Money(amount=row.amount, currency=row.currency)
    return _approve(tx, conf, comp_id, None, amount, period_of(at, conf.period), actor=actor, at=at,
                    order_id=row.order_id)


def reject(tx: Tx, comp_id: int, *, actor: str, at: datetime, note: str = "") -> None:
    row = ledger.get(tx.conn, str(comp_id))
    if row is None:
        raise ConfigError(f"no compensation {comp_id}")
    if row.status not in ("pending_approval", "over_budget", "proposed"):
        raise ConfigError(f"compensation {comp_id} is {row.status}; only one waiting for a decision can be rejected")
    ledger.decide(tx, comp_id, "rejected", actor=actor, at=at, note=note or f"rejected by {actor}")


# --------------------------------------------------------------------------- report


@attrs.frozen(kw_only=True)
class Cost:
    """Compensation cost in one period and currency, against the budget."""

    period: str
    currency: str
    count: int
    total: Decimal
    budget: Decimal | None
    pending: int = 0

    @property
    def share(self) -> float | None:
        return float(self.total / self.budget) if self.budget else None


def cost_against_budget(conn: Any, conf: Settings, now: datetime) -> list[Cost]:
    """What compensation cost, per period and currency, with the configured budget: for ``fulfilhub report``."""
    spent = ledger.totals(conn)
    waiting = ledger.totals(conn, ("pending_approval", "over_budget"))
    current = period_of(now, conf.period)
    keys = set(spent) | set(waiting)
    if conf.budget is not None:
        keys.add((current, conf.budget.currency))
    out = []
    for period, currency in sorted(keys):
        count, total = spent.get((period, currency), (0, Decimal(0)))
        budget = conf.budget.amount if conf.budget is not None and conf.budget.currency == currency and period_matches(
            period, conf.period) else None
        out.append(Cost(period=period, currency=currency, count=count, total=total, budget=budget,
                        pending=waiting.get((period, currency), (0, 0))[0]))
    return out


def period_matches(period: str, kind: str) -> bool:
    return {"day": 10, "week": 8, "month": 7}[kind] == len(period) and ("W" in period) == (kind == "week")


__all__ = ["CAUSES", "Cost", "Decision", "Settings", "Tier", "approve", "capped", "cause_of", "cost_against_budget",
           "decide", "given_of", "period_of", "reject", "settings", "tier"]


def cost_in_window(conn: Any, since: datetime | None, until: datetime) -> list[dict[str, Any]] | None:
    """Compensation cost per budget period and currency for ``fulfilhub report``: what was
    given (approved or issued) in the window, the period's budget as last reserved against,
    and how many wait for a person; None when the window has none."""
    rows = ledger.in_window(conn, since, until)
    if not rows:
        return None
    limits = ledger.budgets(conn)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        item = out.setdefault((row.period, row.currency), {"period": row.period, "currency": row.currency,
                                                           "given": 0, "total": Decimal(0), "waiting": 0,
                                                           "top_ups": 0, "by_kind": {}})
        if row.status in ledger.SPENT:
            item["given"] += 1
            item["total"] += row.amount
            item["top_ups"] += row.amount != row.tier_value
            item["by_kind"][row.kind] = item["by_kind"].get(row.kind, 0) + 1
        elif row.status in ("pending_approval", "over_budget"):
            item["waiting"] += 1
    for (period, currency), item in out.items():
        spent, limit = limits.get((period, currency), (None, None))
        item["budget"] = str(limit) if limit is not None else None
        item["budget_spent"] = str(spent) if spent is not None else None
        item["total"] = str(item["total"])
    return [out[k] for k in sorted(out)]
