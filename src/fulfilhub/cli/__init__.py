"""The ``fulfilhub`` command line.

Exit codes (one table for every command, ``docs/cli.md`` "Exit codes"): 0 all went
well; 1 the work ran but some of it failed (listed, retried next run); 2 usage or
configuration error; 3 store error (missing, locked, not migrated); 4 plugin error;
5 not found (what was named does not exist, or a filter matched nothing it could);
130 interrupted (Ctrl-C) in a command that does one thing. ``sandbox``, ``run`` and
``serve`` run until Ctrl-C: for them it is the way to stop, exit 0.

Global options (``-c``, ``-v``, ``-q``, ``--debug-http``, ``--trace-hooks``) may come
before or after the command: ``fulfilhub sync -v`` is ``fulfilhub -v sync``.
"""

from __future__ import annotations

from . import group
from .group import (
    EXIT_CODES,
    EXIT_CONFIG,
    EXIT_INTERRUPTED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_PLUGIN,
    EXIT_STORE,
    GLOBAL_OPTIONS,
    HTTP_LOGGERS,
    FulfilhubGroup,
    RedactingFilter,
    State,
    console,
    err_console,
    fail,
    hoist_global_options,
    main,
    protect_logs,
    setup_logging,
)
from .group import _SECRETS  # noqa: F401  (the secrets of the loaded config, redacted everywhere)
from ..plugins import PluginManager

_MANAGER: PluginManager | None = None


def plugin_manager() -> PluginManager:
    """The process's plugin manager: installed plugins, then the defaults (built once).

    It lives here, on the package, so that tests and embedders swap it in one place
    (``fulfilhub.cli._MANAGER``); the group asks for it through :func:`group.use_plugin_manager`.
    """
    global _MANAGER
    if _MANAGER is None:
        _MANAGER = PluginManager()
    return _MANAGER


group.use_plugin_manager(plugin_manager)

from . import (  # noqa: E402  (they attach themselves to `main`)
    commands, decisions, delays, lots, new, notices, promise, report, sandbox_and_demo, serve, shipments_events_jobs,
    worker,
)

__all__ = [
    "EXIT_CODES", "EXIT_CONFIG", "EXIT_INTERRUPTED", "EXIT_NOT_FOUND", "EXIT_OK", "EXIT_PARTIAL", "EXIT_PLUGIN",
    "EXIT_STORE", "GLOBAL_OPTIONS", "HTTP_LOGGERS", "FulfilhubGroup", "RedactingFilter", "State", "commands",
    "console", "decisions", "delays", "err_console", "fail", "group", "hoist_global_options", "lots", "main", "new",
    "notices", "plugin_manager", "promise", "protect_logs", "report", "sandbox_and_demo", "serve",
    "setup_logging", "shipments_events_jobs", "worker",
]
