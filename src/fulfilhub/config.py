"""``fulfilhub.toml``: which instances of which types, the store and the schedule.

::

    [store]
    url = "sqlite:///fulfilhub.sqlite"     # relative paths are relative to this file

    [schedule]                             # how often `fulfilhub run` runs each job
    pull_orders = "5m"

    [promise]                              # delivery promises (all optional)
    target = 0.95

    [promise.warehouses.main]              # the working calendar of warehouse "main"
    timezone = "America/Los_Angeles"
    cutoff = "14:00"

    [channels.my-shop]                     # an instance named "my-shop"
    type = "shopify"                       # of a type some plugin registered
    shop = "acme"
    access_token = "${SHOPIFY_TOKEN}"      # secrets come from the environment

Secrets are never written in the file: any string value may be ``${NAME}`` (or contain
it), resolved from the environment at load time, and every resolved value is redacted
from logs and errors. A value with whitespace around it (an env file's final newline)
is an error naming the key and the variable, never the value; only where an
instance's setting is the reference alone does the plugin's declared ``Setting`` decide
(``Setting(str, secret=True)`` strips it). Every mistake is reported with the file, the key and what was
expected.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
from pathlib import Path
from typing import Any

import attrs

from .errors import ConfigError

DEFAULT_PATH = "fulfilhub.toml"
SECTIONS = ("store", "schedule", "intake", "promise", "server", "channels", "carriers", "warehouses", "notifiers",
            "notices", "compensation", "carrier_choice", "stock")
KINDS = ("channels", "carriers", "warehouses", "notifiers")
STORE_KEYS = ("url",)

#: Who may run the schedule (``[schedule] engine``).
ENGINES = ("embedded", "procrastinate")

#: Jobs `fulfilhub run` schedules, with their default intervals.
DEFAULT_SCHEDULE: Mapping[str, timedelta] = {
    "pull_orders": timedelta(minutes=5),
    "allocate": timedelta(minutes=1),
    "poll_warehouses": timedelta(minutes=5),
    "buy_labels": timedelta(minutes=2),
    "deliver_effects": timedelta(seconds=30),
    "poll_tracking": timedelta(minutes=30),
    "assess_delays": timedelta(minutes=15),
    "notices": timedelta(minutes=1),
    "process_inbox": timedelta(seconds=5),
    "push_stock": timedelta(minutes=5),
    "sync_stock": timedelta(minutes=10),
}

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


@attrs.frozen(kw_only=True)
class InstanceConfig:
    """One configured instance: ``[channels.my-shop]`` gives kind "channels", name "my-shop"."""

    kind: str
    name: str
    type: str
    settings: Mapping[str, Any]
    secrets: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class IntakeConfig:
    """Order intake checks. ``hold_on_note``: hold orders carrying a customer note."""

    hold_on_note: bool = True
    check_sku: bool = True


@attrs.frozen(kw_only=True)
class StockConfig:
    """``[stock]``: which warehouses' stock each channel may sell, and when to warn that a SKU runs low.

    ``channels``: channel instance -> the warehouses that serve it (a channel not named
    is served by every warehouse). ``reorder_points``: SKU -> the sellable quantity
    (summed over every warehouse) at or below which the operator is warned, once per
    crossing. ``locale``: the language of the operator's notices (``en``, ``zh_Hant``,
    ``zh_Hans``).
    """

    channels: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    reorder_points: Mapping[str, int] = attrs.field(factory=dict)
    locale: str = "en"

    def warehouses_for(self, channel: str) -> tuple[str, ...] | None:
        """The warehouses that serve ``channel`` (None: all of them)."""
        return self.channels.get(channel)


STOCK_KEYS = ("channels", "reorder_points", "locale")
STOCK_LOCALES = ("en", "zh_Hant", "zh_Hans")


#: Day names of ``working_days``, Monday first (``date.weekday()`` order).
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_REGION = re.compile(r"^([A-Z]{2})(?:-([A-Z0-9]{1,3}))?$")


@attrs.frozen(kw_only=True)
class CalendarConfig:
    """One warehouse's working calendar (``[promise.warehouses.NAME]``).

    ``working_days`` are ``date.weekday()`` numbers (Monday 0). ``holidays`` is an
    ISO country code with an optional subdivision (``"US-CA"``), read through the
    ``holidays`` library; ``closures`` are extra days the warehouse does not ship.
    """

    timezone: str = "UTC"
    cutoff: time = time(14, 0)
    handling_days: int = 1
    working_days: frozenset[int] = frozenset(range(5))
    holidays: str = ""
    closures: frozenset[date] = frozenset()


#: The keys of a ``[promise.warehouses.NAME]`` table.
CALENDAR_KEYS = tuple(a.name for a in attrs.fields(CalendarConfig))


@attrs.frozen(kw_only=True)
class PromiseConfig:
    """Delivery promises (``[promise]``).

    ``target``: the share of orders a promise's deliver-by date must hold for (0.95:
    95 % delivered by then). ``default_transit_days``: the transit assumed when no
    history and no carrier says otherwise. ``half_life``: how fast old deliveries stop
    counting. ``warehouses``: each warehouse's calendar (a warehouse without one gets
    the defaults of :class:`CalendarConfig`).
    """

    target: float = 0.95
    default_transit_days: int = 5
    half_life: timedelta = timedelta(days=30)
    warehouses: Mapping[str, CalendarConfig] = attrs.Factory(dict)

    def calendar(self, warehouse: str) -> CalendarConfig:
        """The calendar of ``warehouse`` (the defaults when it has none configured)."""
        return self.warehouses.get(warehouse) or CalendarConfig()


#: The keys of ``[promise]`` itself.
PROMISE_KEYS = ("target", "default_transit_days", "half_life", "warehouses")


@attrs.frozen(kw_only=True)
class ServerConfig:
    """``[server]``: what ``fulfilhub serve`` listens on and accepts.

    ``public_url`` is where customers reach it (the tracking links); ``cors_origins``
    the storefront origins allowed to call the API; ``rate_limit_per_minute`` requests
    per client address to the API; ``webhook_tolerance_seconds`` how old a delivery's
    sent time may be; ``poll_backoff`` (off when None): while an instance's last
    processed webhook is younger than it, the runner polls that instance at most that
    often.
    """

    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = "http://127.0.0.1:8080"
    max_body_bytes: int = 1_048_576
    cors_origins: tuple[str, ...] = ()
    rate_limit_per_minute: int = 600
    webhook_tolerance_seconds: int = 3 * 86400  # vendors retry with the first sent time: Shopify for 48 h
    poll_backoff: timedelta | None = None
    #: A connection must send a request's head within this, and its body within
    #: ``body_timeout_seconds`` after the head, or it is closed (slowloris).
    header_timeout_seconds: int = 10
    body_timeout_seconds: int = 30
    #: Connections open at once; one more is closed as it arrives.
    max_connections: int = 1000
    #: ``/metrics`` is not on the public port unless a request carries ``Authorization:
    #: Bearer <metrics_token>``; with ``metrics_port`` it is served on ``metrics_host``
    #: (default loopback) at that port too, where nothing else is served.
    metrics_token: str | None = None
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None
    #: Addresses of reverse proxies whose ``X-Forwarded-For`` / ``-Proto`` are believed
    #: (the rate limit's client address); from anyone else they are ignored.
    trusted_proxies: tuple[str, ...] = ()
    #: Values resolved from the environment here (``metrics_token``): never shown.
    secrets: tuple[str, ...] = ()


#: The ``[server]`` keys with (type, minimum) for the numbers.
_SERVER_LIMITS = {"port": (1, 65535), "max_body_bytes": (1024, 1 << 30), "rate_limit_per_minute": (1, 10**7),
                  "webhook_tolerance_seconds": (1, 7 * 86400), "header_timeout_seconds": (1, 300),
                  "body_timeout_seconds": (1, 3600), "max_connections": (1, 100_000), "metrics_port": (1, 65535)}


def _server(table: Mapping[str, Any], where: str, *, env: Mapping[str, str] | None = None,
            strict: bool = True) -> ServerConfig:
    _known_keys(table, tuple(a.name for a in attrs.fields(ServerConfig) if a.name != "secrets"), where, "server.",
                "setting")
    values: dict[str, Any] = {}
    secrets: list[str] = []
    for key, value in table.items():
        dotted = f"server.{key}"
        if key == "metrics_token":
            if not isinstance(value, str) or "${" not in value:
                raise ConfigError("expected a token from the environment, like \"${FULFILHUB_METRICS_TOKEN}\" "
                                  "(a secret is never written in the file)", path=where, key=dotted)
            value = _resolve(value, path=where, key=dotted, env=env or {}, secrets=secrets, strict=strict,
                             whole_ok=True).strip()
            if strict and len(value) < 16:
                raise ConfigError("the token is shorter than 16 characters; use a long random one "
                                  "(e.g. `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`)",
                                  path=where, key=dotted)
            values[key] = value or None
            continue
        if key == "trusted_proxies":
            if not isinstance(value, list) or not all(_is_address(v) for v in value):
                raise ConfigError(f"expected a list of IP addresses or networks like [\"10.0.0.5\", \"10.1.0.0/16\"], "
                                  f"got {value!r}", path=where, key=dotted)
            values[key] = tuple(value)
            continue
        if key in _SERVER_LIMITS:
            low, high = _SERVER_LIMITS[key]
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ConfigError(f"expected a whole number from {low} to {high}, got {value!r}", path=where, key=dotted)
        elif key == "poll_backoff":
            value = parse_duration(value, path=where, key=dotted)
        elif key == "cors_origins":
            if not isinstance(value, list) or not all(isinstance(o, str) and o.startswith(("http://", "https://"))
                                                      and not o.endswith("/") for o in value):
                raise ConfigError(f"expected a list of origins like [\"https://shop.example\"] (scheme and host, "
                                  f"no path or trailing slash), got {value!r}", path=where, key=dotted)
            value = tuple(value)
        elif not isinstance(value, str) or not value:
            raise ConfigError(f"expected a string, got {value!r}", path=where, key=dotted)
        elif key == "public_url" and not value.startswith(("http://", "https://")):
            raise ConfigError(f"expected an http:// or https:// URL, got {value!r}", path=where, key=dotted)
        values[key] = value
    if "public_url" not in values:  # none configured: where the server listens
        values["public_url"] = default_public_url(values.get("host", "127.0.0.1"), values.get("port", 8080))
    return ServerConfig(**values, secrets=tuple(secrets))


def _is_address(value: Any) -> bool:
    import ipaddress

    try:
        ipaddress.ip_network(value, strict=False)
    except (TypeError, ValueError):
        return False
    return isinstance(value, str)


def default_public_url(host: str, port: int) -> str:
    """``[server] public_url`` when none is configured: ``http://HOST:PORT`` (loopback for a wildcard host)."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@attrs.frozen(kw_only=True)
