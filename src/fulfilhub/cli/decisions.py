"""A person's decisions: ``orders hold|release|cancel``; ``channels reset-cursor`` (pull a channel
again from the start)."""

from __future__ import annotations

import click

from ..clock import SystemClock
from ..engines import holds
from ..errors import ConfigError, FulfilhubError
from ..models import OrderStatus
from ..plugins import Hooks
from ..store import Store
from ..store import cursors as cursor_store
from ..store import orders as order_store
from .group import State, console
from .commands import orders
from .common import pass_state, resolve_order_id

_ACTIONS = {"hold": holds.hold, "release": holds.release, "cancel": holds.cancel}
#: The status an action leaves an order in: asking for it again changes nothing (exit 0).
_ALREADY = {"hold": OrderStatus.ON_HOLD, "cancel": OrderStatus.CANCELLED}
_HELP = {
    "hold": "Put an order on hold for a person: nothing more is allocated or shipped for it.",
    "release": "Release a held order: it is accepted again and allocated on the next `sync`.",
    "cancel": "Cancel an order that has not shipped yet.",
}


def _action_command(action: str) -> click.Command:
    @click.argument("order_ref", metavar="ORDER")
    @click.option("--reason", required=True, help="Why; recorded in the order's timeline.")
    @pass_state
    def command(state: State, order_ref: str, reason: str) -> None:
        store = Store.open(state.config(strict_env=False).store_url)
        try:
            with store.read() as conn:
                order_id = resolve_order_id(conn, order_ref)
                row = order_store.row(conn, order_id)
            already = _ALREADY.get(action)
            if already is not None and row is not None and row.status == already:
                console.print(f"{order_id}: already {row.status}" + (f" ({row.hold_reason})" if row.hold_reason else "")
                              + "; nothing changed", markup=False)
                return
            if action == "release" and row is not None and row.status != OrderStatus.ON_HOLD:
                raise FulfilhubError(f"{order_id} is {row.status}, not on hold: only an order on hold is released")
            with store.transaction() as tx:
                status = _ACTIONS[action](tx, Hooks(state.plugins), order_id, reason=reason,
                                          at=SystemClock().now(), source="cli")
        finally:
            store.close()
        console.print(f"{order_id}: {status}", markup=False)

    command.__doc__ = _HELP[action] + " ORDER is the id or the shop's order number ('#1009')."
    return click.command(action)(command)


for _name in _ACTIONS:
    orders.add_command(_action_command(_name))


@click.group("channels")
def channels() -> None:
    """Configured channels and where their pulls stand."""


@channels.command("reset-cursor")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Confirm: the next `sync` pulls this channel from the start again.")
@pass_state
def channels_reset_cursor(state: State, name: str, yes: bool) -> None:
    """Forget where a channel's pull stands, so the next `sync` pulls everything again.

    Orders already stored are recognised and not stored twice.
    """
    config = state.config(strict_env=False)
    if name not in config.channels:
        raise ConfigError(f"no channel {name!r}; configured: {', '.join(config.channels) or 'none'}",
                          path=str(config.path), key="channels")
    if not yes:
        raise click.UsageError(f"this makes the next sync pull channel {name!r} from the start; pass --yes to do it")
    store = Store.open(config.store_url)
    try:
        with store.read() as conn:
            before = cursor_store.get(conn, name)
        with store.transaction() as tx:
            cursor_store.save(tx, name, None, SystemClock().now())
    finally:
        store.close()
    console.print(f"channel {name}: cursor {before or '(none)'} reset; the next `fulfilhub sync` pulls from the start",
                  markup=False)


def _attach() -> None:
    from .group import main

    main.add_command(channels)


_attach()
