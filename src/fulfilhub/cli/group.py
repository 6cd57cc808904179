"""The ``fulfilhub`` click group and what its commands share at the top: the error to
exit-code mapping, logging with secrets redacted, the global options (before or after
the command) and the state they set up (``ctx.obj``).

The commands attach themselves to :data:`main` from their own modules; the package
(:mod:`fulfilhub.cli`) imports those and supplies the process's plugin manager
(:func:`use_plugin_manager`), so no module here imports the package back.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.logging import RichHandler

from .. import __version__
from ..config import Config, load
from ..errors import ConfigError, FulfilhubError, NotFound, PluginError, StoreError
from ..http import Redactor
from ..plugins import Hooks, PluginManager
from ..store import database_error

log = logging.getLogger("fulfilhub.cli")

EXIT_OK, EXIT_PARTIAL, EXIT_CONFIG, EXIT_STORE, EXIT_PLUGIN, EXIT_NOT_FOUND = 0, 1, 2, 3, 4, 5
EXIT_INTERRUPTED = 130

#: The exit code table (``docs/cli.md`` prints it; ``tests/slice/test_cli_surface.py`` holds every command to it).
EXIT_CODES = {
    EXIT_OK: "all went well",
    EXIT_PARTIAL: "the work ran but some of it failed (listed; retried on the next run)",
    EXIT_CONFIG: "usage or configuration error: a wrong option or argument, a bad fulfilhub.toml, a missing secret",
    EXIT_STORE: "the store cannot be used: missing, unreachable, locked, not migrated",
    EXIT_PLUGIN: "a plugin failed to load, or the type a config names is not installed",
    EXIT_NOT_FOUND: "not found: the order, shipment, notice ... named does not exist, or a filter naming an "
                    "instance matched nothing",
    EXIT_INTERRUPTED: "interrupted with Ctrl-C (`sandbox`, `run` and `serve` stop cleanly with 0 instead)",
}

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


def _default_manager() -> PluginManager:
    raise RuntimeError("fulfilhub.cli supplies the plugin manager (use_plugin_manager) when it is imported")


_manager: Callable[[], PluginManager] = _default_manager


def use_plugin_manager(source: Callable[[], PluginManager]) -> None:
    """Where the group and its commands get the process's plugin manager (set by :mod:`fulfilhub.cli`)."""
    global _manager
    _manager = source


def plugin_manager() -> PluginManager:
    """The process's plugin manager: installed plugins, then the defaults (built once)."""
    return _manager()


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

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if ctx.parent is None:  # the top level: global options may also come after the command
            args = hoist_global_options(args)
        return super().parse_args(ctx, args)

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
        except NotFound as exc:
            fail(str(exc), EXIT_NOT_FOUND)
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
        except KeyboardInterrupt:
            fail("interrupted", EXIT_INTERRUPTED)
        except Exception as exc:  # never a traceback: one line, the details at -vv
            reason = database_error(exc)
            if reason is not None:  # the database itself: unreachable, locked, refused
                log.debug("store error", exc_info=True)
                fail(f"store: {reason}", EXIT_STORE)
            log.debug("unexpected error", exc_info=True)
            fail(f"unexpected {type(exc).__name__}: {_first_line(exc)} (run with -vv to see where)", EXIT_PARTIAL)


#: The global options: (spellings, takes a value).
GLOBAL_OPTIONS = ((("-c", "--config"), True), (("-v", "--verbose"), False), (("-q", "--quiet"), False),
                  (("--debug-http",), False), (("--trace-hooks",), False))


def hoist_global_options(args: list[str]) -> list[str]:
    """``sync -v -c x.toml`` -> ``-v -c x.toml sync``: global options found after the
    command move before it. A command's own option of the same spelling would win, but
    no command has one (``tests/slice/test_cli_surface.py`` checks); nothing after ``--`` moves."""
    flags = {o: takes for opts, takes in GLOBAL_OPTIONS for o in opts}
    front: list[str] = []
    rest: list[str] = []
    seen_command = False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i:]
            break
        name = arg.split("=", 1)[0] if arg.startswith("--") else arg
        short_value = arg[:2] == "-c" and len(arg) > 2 and not arg.startswith("--")  # -cFILE
        repeated = arg.startswith("-") and not arg.startswith("--") and len(arg) > 2 and set(arg[1:]) in ({"v"}, {"q"})
        if seen_command and (name in flags or short_value or repeated):
            front.append(arg)
            if name in flags and flags[name] and "=" not in arg and i + 1 < len(args):
                front.append(args[i + 1])
                i += 1
        else:
            if not seen_command and not arg.startswith("-"):
                prev = args[i - 1] if i else ""
                if not (prev in flags and flags[prev]):  # not the value of a leading -c
                    seen_command = True
            rest.append(arg)
        i += 1
    if not front:
        return args
    first = next((k for k, a in enumerate(rest) if not a.startswith("-") and not (k and rest[k - 1] in flags
                                                                                  and flags[rest[k - 1]])), len(rest))
    return rest[:first] + front + rest[first:]


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
    console.quiet = quiet  # -q: errors only (what --json asks for is still printed)
    ctx.obj = State(config_path, trace_hooks, verbose, quiet)