class Config:
    path: Path
    store_url: str
    store_secrets: tuple[str, ...]
    schedule: Mapping[str, timedelta]
    intake: IntakeConfig
    channels: Mapping[str, InstanceConfig]
    carriers: Mapping[str, InstanceConfig]
    warehouses: Mapping[str, InstanceConfig]
    notifiers: Mapping[str, InstanceConfig]
    promise: PromiseConfig = attrs.Factory(PromiseConfig)
    server: ServerConfig = ServerConfig()
    #: Who runs the schedule for `fulfilhub run` (``[schedule] engine``): ``embedded``, this
    #: process's scheduler, or ``procrastinate``, a worker on the store's PostgreSQL.
    engine: str = "embedded"
    #: The ``[notices]`` table as written (checked by the notify engine: ``notify.settings``).
    notices: Mapping[str, Any] = attrs.field(factory=dict)
    #: The ``[compensation]`` table as written (checked by the compensation engine: ``compensation.settings``).
    compensation: Mapping[str, Any] = attrs.field(factory=dict)
    #: The ``[carrier_choice]`` table as written (checked by the choice engine: ``choice.settings``).
    carrier_choice: Mapping[str, Any] = attrs.field(factory=dict)
    stock: StockConfig = StockConfig()

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every value resolved from the environment: what logs and errors must not show."""
        out: list[str] = list(self.store_secrets) + list(self.server.secrets)
        for kind in KINDS:
            for inst in getattr(self, kind).values():
                out.extend(inst.secrets)
        return tuple(out)


def parse_duration(value: Any, *, path: str, key: str) -> timedelta:
    """``"30s"``, ``"5m"``, ``"2h"``, ``"1d"`` or a number of seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match and float(match.group(1)) > 0:
            return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    raise ConfigError(f"expected a positive duration like \"30s\", \"5m\", \"2h\" or \"1d\", got {value!r}", path=path, key=key)


