"""``fulfilhub notices`` and ``fulfilhub compensations``: what customers were told and given."""

from __future__ import annotations

from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from ..clock import SystemClock
from ..engines import compensation, notice_policy
from ..errors import NotFound
from ..store import compensation as ledger
from ..store import notices as notice_store
from ..store import outbox as outbox_store
from ..store.outbox import Effect
from .group import State, console, main
from .common import dump, found, format_option, open_store, pass_state, resolve_order_id, say, show_listing


def _sends(conn: Any, row: Any) -> list[dict[str, Any]]:
    """How each routed notifier's send of a notice stands."""
    keys = {Effect.send_notice(row.key, row.order_id, name).key: name for name in row.notifiers}
    return [{"notifier": keys[r.key], "status": r.status, "attempts": r.attempts, "last_error": r.last_error,
             "done_at": r.done_at, "result": r.result} for r in outbox_store.of_keys(conn, list(keys))]


def explain(conn: Any, order_id: str) -> list[dict[str, Any]]:
    """What the notice policy decided about an order's delay, oldest first, each with why
    (for ``fulfilhub notices show``): sent, suppressed or waiting, the reason and its meaning."""
    return [{"at": row.decided_at, "action": row.action, "event": row.event, "reason": row.reason,
             "why": notice_policy.REASONS.get(row.reason, row.reason), "detail": row.detail,
             "notice_key": row.notice_key, "told": row.told} for row in notice_store.decisions(conn, order_id)]


def _notice_json(conn: Any, row: Any, *, full: bool = False) -> dict[str, Any]:
    out = {"id": row.id, "key": row.key, "event": row.event, "locale": row.locale, "order_id": row.order_id,
           "order_number": row.order_number, "to": row.recipient, "subject": row.subject,
           "created_at": row.created_at, "send_after": row.send_after, "sends": _sends(conn, row)}
    if full:
        out.update(text=row.text, html=row.html, facts=row.facts, policy=explain(conn, row.order_id))
    return out


def _state(sends: list[dict[str, Any]]) -> str:
    if not sends:
        return "no notifier"
    statuses = {s["status"] for s in sends}
    return "sent" if statuses == {"done"} else "failed" if "failed" in statuses else "waiting"


@main.group()
def notices() -> None:
    """Customer notices: what was told, in which language, through which notifiers."""


