"""The ``fulfilhub`` command line.

Exit codes: 0 all went well; 1 the work ran but some of it failed (listed, retried next
run); 2 usage or configuration error; 3 store error (missing, locked, not migrated);
4 plugin error.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable
from typing import Any

import click
import sqlalchemy as sa
from rich.console import Console
from rich.markup import escape
from rich.logging import RichHandler

from .. import __version__
from ..config import Config, load
from ..errors import ConfigError, FulfilhubError, PluginError, StoreError
from ..http import Redactor
from ..plugins import Hooks, PluginManager

log = logging.getLogger("fulfilhub.cli")

EXIT_OK, EXIT_PARTIAL, EXIT_CONFIG, EXIT_STORE, EXIT_PLUGIN = 0, 1, 2, 3, 4

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


class RedactingFilter(logging.Filter):
    """Removes configured secret values from every log record."""

    def __init__(self, secrets: Iterable[str]):
        super().__init__()
        self.redactor = Redactor(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor.text(record.getMessage())
        record.args = ()
        return True


#: Loggers of libraries fulfilhub uses for HTTP; shown only with ``--debug-http``.
HTTP_LOGGERS = ("httpx", "httpcore", "h11", "uvicorn", "uvicorn.error", "uvicorn.access")


def setup_logging(verbose: int, *, quiet: bool = False, debug_http: bool = False) -> None:
    """``-q`` errors only; default warnings; ``-v`` fulfilhub's progress (INFO); ``-vv`` its DEBUG.

    Foreign libraries stay at WARNING (ERROR with ``-q``) unless ``--debug-http``. The log
    is plain text (no colours, no columns) when stderr is not a terminal.
    """
    if quiet:
        own = foreign = logging.ERROR
    else:
        own = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
        foreign = logging.WARNING
    handler: logging.Handler
    if err_console.is_terminal:
        handler = RichHandler(console=err_console, show_path=False, rich_tracebacks=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(_Stderr())
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    logging.basicConfig(level=foreign, handlers=[handler], force=True)
    logging.getLogger("fulfilhub").setLevel(own)
    for name in HTTP_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if debug_http else foreign)


class _Stderr:
    """Whatever ``sys.stderr`` is when a record is written (test runners swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


#: The secrets of the config loaded in this process: never printed, in logs or in errors.
_SECRETS: set[str] = set()


def protect_logs(secrets: Iterable[str]) -> None:
    _SECRETS.update(secrets)
    flt = RedactingFilter(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(flt)


class State:
    """What the top-level options set up, shared by subcommands (``ctx.obj``)."""

    def __init__(self, config_path: str | None, trace: bool, verbose: int = 0, quiet: bool = False):
        self.config_path = config_path
        self.trace = trace
        self.verbose = verbose
        self.quiet = quiet
        self._plugins: PluginManager | None = None

    @property
    def plugins(self) -> PluginManager:
        if self._plugins is None:
            self._plugins = plugin_manager()
            if self.trace:
                self._plugins.enable_trace(lambda s: err_console.print(s.rstrip(), markup=False))
        return self._plugins

    def config(self, *, strict_env: bool = True) -> Config:
        config = load(self.config_path, strict_env=strict_env)
        protect_logs(config.secrets)
        return config


def fail(message: str, code: int) -> None:
    message = Redactor(_SECRETS).text(message)
    err_console.print(f"[bold red]error:[/] {escape(message)}", markup=True)
    sys.exit(code)


class FulfilhubGroup(click.Group):
    """Turns fulfilhub's errors into a clear message and a meaningful exit code.

    Plugins' commands (``register_commands``) are added lazily: importing the CLI builds
    no plugin manager and loads no plugin. They are loaded the first time a command
    name is not a built-in one, or the commands are listed (``--help``).
    """

    _plugin_commands_from: object | None = None  # the PluginManager they were loaded from
    _plugin_command_names: frozenset[str] = frozenset()

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None or cmd_name in self._plugin_command_names:
            self._load_plugin_commands()
            command = super().get_command(ctx, cmd_name)
        return command

    def _load_plugin_commands(self) -> None:
        """Let plugins add commands, once per plugin manager. A broken one is reported."""
        try:
            manager = plugin_manager()
        except FulfilhubError as exc:  # the CLI must still start to report the problem
            err_console.print(f"warning: plugins could not be loaded, so their commands are missing: {exc}",
                              markup=False)
            return
        if manager is self._plugin_commands_from:
            return
        for name in self._plugin_command_names:  # commands of an earlier manager (tests swap it)
            self.commands.pop(name, None)
        before = set(self.commands)
        self._plugin_commands_from = manager
        try:
            Hooks(manager).register_commands(cli=self)
        except Exception as exc:  # the CLI must still start to report the problem
            err_console.print(f"warning: a plugin's register_commands failed: {exc}", markup=False)
        self._plugin_command_names = frozenset(set(self.commands) - before)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            fail(str(exc), EXIT_CONFIG)
        except StoreError as exc:
            fail(str(exc), EXIT_STORE)
        except PluginError as exc:
            fail(str(exc), EXIT_PLUGIN)
        except FulfilhubError as exc:
            fail(str(exc), EXIT_PARTIAL)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except BrokenPipeError:  # `fulfilhub orders list | head`: the reader has gone, nothing to say
            try:  # so that Python's own flush at exit does not complain again
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            except (OSError, ValueError):
                pass
            sys.exit(EXIT_OK)
        except sa.exc.SQLAlchemyError as exc:  # the database itself: unreachable, locked, refused
            log.debug("store error", exc_info=True)
            fail(f"store: {_first_line(getattr(exc, 'orig', None) or exc)}", EXIT_STORE)
        except KeyboardInterrupt:
            fail("interrupted", EXIT_PARTIAL)
        except Exception as exc:  # never a traceback: one line, the details at -vv
            log.debug("unexpected error", exc_info=True)
            fail(f"unexpected {type(exc).__name__}: {_first_line(exc)} (run with -vv to see where)", EXIT_PARTIAL)


def _first_line(exc: object) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@click.group(cls=FulfilhubGroup)
@click.option("-c", "--config", "config_path", envvar="FULFILHUB_CONFIG", type=click.Path(dir_okay=False),
              help="Config file (default: ./fulfilhub.toml, or $FULFILHUB_CONFIG).")
@click.option("-v", "--verbose", count=True,
              help="-v: fulfilhub's progress (pages pulled, orders allocated, labels bought, effects delivered); "
                   "-vv: its debug log, every HTTP call included.")
@click.option("-q", "--quiet", is_flag=True, help="Print errors only.")
@click.option("--debug-http", is_flag=True, help="Also log the HTTP libraries (httpx, httpcore) at DEBUG.")
@click.option("--trace-hooks", is_flag=True, envvar="FULFILHUB_TRACE_HOOKS", help="Print every hook call.")
@click.version_option(__version__, prog_name="fulfilhub")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: int, quiet: bool, debug_http: bool, trace_hooks: bool) -> None:
    """fulfilhub: one order lifecycle across shops, warehouses and couriers."""
    if quiet and verbose:
        raise click.UsageError("-q and -v contradict each other; pass one")
    setup_logging(verbose, quiet=quiet, debug_http=debug_http)
    ctx.obj = State(config_path, trace_hooks, verbose, quiet)


_MANAGER: PluginManager | None = None


def plugin_manager() -> PluginManager:
    """The process's plugin manager: installed plugins, then the defaults (built once)."""
    global _MANAGER
    if _MANAGER is None:
        _MANAGER = PluginManager()
    return _MANAGER


from . import commands, delays, new, notices, operate, ops, promise, report, serve, views, worker  # noqa: E402  (they attach themselves to `main`)

__all__ = ["main", "commands", "delays", "new", "notices", "operate", "ops", "promise", "report", "serve", "views"]