def _resolve(
    value: Any, *, path: str, key: str, env: Mapping[str, str], secrets: list[str], strict: bool = True,
    whole_ok: bool = False,
) -> Any:
    """Substitute ``${NAME}`` references from ``env``; every value used goes to ``secrets``.

    A value with whitespace around it (a token from an env file or a base64-decoded
    secret usually ends with a newline) is refused with an error that names the key
    and the variable but never shows the value, except where ``whole_ok`` and the
    string is the reference alone (``token = "${TOKEN}"`` in an instance's table):
    there the type's declared :class:`~fulfilhub.Setting` decides (``secret=True``
    strips it), and both forms are redacted.
    """
    if isinstance(value, str):
        whole = whole_ok and _ENV_REF.fullmatch(value) is not None

        def substitute(match: re.Match) -> str:
            name = match.group(1)
            if (name not in env or env[name] == "") and not strict:
                return ""
            if name not in env or env[name] == "":
                raise ConfigError(
                    f"environment variable {name} is not set (referenced as ${{{name}}}); "
                    f"export it before running fulfilhub",
                    path=path,
                    key=key,
                )
            found = env[name]
            secrets.append(found)
            if found != found.strip():
                if found.strip() and not whole:
                    raise ConfigError(_whitespace_message(name, found), path=path, key=key)
                if not found.strip():
                    raise ConfigError(
                        f"the value of ${name} is only whitespace; set it to the real value (not shown here)",
                        path=path,
                        key=key,
                    )
                secrets.append(found.strip())
            return found

        return _ENV_REF.sub(substitute, value)
    if isinstance(value, dict):
        return {
            k: _resolve(v, path=path, key=f"{key}.{k}", env=env, secrets=secrets, strict=strict, whole_ok=whole_ok)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            _resolve(v, path=path, key=f"{key}[{i}]", env=env, secrets=secrets, strict=strict, whole_ok=whole_ok)
            for i, v in enumerate(value)
        ]
    return value