@notices.command("list")
@click.option("--order", "order_ref", help="Only this order's notices (id or number).")
@click.option("--event", type=click.Choice(["confirmed", "shipped", "delayed", "eta_revised", "delivered",
                                            "compensation_issued", "low_stock"]), help="Only notices of this event.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1), help="At most this many, newest first.")
@format_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (key, event, locale, order_id ...).")
@pass_state
def notices_list(state: State, order_ref: str | None, event: str | None, limit: int, as_json: bool) -> None:
    """The newest notices, with how their sends stand."""
    store = open_store(state)
    with store.read() as conn:
        order_id = resolve_order_id(conn, order_ref) if order_ref else None
        rows = notice_store.listing(conn, order_id=order_id, event=event, limit=limit)
        data = [_notice_json(conn, row) for row in rows]
    for item in data:
        item["sent"] = _state(item["sends"])

    def table() -> None:
        grid = Table("id", "order", "event", "locale", "to", "sent", "subject")
        for item in data:
            grid.add_row(str(item["id"]), item["order_number"], item["event"], item["locale"], item["to"] or "-",
                         item["sent"], escape(item["subject"]))
        console.print(grid)

    show_listing(data, ("id", "key", "order_id", "order_number", "event", "locale", "to", "sent", "created_at",
                        "subject"), as_json=as_json, table=table)


@notices.command("show")
@click.argument("ref")
@click.option("--html", "as_html", is_flag=True, help="Print the HTML body instead of the text.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output, with text, HTML and facts.")
@pass_state
def notices_show(state: State, ref: str, as_html: bool, as_json: bool) -> None:
    """One notice (by id or key) as the customer saw it."""
    store = open_store(state)
    with store.read() as conn:
        row = found(notice_store.get(conn, ref), "notice", ref, "`fulfilhub notices list` shows them")
        data = _notice_json(conn, row, full=True)
    if as_json:
        dump(data)
        return
    click.echo(f"To: {data['to'] or '-'}")
    click.echo(f"Subject: {data['subject']}")
    click.echo(f"({data['event']}, {data['locale']}, order {data['order_id']}, {data['key']})")
    click.echo("")
    click.echo(data["html"] if as_html else data["text"])
    click.echo("")
    for send in data["sends"]:
        click.echo(f"via {send['notifier']}: {send['status']} after {send['attempts']} attempt(s)"
                   + (f" — {send['last_error']}" if send["last_error"] else ""))
    if data["policy"]:  # why this order's delay notices were sent, and what was suppressed
        click.echo("")
        click.echo("The notice policy on this order's delay:")
        for item in data["policy"]:
            mark = " <- this notice" if item["notice_key"] == data["key"] else ""
            click.echo(f"  {item['at']:%Y-%m-%d %H:%M} UTC  {item['action']} {item['event'] or ''} "
                       f"({item['reason']}: {item['why']}){mark}".replace("  (", " ("))


@notices.command("retry")
@click.argument("refs", nargs=-1, required=True)
@pass_state
def notices_retry(state: State, refs: tuple[str, ...]) -> None:
    """Send notices again whose sends failed (by id or key), after fixing the cause."""
    store = open_store(state)
    total = 0
    with store.transaction() as tx:
        for ref in refs:
            total += notice_store.requeue_sends(tx, ref)
    console.print(f"{total} send(s) queued again; `fulfilhub sync` delivers them")


# --------------------------------------------------------------------------- compensations


def _comp_json(row: Any) -> dict[str, Any]:
    return {"id": row.id, "key": row.key, "order_id": row.order_id, "tier": row.tier, "kind": row.kind,
            "amount": str(row.amount), "tier_value": str(row.tier_value), "currency": row.currency,
            "percent": str(row.percent) if row.percent is not None else None, "status": row.status,
            "policy": row.policy, "reason": row.reason, "period": row.period, "code": row.code,
            "channel_ref": row.channel_ref, "created_at": row.created_at, "decided_at": row.decided_at,
            "decided_by": row.decided_by, "issued_at": row.issued_at}


@main.group()
def compensations() -> None:
    """Compensations for delays: proposed, approved, issued, and the ledger behind each."""


@compensations.command("list")
@click.option("--status", type=click.Choice(["proposed", "pending_approval", "approved", "over_budget", "rejected",
                                             "issued", "failed"]), help="Only compensations in this status.")
@click.option("--order", "order_ref", help="Only this order's compensations (id or number).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1), help="At most this many, newest first.")
@format_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_state
def compensations_list(state: State, status: str | None, order_ref: str | None, limit: int, as_json: bool) -> None:
    """The newest compensations, and the cost against the budget."""
    config = state.config(strict_env=False)
    conf = compensation.settings(config.compensation, path=str(config.path))
    store = open_store(state)
    with store.read() as conn:
        order_id = resolve_order_id(conn, order_ref) if order_ref else None
        rows = ledger.listing(conn, status=status, order_id=order_id, limit=limit)
        costs = compensation.cost_against_budget(conn, conf, SystemClock().now())
    records = [_comp_json(r) for r in rows]

    def table() -> None:
        grid = Table("id", "order", "tier", "kind", "amount", "status", "code", "reason")
        for r in rows:
            grid.add_row(str(r.id), r.order_id, r.tier, r.kind, f"{r.amount} {r.currency}", r.status, r.code or "-",
                         escape(r.reason))
        console.print(grid)
        for c in costs:
            budget = f" of {c.budget} budget" if c.budget is not None else ""
            say(f"{c.period}: {c.count} issued or approved, {c.total} {c.currency}{budget}; "
                f"{c.pending} waiting for a person")

    show_listing(records, ("id", "key", "order_id", "tier", "kind", "amount", "currency", "status", "code", "policy",
                           "reason", "created_at"), as_json=as_json, table=table, json_data={
        "compensations": records,
        "cost": [{"period": c.period, "currency": c.currency, "count": c.count, "total": str(c.total),
                  "budget": str(c.budget) if c.budget is not None else None, "waiting": c.pending} for c in costs]})


@compensations.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output, with the ledger.")
@pass_state
def compensations_show(state: State, ref: str, as_json: bool) -> None:
    """One compensation (by id or key) and every ledger line behind it."""
    store = open_store(state)
    with store.read() as conn:
        row = found(ledger.get(conn, ref), "compensation", ref, "`fulfilhub compensations list` shows them")
        lines = ledger.ledger(conn, row.id)
    data = {**_comp_json(row), "ledger": [{"at": e.at, "action": e.action, "actor": e.actor, "amount": str(e.amount),
                                           "currency": e.currency, "note": e.note} for e in lines]}
    if as_json:
        dump(data)
        return
    click.echo(f"compensation {row.id} for order {row.order_id}: {row.kind} {row.amount} {row.currency} "
               f"(tier {row.tier}, worth {row.tier_value} in all), {row.status}"
               + (f", code {row.code}" if row.code else ""))
    click.echo(f"policy {row.policy}: {row.reason}")
    for e in lines:
        click.echo(f"  {e.at:%Y-%m-%d %H:%M} {e.action:<16} {e.amount} {e.currency} by {e.actor}: {e.note}")


def _decide(state: State, ids: tuple[int, ...], actor: str, approve: bool, note: str) -> None:
    config = state.config(strict_env=False)
    conf = compensation.settings(config.compensation, path=str(config.path))
    store = open_store(state)
    now = SystemClock().now()
    with store.read() as conn:
        missing = [comp_id for comp_id in ids if ledger.get(conn, str(comp_id)) is None]
    if missing:
        raise NotFound(f"nothing matched: no compensation {', '.join(map(str, missing))}; "
                       f"`fulfilhub compensations list` shows them (nothing was decided)")
    for comp_id in ids:
        with store.transaction() as tx:
            if approve:
                outcome = compensation.approve(tx, conf, comp_id, actor=actor, at=now)
            else:
                compensation.reject(tx, comp_id, actor=actor, at=now, note=note)
                outcome = "rejected"
        console.print(f"compensation {comp_id}: {outcome}" + ("; `fulfilhub sync` issues it" if outcome == "approved"
                                                               else ""), markup=False)


@compensations.command("approve")
@click.argument("ids", type=int, nargs=-1, required=True)
@click.option("--by", "actor", default="operator", show_default=True, help="Who approves (kept in the ledger).")
@pass_state
def compensations_approve(state: State, ids: tuple[int, ...], actor: str) -> None:
    """Approve compensations waiting for a person (or for budget); the budget is still kept."""
    _decide(state, ids, actor, True, "")


@compensations.command("reject")
@click.argument("ids", type=int, nargs=-1, required=True)
@click.option("--by", "actor", default="operator", show_default=True, help="Who rejects (kept in the ledger).")
@click.option("--reason", default="", help="Why (kept in the ledger).")
@pass_state
def compensations_reject(state: State, ids: tuple[int, ...], actor: str, reason: str) -> None:
    """Reject compensations waiting for a decision."""
    _decide(state, ids, actor, False, reason)