def _whitespace_message(name: str, value: str) -> str:
    """What is wrong with an environment value that has whitespace around it (never the value)."""
    end = value[len(value.rstrip()):]
    if "\n" in end or "\r" in end:
        what = "ends with a newline"
    elif end:
        what = "ends with whitespace"
    else:
        what = "starts with whitespace"
    return (
        f"the value of ${name} {what}; strip it where it is set (write the env file without a "
        "final newline; use `printf %s`, not `echo`, when decoding a secret). The value is not shown"
    )


def load(path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None, strict_env: bool = True) -> Config:
    """Read and check a config file. Raises ConfigError saying where and what is wrong.

    With ``strict_env=False`` a missing ``${VAR}`` becomes an empty string instead of an
    error: for commands that only read the store and never call a foreign API.
    """
    env = os.environ if env is None else env
    file = Path(path or env.get("FULFILHUB_CONFIG") or DEFAULT_PATH)
    where = str(file)
    try:
        if not file.exists():
            raise ConfigError("no such config file; create one with `fulfilhub init`", path=where)
        if not file.is_file():
            raise ConfigError("not a file; pass the config file with -c", path=where)
        text = file.read_bytes().decode("utf-8-sig")  # a BOM (Notepad) is fine
        data = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start}: {exc.object[exc.start:exc.start + 1]!r}); "
                          f"save the file as UTF-8", path=where) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=where) from None
    except OSError as exc:
        raise ConfigError(f"cannot read it: {exc.strerror or exc}", path=where) from None
    return from_mapping(data, path=file, env=env, strict_env=strict_env)


def from_mapping(data: Mapping[str, Any], *, path: Path, env: Mapping[str, str], strict_env: bool = True) -> Config:
    where = str(path)
    _known_keys(data, SECTIONS, where, "", "section")

    store = _table(data, "store", where)
    _known_keys(store, STORE_KEYS, where, "store.", "setting")
    url = store.get("url", "sqlite:///fulfilhub.sqlite")
    if not isinstance(url, str) or "://" not in url:
        raise ConfigError(f"expected a database URL like \"sqlite:///fulfilhub.sqlite\", got {url!r}", path=where, key="store.url")
    store_secrets: list[str] = []
    url = _resolve(url, path=where, key="store.url", env=env, secrets=store_secrets, strict=strict_env)
    url = _anchor_sqlite(url, path.parent)

    schedule = dict(DEFAULT_SCHEDULE)
    schedule_table = dict(_table(data, "schedule", where))
    engine = schedule_table.pop("engine", "embedded")
    if engine not in ENGINES:
        raise ConfigError(f"expected one of {', '.join(map(repr, ENGINES))}, got {engine!r}", path=where,
                          key="schedule.engine")
    _known_keys(schedule_table, tuple(DEFAULT_SCHEDULE), where, "schedule.", "job")
    for job, value in schedule_table.items():
        schedule[job] = parse_duration(value, path=where, key=f"schedule.{job}")

    intake_table = _table(data, "intake", where)
    intake_fields = {a.name for a in attrs.fields(IntakeConfig)}
    _known_keys(intake_table, tuple(sorted(intake_fields)), where, "intake.", "setting")
    for key, value in intake_table.items():
        if not isinstance(value, bool):
            raise ConfigError(f"expected true or false, got {value!r}", path=where, key=f"intake.{key}")

    instances = {kind: _instances(data, kind, where, env, strict_env) for kind in KINDS}
    promise = _promise(_table(data, "promise", where), where, instances["warehouses"])
    return Config(
        path=path,
        store_url=url,
        store_secrets=tuple(store_secrets),
        schedule=schedule,
        engine=engine,
        intake=IntakeConfig(**intake_table),
        promise=promise,
        server=_server(_table(data, "server", where), where, env=env, strict=strict_env),
        notices=_table(data, "notices", where),
        compensation=_table(data, "compensation", where),
        carrier_choice=_table(data, "carrier_choice", where),
        stock=_stock(_table(data, "stock", where), where, instances["channels"], instances["warehouses"]),
        **instances,
    )


def _stock(table: Mapping[str, Any], where: str, channels: Mapping[str, InstanceConfig],
           warehouses: Mapping[str, InstanceConfig]) -> StockConfig:
    """``[stock]``, ``[stock.channels]`` and ``[stock.reorder_points]``, checked name by name."""
    _known_keys(table, STOCK_KEYS, where, "stock.", "setting")
    served: dict[str, tuple[str, ...]] = {}
    for channel, names in _table(table, "channels", where).items():
        key = f"stock.channels.{channel}"
        if channel not in channels:
            close = difflib.get_close_matches(channel, list(channels), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"no channel {channel!r} is configured; {hint}configured: {', '.join(channels) or 'none'}",
                              path=where, key=key)
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise ConfigError(f'expected a list of the warehouses that serve {channel}, like ["taipei"], got {names!r}',
                              path=where, key=key)
        unknown = [n for n in names if n not in warehouses]
        if unknown:
            raise ConfigError(f"no warehouse {unknown[0]!r} is configured; configured: "
                              f"{', '.join(warehouses) or 'none'}", path=where, key=key)
        served[channel] = tuple(dict.fromkeys(names))
    points: dict[str, int] = {}
    for sku, point in _table(table, "reorder_points", where).items():
        if isinstance(point, bool) or not isinstance(point, int) or not 0 <= point <= 10_000_000:
            raise ConfigError(f"expected a whole number of units from 0, like 10, got {point!r}", path=where,
                              key=f"stock.reorder_points.{sku}")
        points[sku] = point
    locale = table.get("locale", "en")
    if locale not in STOCK_LOCALES:
        raise ConfigError(f"expected one of {', '.join(STOCK_LOCALES)}, got {locale!r}", path=where, key="stock.locale")
    return StockConfig(channels=served, reorder_points=points, locale=locale)


def _promise(table: Mapping[str, Any], where: str, warehouses: Mapping[str, InstanceConfig]) -> PromiseConfig:
    """``[promise]`` and its ``[promise.warehouses.NAME]`` calendars, checked key by key."""
    _known_keys(table, PROMISE_KEYS, where, "promise.", "setting")
    values: dict[str, Any] = {}
    if "target" in table:
        target = table["target"]
        if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0.5 <= target < 1:
            raise ConfigError(f"expected a share from 0.5 to below 1, like 0.95, got {target!r}", path=where,
                              key="promise.target")
        values["target"] = float(target)
    if "default_transit_days" in table:
        values["default_transit_days"] = _whole(table["default_transit_days"], where, "promise.default_transit_days",
                                                least=1)
    if "half_life" in table:
        values["half_life"] = parse_duration(table["half_life"], path=where, key="promise.half_life")
    calendars: dict[str, CalendarConfig] = {}
    for name, cal in _table(table, "warehouses", where).items():
        key = f"promise.warehouses.{name}"
        if name not in warehouses:
            close = difflib.get_close_matches(name, list(warehouses), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(f"no warehouse {name!r} is configured; {hint}configured: {', '.join(warehouses) or 'none'}",
                              path=where, key=key)
        if not isinstance(cal, dict):
            raise ConfigError(f"expected a table [{key}], got {type(cal).__name__}", path=where, key=key)
        calendars[name] = _calendar(cal, where, key)
    values["warehouses"] = calendars
    return PromiseConfig(**values)


def _whole(value: Any, where: str, key: str, *, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= 365:
        raise ConfigError(f"expected a whole number of days from {least} to 365, got {value!r}", path=where, key=key)
    return value


def _calendar(table: Mapping[str, Any], where: str, key: str) -> CalendarConfig:
    _known_keys(table, CALENDAR_KEYS, where, key + ".", "setting")
    values: dict[str, Any] = {}
    if "timezone" in table:
        zone = table["timezone"]
        try:
            if not isinstance(zone, str) or not zone:
                raise ValueError
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"expected an IANA time zone like \"America/Los_Angeles\", got {zone!r}", path=where,
                              key=f"{key}.timezone") from None
        values["timezone"] = zone
    if "cutoff" in table:
        cutoff = table["cutoff"]
        match = _TIME.match(cutoff) if isinstance(cutoff, str) else None
        if match is None:
            raise ConfigError(f"expected a time of day like \"14:00\" (24-hour, warehouse time), got {cutoff!r}",
                              path=where, key=f"{key}.cutoff")
        values["cutoff"] = time(int(match.group(1)), int(match.group(2)))
    if "handling_days" in table:
        values["handling_days"] = _whole(table["handling_days"], where, f"{key}.handling_days", least=0)
    if "working_days" in table:
        values["working_days"] = _working_days(table["working_days"], where, f"{key}.working_days")
    if "holidays" in table:
        values["holidays"] = _holidays(table["holidays"], where, f"{key}.holidays")
    if "closures" in table:
        values["closures"] = _closures(table["closures"], where, f"{key}.closures")
    return CalendarConfig(**values)


def _working_days(value: Any, where: str, key: str) -> frozenset[int]:
    """``"Mon-Fri"``, ``"Mon-Sat"``, ``"Mon,Wed,Fri"`` or a list of day names."""
    expected = f"expected days like \"Mon-Fri\", \"Mon-Sat\" or [\"Mon\", \"Wed\"] (names: {', '.join(WEEKDAYS)}), got {value!r}"
    parts = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else None
    if not parts:
        raise ConfigError(expected, path=where, key=key)
    days: set[int] = set()
    for part in parts:
        if not isinstance(part, str):
            raise ConfigError(expected, path=where, key=key)
        ends = [p.strip().capitalize()[:3] for p in part.split("-")]
        if len(ends) > 2 or any(p not in WEEKDAYS for p in ends):
            raise ConfigError(expected, path=where, key=key)
        first, last = WEEKDAYS.index(ends[0]), WEEKDAYS.index(ends[-1])
        if last < first:
            raise ConfigError(expected + f" ({ends[0]}-{ends[-1]} runs backwards)", path=where, key=key)
        days.update(range(first, last + 1))
    return frozenset(days)


def _holidays(value: Any, where: str, key: str) -> str:
    """``"US"`` or ``"US-CA"``: a country the ``holidays`` library knows, and one of its subdivisions."""
    match = _REGION.match(value.strip().upper()) if isinstance(value, str) else None
    if match is None:
        raise ConfigError(f"expected a country code with an optional subdivision like \"US\" or \"US-CA\", got {value!r}",
                          path=where, key=key)
    import holidays as holidays_lib  # imported only when a calendar names holidays

    country, subdivision = match.groups()
    supported = holidays_lib.list_supported_countries()
    if country not in supported:
        raise ConfigError(f"the holidays library knows no country {country!r}; use an ISO 3166 alpha-2 code it "
                          f"supports (e.g. US, GB, DE, TW, CN)", path=where, key=key)
    if subdivision is not None and subdivision not in supported[country]:
        known = ", ".join(supported[country][:12]) + (", ..." if len(supported[country]) > 12 else "")
        raise ConfigError(f"{country} has no subdivision {subdivision!r} in the holidays library; known: {known}",
                          path=where, key=key)
    return match.group(0)


def _closures(value: Any, where: str, key: str) -> frozenset[date]:
    if not isinstance(value, list):
        raise ConfigError(f"expected a list of dates like [\"2026-12-24\"], got {value!r}", path=where, key=key)
    out: set[date] = set()
    for i, item in enumerate(value):
        if isinstance(item, date) and not hasattr(item, "hour"):
            out.add(item)  # a TOML date literal
            continue
        try:
            out.add(date.fromisoformat(item))
        except (TypeError, ValueError):
            raise ConfigError(f"expected a date like \"2026-12-24\", got {item!r}", path=where, key=f"{key}[{i}]") from None
    return frozenset(out)


def _known_keys(table: Mapping[str, Any], known: tuple[str, ...], where: str, prefix: str, what: str) -> None:
    """Raise ConfigError naming the first key of ``table`` not in ``known`` (with a "did you mean")."""
    for key in sorted(set(table) - set(known)):
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(f"unknown {what} {key!r}; {hint}expected one of {', '.join(known)}", path=where, key=prefix + key)


def _table(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"expected a table ([{key}]), got {type(value).__name__}", path=where, key=key)
    return value


def _instances(data: Mapping[str, Any], kind: str, where: str, env: Mapping[str, str], strict: bool) -> dict[str, InstanceConfig]:
    out: dict[str, InstanceConfig] = {}
    for name, table in _table(data, kind, where).items():
        key = f"{kind}.{name}"
        if not _NAME.fullmatch(name):
            raise ConfigError("instance names are lower-case letters, digits, '-' and '_' (at most 63)", path=where, key=key)
        if not isinstance(table, dict):
            raise ConfigError(f"expected a table [{key}] with at least `type = \"...\"`", path=where, key=key)
        type_name = table.get("type")
        if not isinstance(type_name, str) or not type_name:
            raise ConfigError("missing `type`: which registered type this instance is (see `fulfilhub plugins`)", path=where, key=key)
        secrets: list[str] = []
        settings = _resolve(
            {k: v for k, v in table.items() if k != "type"},
            path=where, key=key, env=env, secrets=secrets, strict=strict, whole_ok=True,
        )
        out[name] = InstanceConfig(kind=kind, name=name, type=type_name, settings=settings, secrets=tuple(secrets))
    return out


def _anchor_sqlite(url: str, base: Path) -> str:
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith("sqlite:////"):
        rest = url[len(prefix):]
        if rest and rest != ":memory:" and not Path(rest).is_absolute():
            return prefix + str((base / rest).resolve())
    return url


EXAMPLE = """\
# fulfilhub configuration. Secrets are ${ENV_VAR} references, never literal values.

[store]
url = "sqlite:///fulfilhub.sqlite"

[schedule]
pull_orders = "5m"
allocate = "1m"
poll_warehouses = "5m"
buy_labels = "2m"
deliver_effects = "30s"
poll_tracking = "30m"

[intake]
hold_on_note = true   # orders with a customer note wait for a person

[channels.my-shop]
type = "shopify"
shop = "my-shop"                      # https://my-shop.myshopify.com
access_token = "${SHOPIFY_ACCESS_TOKEN}"

[carriers.easypost]
type = "easypost"
api_key = "${EASYPOST_API_KEY}"

[warehouses.main]
type = "local"
pick_minutes = 60
pack_minutes = 120

[warehouses.main.address]
name = "Main warehouse"
line1 = "1 Dock Road"
city = "Reno"
province = "NV"
postal_code = "89501"
country = "US"
"""


def example_for(registered: Mapping[str, Iterable[str]]) -> str:
    """:data:`EXAMPLE` for the plugins installed here: an instance table whose ``type`` no
    installed plugin registers (``registered``: kind -> type names) is written commented
    out, saying which package brings it, so that ``fulfilhub doctor`` in a plugin's own
    virtualenv does not fail on first-party plugins that are not installed."""
    out: list[str] = []
    commenting = False
    for line in EXAMPLE.splitlines(keepends=True):
        header = re.match(r"^\[(channels|carriers|warehouses|notifiers)\.([\w-]+)(\.[\w.-]+)?\]", line)
        if header:
            if header.group(3) is None:
                kind = header.group(1)
                block = EXAMPLE[EXAMPLE.index(line):]
                found = re.search(r'^type = "([\w-]+)"', block, re.M)
                wanted = found.group(1) if found else ""
                commenting = wanted not in set(registered.get(kind, ()))
                if commenting:
                    out.append(f"# not installed: pip install fulfilhub-{wanted}, then uncomment\n")
        elif line.startswith("[") and not line.startswith("[["):
            commenting = False
        out.append(f"# {line}" if commenting and line.strip() else line)
    return "".join(out)
