"""The conformance suite: one standard test class per plugin kind.

A plugin author subclasses the class of the kind the plugin provides, points it at the
plugin module and its simulator, and pytest runs every check against the real adapter
over loopback HTTP::

    import fulfilhub_easypost
    from fulfilhub.testing.conformance import CarrierSuite

    class TestEasyPostConformance(CarrierSuite):
        plugin = fulfilhub_easypost       # the module named in the entry point
        entry_point = "easypost"          # its name in the ``fulfilhub`` group
        type_name = "easypost"            # the registered carrier type
        status_table = mapping.STATUSES   # vendor word -> TrackingStatus
        documented_statuses = (...)       # every word the vendor documents

The simulator is the one the plugin registers (``register_simulators``) under
``simulator_name`` (default: ``type_name``); the instance settings and the credential
the simulator checks come from its :class:`~fulfilhub.sandbox.DemoPart`, or from
``settings`` and ``credentials`` when it has none.

Instances are built as the runner builds them, ``context.state`` included (a store of
the check's own). Besides well-formed answers, the checks compare what the adapter says
with what the simulator holds, through methods the suite subclass overrides
(``sent_scans``, ``rate_truth``, ``order_truth``, ``stock_truth``... see
docs/conformance.md).

A check the plugin cannot pass yet is listed in ``expected_failures`` with the reason
(``{"test_webhook_stale_replay_is_rejected": "the vendor signs no timestamp"}``, or one
case of a check that runs per adapter call: ``"test_x[track]"``); the
``fulfilhub`` pytest plugin (entry point ``pytest11``) marks it strictly expected to
fail, so it is reported when it starts passing, and refuses an entry without a reason
or naming no check.

The checks, by kind (each a ``test_*`` method; ``pytest --collect-only`` lists them):

- every kind: registration through the entry point with a name, a version and a
  settings schema; a bad setting is a ConfigError naming the key; secrets never in a
  repr, a log line or an error.
- channels, carriers, warehouses (over HTTP, against the simulator): 429 with
  Retry-After, 5xx and timeouts are retried by the shared helper; when retries run out
  the error is a TransientError naming the instance; a malformed body is a fulfilhub
  error, not a JSONDecodeError; the mappings turn mutated simulator answers into a
  model or a PayloadError (fuzzed); outbound effects are idempotent per key, also
  across a restart; every status value maps to a normalized one (no silent unknown)
  and the table covers the vendor's documented values; webhooks (when the adapter has
  the capability) accept a valid signature and refuse a tampered body, a wrong secret,
  a missing signature header and a stale replay, comparing in constant time.
  Also: a 4xx is a PermanentError and is not resent; every call raises a TransientError
  when the service is down (never an empty success); the same instant written in
  another UTC offset maps to the same time; no call sleeps on the wall clock; without
  its webhook secret an adapter refuses every webhook.
- channels: a second pull from the saved cursor returns nothing already seen; a
  cursor in the future returns nothing; a pull killed mid-pagination resumes from its
  saved cursor without loss; pagination always advances (a loop is detected); an
  empty pass keeps its cursor; an order updated or cancelled in the shop comes again
  as a new version or a cancellation; lines, quantities, prices, totals and currency
  are the shop's; ``parse_order`` leaves its payload unchanged.
- carriers: tracking ends in the simulator's last status, whatever order scans are
  listed in, with no duplicate on a re-poll and no event later than the clock; rates
  and labels carry the simulator's amounts and currency (JPY, KWD).
- warehouses: every SKU with the stock held, a change of stock seen, a request
  submitted whole, progress through packed, an unknown status word refused.
- notifiers: the message read back is the notice's; a failing medium raises; two
  notices are two messages. Policies: properties over currencies and 0-30 days late.
"""

from __future__ import annotations

import hmac
import importlib.metadata
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, ClassVar

import attrs
import httpx
import pytest

from ..adapters import (
    CompensationPolicy,
    InstanceContext,
    NotifierType,
    Setting,
    ShipmentPush,
    ShipmentTracker,
    WebhookReceiver,
)
from ..clock import SimClock
from ..errors import ConfigError, ExternalError, FulfilhubError, PayloadError, PermanentError, TransientError
from ..http import RetryPolicy
from ..models import (
    Address,
    CompensationProposal,
    DelayAssessment,
    FulfillmentRequest,
    FulfillmentStatus,
    FulfillmentUpdate,
    Label,
    Money,
    Notice,
    NoticeEvent,
    Order,
    OrderLine,
    OrderPage,
    Parcel,
    Rate,
    ShipmentLine,
    ShipmentRequest,
    TrackingStatus,
    TrackingUpdate,
)
from ..plugins import ENTRY_POINT_GROUP, PluginManager
from ..sandbox import SandboxContext, SandboxServer, Simulator
from . import instance_context
from .fuzz import assert_maps_or_refuses, check_model, mutations

__all__ = [
    "CarrierSuite",
    "ChannelSuite",
    "NotifierSuite",
    "PolicySuite",
    "Suite",
    "WarehouseSuite",
    "checks",
]

#: The retry policy the suite runs adapters with: quick, and sleeping on the scenario clock.
SUITE_RETRIES = RetryPolicy(attempts=3, initial=0.01, maximum=0.05, max_wait=120.0, timeout=2.0)
#: For the timeout check: a timeout the injected slow answer (1.5 s) exceeds, and a loaded
#: machine's ordinary answer does not.
TIMEOUT_RETRIES = RetryPolicy(attempts=3, initial=0.01, maximum=0.05, max_wait=1.0, timeout=0.75)
#: A value of the wrong type for each setting type (a bad setting must be refused by key).
_WRONG = {int: "not-a-number", float: "not-a-number", bool: "yes", str: 12345, list: 7, dict: 7}
_MARK = "fulfilhub_conformance"


def checks(suite: type) -> list[str]:
    """The names of the checks a suite class runs (its ``test_*`` methods)."""
    return sorted(name for name in dir(suite) if name.startswith("test_") and callable(getattr(suite, name)))


class Suite:
    """What every kind's suite shares: registration, settings, secrets, expected failures.

    Set on a subclass:

    - ``plugin``: the object with the hook implementations (usually the module the
      entry point names);
    - ``entry_point``: the plugin's name in the ``fulfilhub`` entry-point group (None
      skips the discovery check, saying so: for a plugin not yet installed);
    - ``type_name``: the name the plugin registers its type under;
    - ``expected_failures``: ``{check name: reason}``.
    """

    kind: ClassVar[str] = ""
    plugin: ClassVar[Any] = None
    entry_point: ClassVar[str | None] = None
    type_name: ClassVar[str] = ""
    expected_failures: ClassVar[Mapping[str, str]] = {}
    #: The cases of the checks that take one per adapter call (``fh_stage``): the names of
    #: ``fuzz_stages()``. ``expected_failures`` may name one case: ``"test_x[track]"``.
    stages: ClassVar[Sequence[str]] = ()

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "fh_stage" in metafunc.fixturenames:
            metafunc.parametrize("fh_stage", list(self.stages), ids=list(self.stages))

    @classmethod
    def cases_of(cls, check: str) -> tuple[str, ...]:
        """The cases of one check (``()`` for a check that has none)."""
        import inspect

        method = getattr(cls, check, None)
        if method is None or "fh_stage" not in inspect.signature(method).parameters:
            return ()
        return tuple(cls.stages)

    # ------------------------------------------------------------------ helpers

    @classmethod
    def plugin_manager(cls) -> PluginManager:
        return PluginManager(load_installed=False, load_defaults=False, extra=[cls.plugin])

    @classmethod
    def registered(cls) -> Any:
        table = getattr(cls.plugin_manager().registry, cls.kind)
        assert cls.type_name in table, (
            f"the plugin registers no {cls.kind[:-1]} type named {cls.type_name!r}; it registers {sorted(table)}"
        )
        return table[cls.type_name]

    # ------------------------------------------------------------------ registration

    def test_registers_through_the_entry_point_with_a_name_and_version(self) -> None:
        if self.entry_point is None:
            pytest.skip("entry_point is not set: discovery through the entry point is not checked")
        found = [ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == self.entry_point]
        assert found, (
            f"no entry point named {self.entry_point!r} in the {ENTRY_POINT_GROUP!r} group: declare it in "
            f'pyproject.toml ([project.entry-points.fulfilhub] {self.entry_point} = "your_package") and install '
            "the package"
        )
        [ep] = found
        assert ep.load() is self.plugin, f"entry point {self.entry_point!r} loads {ep.value!r}, not the suite's plugin"
        dist = getattr(ep, "dist", None)
        assert dist is not None and dist.version, f"entry point {self.entry_point!r} belongs to no versioned package"
        pm = PluginManager(load_installed=True, load_defaults=False, strict=False)
        failed = [failure.error for failure in pm.failures if failure.name == self.entry_point]
        assert not failed, failed[0]
        owners = {owner for owner in [pm.owner(self.kind, self.type_name)] if owner}
        assert owners == {self.entry_point}, (
            f"discovered through the entry points, {self.kind[:-1]} type {self.type_name!r} is registered by "
            f"{owners or 'no plugin'}, not by {self.entry_point!r}"
        )

    def test_declares_a_settings_schema(self) -> None:
        registered = self.registered()
        assert registered.name == self.type_name
        schema = getattr(registered, "settings", {})
        assert schema is not None, (
            f"{self.type_name!r} declares no settings (settings=None accepts any key, so a misspelt one "
            "goes unnoticed); declare them: settings={'api_key': Setting(str, secret=True, help=...)}"
        )
        for key, declared in schema.items():
            assert isinstance(declared, Setting), f"setting {key!r} is declared as {declared!r}, not a Setting"
            assert declared.help, f"setting {key!r} has no help text (it is what `fulfilhub init` and errors show)"


class _AdapterSuite(Suite):
    """Shared by the kinds built from an instance context and tested against a simulator."""

    simulator_name: ClassVar[str | None] = None
    #: Options for the simulator (the credential option is added from ``credentials``).
    simulator_options: ClassVar[Mapping[str, Any]] = {}
    #: Instance settings besides ``base_url`` and the credentials (default: the DemoPart's).
    settings: ClassVar[Mapping[str, Any] | None] = None
    #: setting -> (simulator option, value): the credential the simulator checks (default: the DemoPart's).
    credentials: ClassVar[Mapping[str, tuple[str, str]] | None] = None
    #: Number of mutated payloads per fuzzed mapping.
    fuzz_count: ClassVar[int] = 300
    #: Status table (vendor word -> normalized, or normalized -> vendor word for channels).
    status_table: ClassVar[Mapping[Any, Any] | None] = None
    #: Every status word the vendor documents.
    documented_statuses: ClassVar[Iterable[str]] = ()
    #: Reason table (vendor word -> ExceptionReason or what it adds) and the words the vendor documents.
    reason_table: ClassVar[Mapping[str, Any] | None] = None
    documented_reasons: ClassVar[Iterable[str]] = ()
    #: Table entries allowed to map to UNKNOWN (or to nothing), each with the reason.
    unknown_ok: ClassVar[Mapping[Any, str]] = {}
    #: Webhooks (for an adapter with the capability): the setting holding the secret,
    #: the header carrying the signature.
    webhook_secret_setting: ClassVar[str] = "webhook_secret"
    signature_header: ClassVar[str] = ""
    #: Why a re-signed mutated webhook body may be refused by ``verify_webhook`` (empty: it
    #: may not): a reason of the vendor's protocol, e.g. "the send time is inside the signed
    #: body, and a body whose time is stale or unreadable is refused as a replay".
    resigned_refusal: ClassVar[str] = ""

    # ------------------------------------------------------------------ fixtures

    @pytest.fixture
    def fh_clock(self) -> SimClock:
        return SimClock()

    @pytest.fixture
    def fh_store(self, tmp_path: Any) -> Iterator[_LazyStore]:
        """A migrated SQLite store, opened when an instance first uses ``context.state`` (or
        ``context.stock``): what the runner gives each instance."""
        lazy = _LazyStore(f"sqlite:///{tmp_path / 'conformance.db'}")
        yield lazy
        lazy.close()

    @pytest.fixture
    def fh_sandbox(self, fh_clock: SimClock) -> Iterator[SandboxServer]:
        name = self._simulator_name()
        options = dict(self.simulator_options)
        if self.kind == "channels":
            options.setdefault("orders_per_day", getattr(self, "orders_per_day", 24))
        for option, value in self._credentials().values():
            options.setdefault(option, value)
        context = SandboxContext(clock=fh_clock, seed=1, options={name: options})
        server = SandboxServer({name: self._simulator()}, context).start()
        try:
            yield server
        finally:  # the server winds down in the background while the next check starts its own
            threading.Thread(target=server.stop, name="fulfilhub-sandbox-stop", daemon=True).start()

    @pytest.fixture
    def fh_sim(self, fh_sandbox: SandboxServer) -> Any:
        return fh_sandbox.simulators[self._simulator_name()]

    @pytest.fixture
    def fh_build(self, fh_sandbox: SandboxServer, fh_clock: SimClock, fh_store: Any) -> Iterator[Callable[..., Any]]:
        """``fh_build(**settings)``: an adapter pointed at the simulator (closed after the test).

        Every instance built in one check shares one store, as instances of one name do
        across restarts of the runner: ``context.state`` keeps what the last one wrote.
        """
        built: list[Any] = []
        self.fh_simulator = fh_sandbox.simulators[self._simulator_name()]  # for outside_label()

        def build(*, policy: RetryPolicy = SUITE_RETRIES, transport: httpx.BaseTransport | None = None,
                  secrets: Iterable[str] = (), **overrides: Any) -> Any:
            adapter = self.registered().factory(
                self.context(fh_sandbox, fh_clock, policy=policy, transport=transport, secrets=secrets,
                             store=fh_store, **overrides)
            )
            built.append(adapter)
            return adapter

        yield build
        for adapter in built:
            try:
                adapter.close()
            except Exception:  # noqa: BLE001 - a close that fails must not hide the check's outcome
                pass

    @pytest.fixture
    def fh_offline(self, fh_clock: SimClock, fh_store: Any) -> Iterator[Callable[..., Any]]:
        """``fh_offline(**settings)``: an adapter for checks that send no request (no simulator started)."""
        built: list[Any] = []

        def build(*, secrets: Iterable[str] = (), **overrides: Any) -> Any:
            adapter = self.registered().factory(self.context(None, fh_clock, secrets=secrets, store=fh_store,
                                                             **overrides))
            built.append(adapter)
            return adapter

        yield build
        for adapter in built:
            adapter.close()

    # ------------------------------------------------------------------ helpers

    @classmethod
    def _simulator_name(cls) -> str:
        return cls.simulator_name or cls.type_name

    @classmethod
    def _simulator(cls) -> Simulator:
        sims = cls.plugin_manager().registry.simulators
        name = cls._simulator_name()
        assert name in sims, (
            f"the plugin registers no simulator named {name!r} (register_simulators); "
            f"it registers {sorted(sims)}; set simulator_name"
        )
        return sims[name]

    @classmethod
    def _credentials(cls) -> Mapping[str, tuple[str, str]]:
        if cls.credentials is not None:
            return cls.credentials
        demo = cls._simulator().demo
        return {key: (secret.option, secret.value) for key, secret in (demo.secrets if demo else {}).items()}

    @classmethod
    def _settings(cls) -> Mapping[str, Any]:
        if cls.settings is not None:
            return cls.settings
        demo = cls._simulator().demo
        return dict(demo.settings) if demo else {}

    def context(self, sandbox: SandboxServer | None, clock: SimClock, *, policy: RetryPolicy = SUITE_RETRIES,
                transport: httpx.BaseTransport | None = None, secrets: Iterable[str] = (), store: Any = None,
                **overrides: Any) -> InstanceContext:
        """The instance context the runner would build for an instance pointed at ``sandbox``
        (with ``context.state`` in ``store``, and ``context.stock`` for a warehouse)."""
        base_url = sandbox.url_for(self._simulator_name()) if sandbox else "http://127.0.0.1:9/offline"
        settings: dict[str, Any] = {**self._settings(), "base_url": base_url}
        for key, (_option, value) in self._credentials().items():
            settings[key] = value
        settings.update(overrides)
        settings = {key: value for key, value in settings.items() if value is not None}
        all_secrets = {value for _option, value in self._credentials().values()} | set(secrets)
        name = f"conformance-{self.type_name}"
        context = instance_context(
            name, settings, clock=clock, secrets=sorted(all_secrets), policy=policy,
            transport=transport, schema=self.registered().settings, kind=self.kind,
        )
        if store is None:
            return context
        return attrs.evolve(context, state=store.state(self.kind, name, clock),
                            stock=store.stock(name) if self.kind == "warehouses" else None)

    def exercise(self, adapter: Any) -> Any:
        """One ordinary call that reaches the simulator (the HTTP checks inject faults into it)."""
        raise NotImplementedError

    def _fault_path(self) -> str:
        return f"/{self._simulator_name()}/"

    # ------------------------------------------------------------------ settings and secrets

    def test_a_bad_setting_is_an_error_naming_the_key(self, fh_offline: Callable[..., Any]) -> None:
        fh_build = fh_offline
        schema = self.registered().settings or {}
        with pytest.raises(ConfigError) as unknown:
            fh_build(no_such_setting=1)
        assert unknown.value.key and unknown.value.key.endswith("no_such_setting"), unknown.value
        for key, declared in schema.items():
            wrong = _WRONG[declared.type]
            try:
                adapter = fh_build(**{key: wrong})
            except ConfigError as exc:
                assert exc.key and exc.key.endswith(key), (
                    f"setting {key} = {wrong!r} was refused, but the error names {exc.key!r}, not the key: {exc}"
                )
                continue
            except Exception as exc:  # noqa: BLE001
                raise AssertionError(
                    f"setting {key} = {wrong!r} raised {type(exc).__name__}: {exc}; expected a ConfigError naming "
                    "the key (read settings with context.setting(...))"
                ) from exc
            adapter.close()
            raise AssertionError(
                f"setting {key} = {wrong!r} (a {type(wrong).__name__}, declared {declared.type.__name__}) was "
                "accepted; read it with context.setting(...) when the adapter is built"
            )

    def test_secrets_never_appear_in_reprs_logs_or_errors(
        self, fh_build: Callable[..., Any], fh_sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
    ) -> None:
        credentials = self._credentials()
        if not credentials:
            pytest.skip("the simulator checks no credential (no DemoPart secrets, no credentials)")
        caplog.set_level(logging.DEBUG)
        shown: list[str] = []
        adapter = fh_build()
        shown += [repr(adapter), str(adapter)]
        self.exercise(adapter)
        fh_sandbox.context.faults.add("500", path=self._fault_path(), times=50)
        try:
            self.exercise(adapter)
        except Exception as exc:  # noqa: BLE001 - the error's text is what is checked
            shown += [str(exc), repr(exc)]
        fh_sandbox.context.faults.clear()
        wrong = {key: f"WrongSecret{index}x7Q9" for index, key in enumerate(credentials)}
        refused = fh_build(secrets=wrong.values(), **wrong)
        shown += [repr(refused)]
        try:
            self.exercise(refused)
        except Exception as exc:  # noqa: BLE001
            shown += [str(exc), repr(exc), repr(getattr(exc, "body", ""))]
        else:
            raise AssertionError(
                "a call with a wrong credential returned without an error: the adapter swallowed the refusal (or "
                "the simulator checks no credential, and this check cannot tell)"
            )
        shown.append(caplog.text)
        text = "\n".join(shown)
        for secret in [value for _option, value in credentials.values()] + list(wrong.values()):
            assert secret not in text, f"a secret ({secret[:3]}...) appears in a repr, a log line or an error"

    # ------------------------------------------------------------------ errors through the shared helper

    def test_429_with_retry_after_is_waited_for_and_retried(
        self, fh_build: Callable[..., Any], fh_sandbox: SandboxServer, fh_clock: SimClock
    ) -> None:
        adapter = fh_build()
        fh_sandbox.context.faults.add("429", path=self._fault_path(), times=1, retry_after=30)
        before = fh_clock.now()
        self.exercise(adapter)
        assert fh_sandbox.context.faults.injected == 1, "the injected 429 never reached the adapter"
        waited = (fh_clock.now() - before).total_seconds()
        assert waited >= 30, f"the 429 asked to wait 30 s (Retry-After); the adapter waited {waited:g} s"

    def test_5xx_is_retried(self, fh_build: Callable[..., Any], fh_sandbox: SandboxServer) -> None:
        adapter = fh_build()
        fh_sandbox.context.faults.add("503", path=self._fault_path(), times=1)
        self.exercise(adapter)
        assert fh_sandbox.context.faults.injected == 1

    def test_a_timeout_is_retried(self, fh_build: Callable[..., Any], fh_sandbox: SandboxServer) -> None:
        adapter = fh_build(policy=TIMEOUT_RETRIES)
        fh_sandbox.context.faults.add("timeout", path=self._fault_path(), times=1, delay=1.5)
        self.exercise(adapter)
        assert fh_sandbox.context.faults.injected == 1

    def test_when_retries_run_out_the_error_is_clear(
        self, fh_build: Callable[..., Any], fh_sandbox: SandboxServer, fh_sim: Any, fh_clock: SimClock, fh_stage: str
    ) -> None:
        """Every call (each case is one of ``stages``) raises a TransientError when the service is down:
        a 5xx is never an empty success."""
        adapter = fh_build()
        call = self._stage(adapter, fh_sim, fh_clock, fh_stage)
        fh_sandbox.context.faults.add("503", path=self._fault_path(), times=1000)
        try:
            result = call()
        except TransientError as exc:
            assert f"conformance-{self.type_name}" in str(exc), f"the error does not name the instance: {exc}"
            assert "503" in str(exc), f"the error does not say what failed: {exc}"
            return
        except Exception as exc:  # noqa: BLE001
            raise AssertionError(
                f"{fh_stage}(): with the service answering 503 to every request, it raised {type(exc).__name__}: "
                f"{exc}; expected the helper's TransientError (let it through: the runner retries later)"
            ) from None
        raise AssertionError(
            f"{fh_stage}(): with the service answering 503 to every request, it returned {_short(result)} instead "
            "of raising a TransientError: an outage taken for an empty answer (do not catch the helper's errors)"
        )

    def test_a_4xx_is_a_permanent_error_and_not_resent(self, fh_build: Callable[..., Any]) -> None:
        refusing = _RefuseFirst(422)
        adapter = fh_build(transport=refusing)
        try:
            result = self.exercise(adapter)
        except PermanentError:
            pass
        except TransientError as exc:
            raise AssertionError(
                f"a 422 validation error was raised as a TransientError ({exc}): it will be retried for ever; a "
                "4xx other than 429 is a PermanentError (the helper raises one: let it through)"
            ) from None
        except Exception as exc:  # noqa: BLE001
            raise AssertionError(
                f"a 422 validation error raised {type(exc).__name__}: {exc}; expected a PermanentError"
            ) from None
        else:
            raise AssertionError(
                f"a 422 validation error was taken as a success ({_short(result)}), after "
                f"{refusing.resent} resend(s) of the refused request"
            )
        assert refusing.resent == 0, (
            f"the refused request ({refusing.refused}) was sent again {refusing.resent} time(s): a 4xx is not retried"
        )

    def test_a_malformed_body_is_a_fulfilhub_error(self, fh_build: Callable[..., Any], fh_sandbox: SandboxServer) -> None:
        adapter = fh_build()
        fh_sandbox.context.faults.add("malformed", path=self._fault_path(), times=1)
        try:
            self.exercise(adapter)
        except FulfilhubError:
            pass
        except Exception as exc:  # noqa: BLE001
            raise AssertionError(
                f"a truncated JSON body raised {type(exc).__name__}: {exc}; read bodies with the helper's "
                "http.json(response, ...), which raises a TransientError saying what arrived"
            ) from exc
        else:
            raise AssertionError("a truncated JSON body was taken as an answer")

    # ------------------------------------------------------------------ fuzzing through the adapter

    def fuzz_stages(self, adapter: Any, sim: Any, clock: SimClock) -> Sequence[tuple[str, Callable[[], Any]]]:
        """(name, call) for each adapter call whose answer is fuzzed, in an order that works live."""
        raise NotImplementedError

    def _stage(self, adapter: Any, sim: Any, clock: SimClock, name: str) -> Callable[[], Any]:
        """The call of the stage ``name`` (after the live set-up ``fuzz_stages`` does)."""
        stages = dict(self.fuzz_stages(adapter, sim, clock))
        assert name in stages, f"fuzz_stages() gives no stage {name!r} (it gives {sorted(stages)}); set stages"
        return stages[name]

    def test_mappings_survive_mutated_simulator_answers(
        self, fh_build: Callable[..., Any], fh_sim: Any, fh_clock: SimClock, fh_stage: str
    ) -> None:
        recorder = _Recorder()
        adapter = fh_build(transport=recorder)
        call = self._stage(adapter, fh_sim, fh_clock, fh_stage)
        recorder.live()
        call()
        script = recorder.take()
        bodies = [i for i, exchange in enumerate(script) if exchange.json is not None]
        assert bodies, f"{fh_stage}(): no JSON answer was recorded to fuzz"
        for number, index in enumerate(bodies):
            target = script[index]
            count = max(20, self.fuzz_count // max(1, len(bodies) * len(self.stages)))

            def replayed(mutated: Any, _index: int = index) -> Any:
                recorder.replay(script, _index, mutated)
                return call()

            try:
                assert_maps_or_refuses(replayed, mutations(target.json, seed=number, count=count),
                                       check=_check_result, refuse=(PayloadError, ExternalError))
            except AssertionError as exc:
                raise AssertionError(f"{fh_stage}: mutated answers to {target.method} {target.path}: {exc}") from None
        recorder.live()

    def comparable(self, adapter: Any, result: Any) -> Any:
        """What a call's result says, for comparing two answers (no raw payloads, no opaque versions)."""
        if isinstance(result, OrderPage):
            return [_comparable(adapter.parse_order(payload)) for payload in result.payloads]
        if isinstance(result, TrackingUpdate):  # what it says, not how often (the re-poll check counts)
            return ("TrackingUpdate", {"status": result.status, "reason": result.reason,
                                       "est_delivery": result.est_delivery, "events": sorted(
                                           {(e.at, str(e.status), str(e.reason)) for e in result.events})})
        return _comparable(result)

    def test_the_same_instant_in_another_offset_maps_to_the_same_time(
        self, fh_build: Callable[..., Any], fh_sim: Any, fh_clock: SimClock, fh_stage: str
    ) -> None:
        recorder = _Recorder()
        adapter = fh_build(transport=recorder)
        call = self._stage(adapter, fh_sim, fh_clock, fh_stage)
        recorder.live()
        live = self.comparable(adapter, call())
        script = recorder.take()
        shifted_any = False
        for hours in (8, -5):
            offset = timezone(timedelta(hours=hours))
            shifted = [attrs.evolve(ex, content=json.dumps(_shift_offsets(ex.json, offset)).encode("utf-8"))
                       if ex.json is not None else ex for ex in script]
            shifted_any = shifted_any or any(a.content != b.content for a, b in zip(script, shifted))
            recorder.replay_script(shifted)
            try:
                again = self.comparable(adapter, call())
            except PayloadError:
                continue  # refusing a time written another way is safe
            assert again == live, (
                f"{fh_stage}(): the same answer with its times written at UTC{hours:+d}:00 (the same instants) maps "
                f"differently: {_difference(live, again)}; parse the offset (datetime.fromisoformat) and never "
                "replace the tzinfo"
            )
        recorder.live()
        if not shifted_any:
            pytest.skip(f"{fh_stage}(): the answer holds no time with a UTC offset to rewrite")

    def test_no_call_sleeps_on_the_wall_clock(
        self, fh_build: Callable[..., Any], fh_sim: Any, fh_clock: SimClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        adapter = fh_build()
        slept: list[float] = []
        real = time.sleep
        main = threading.main_thread()

        def guard(seconds: float) -> None:
            if threading.current_thread() is main:
                slept.append(seconds)  # recorded, not slept: the check fails below
            else:
                real(seconds)

        monkeypatch.setattr(time, "sleep", guard)
        for module in list(sys.modules.values()):  # `from time import sleep` copies it
            for attr, value in list(getattr(module, "__dict__", {}).items()):
                if value is real and module is not time:
                    monkeypatch.setattr(module, attr, guard)
        for _name, call in self.fuzz_stages(adapter, fh_sim, fh_clock):
            call()
        self.exercise(adapter)
        assert not slept, (
            f"the adapter slept {len(slept)} time(s), {sum(slept):g} s in all, on the wall clock (time.sleep): the "
            "runner's other work waits, and tests on a scenario clock crawl; wait with context.clock.sleep(...) "
            "or leave waiting to the helper's retries"
        )

    # ------------------------------------------------------------------ status table

    def test_the_status_table_covers_the_documented_values_with_no_silent_unknown(self) -> None:
        if self.status_table is None:
            pytest.skip("status_table is not set")
        documented = list(self.documented_statuses)
        assert documented, "documented_statuses is empty: list every status value the vendor documents"
        self.check_status_table(self.status_table, documented)

    def test_the_reason_table_covers_the_documented_values(self) -> None:
        if self.reason_table is None:
            pytest.skip("reason_table is not set")
        documented = list(self.documented_reasons)
        assert documented, "documented_reasons is empty: list every reason (or status detail) the vendor documents"
        missing = [word for word in documented if word not in self.reason_table]
        assert not missing, f"the reason table has no entry for the documented value(s) {missing}"

    def check_status_table(self, table: Mapping[Any, Any], documented: list[str]) -> None:
        missing = [word for word in documented if word not in table]
        assert not missing, f"the status table has no entry for the documented value(s) {missing}"
        silent = [word for word, value in table.items() if _normalized(value) is None and word not in self.unknown_ok]
        assert not silent, (
            f"{silent} map to UNKNOWN (or nothing) silently; map them, or list each in unknown_ok with the reason"
        )
        for word, reason in self.unknown_ok.items():
            assert reason and reason.strip(), f"unknown_ok[{word!r}] gives no reason"

    # ------------------------------------------------------------------ webhooks

    def webhook_request(self, secret: str, at: datetime) -> tuple[dict[str, str], bytes]:
        """(headers, body) of a webhook the vendor would send, signed with ``secret`` at ``at``."""
        raise NotImplementedError

    def _webhook_results(self) -> tuple[type, ...]:
        """What ``parse_webhook`` may return: an Order or a TrackingUpdate, and for a
        warehouse a FulfillmentUpdate too."""
        return (Order, TrackingUpdate, FulfillmentUpdate) if self.kind == "warehouses" else (Order, TrackingUpdate)

    @pytest.fixture
    def fh_receiver(self, fh_offline: Callable[..., Any]) -> Any:
        fh_build = fh_offline
        if not isinstance(fh_build(), WebhookReceiver):
            pytest.skip("the adapter does not take webhooks (it is not a WebhookReceiver)")
        assert self.webhook_secret_setting in (self.registered().settings or {}), (
            f"the adapter takes webhooks but declares no {self.webhook_secret_setting!r} setting; "
            "set webhook_secret_setting"
        )
        adapter = fh_build(**{self.webhook_secret_setting: "whsec-conformance-0123"},
                           secrets=["whsec-conformance-0123"])
        if not isinstance(adapter, WebhookReceiver):
            pytest.skip("the adapter does not take webhooks (it is not a WebhookReceiver)")
        return adapter

    def _webhook(self, clock: SimClock, *, secret: str = "whsec-conformance-0123",
                 at: datetime | None = None) -> tuple[dict[str, str], bytes]:
        return self.webhook_request(secret, at or clock.now())

    def test_webhook_with_a_valid_signature_is_accepted(self, fh_receiver: Any, fh_clock: SimClock) -> None:
        headers, body = self._webhook(fh_clock)
        assert fh_receiver.verify_webhook(headers, body) is True
        parsed = fh_receiver.parse_webhook(headers, body)
        assert parsed is None or isinstance(parsed, self._webhook_results()), parsed

    def test_webhook_with_a_tampered_body_is_rejected(self, fh_receiver: Any, fh_clock: SimClock) -> None:
        headers, body = self._webhook(fh_clock)
        tampered = body.replace(b"}", b" }", 1) if b"}" in body else body + b" "
        assert fh_receiver.verify_webhook(headers, tampered) is False

    def test_webhook_signed_with_another_secret_is_rejected(self, fh_receiver: Any, fh_clock: SimClock) -> None:
        headers, body = self._webhook(fh_clock, secret="whsec-someone-else-9876")
        assert fh_receiver.verify_webhook(headers, body) is False

    def test_webhook_without_the_signature_header_is_rejected(self, fh_receiver: Any, fh_clock: SimClock) -> None:
        headers, body = self._webhook(fh_clock)
        assert self.signature_header, "signature_header is not set"
        stripped = {k: v for k, v in headers.items() if k.lower() != self.signature_header.lower()}
        assert len(stripped) < len(headers), f"the webhook request has no {self.signature_header} header"
        assert fh_receiver.verify_webhook(stripped, body) is False
        assert fh_receiver.verify_webhook({}, body) is False

    def test_webhook_stale_replay_is_rejected(self, fh_receiver: Any, fh_clock: SimClock) -> None:
        headers, body = self._webhook(fh_clock, at=fh_clock.now() - timedelta(days=1))
        assert fh_receiver.verify_webhook(headers, body) is False, "a webhook signed a day ago was accepted"

    def test_webhook_reply_answers_each_outcome(self, fh_receiver: Any) -> None:
        """A receiver that defines ``webhook_reply`` (its vendor expects its own answer)
        gives a valid (status, media type, body) for each outcome the server asks."""
        reply = getattr(fh_receiver, "webhook_reply", None)
        if reply is None:
            pytest.skip("the adapter defines no webhook_reply: the server answers with its own JSON")
        for outcome in ("accepted", "duplicate", "refused"):
            answer = reply(outcome)
            assert isinstance(answer, tuple), f"webhook_reply({outcome!r}) returned {type(answer).__name__}, not a tuple"
            assert len(answer) == 3, f"webhook_reply({outcome!r}) is not (status, media type, body): {answer!r}"
            status, media_type, body = answer
            assert isinstance(status, int), f"webhook_reply({outcome!r}): the status {status!r} is not an int"
            assert 100 <= status <= 599, f"webhook_reply({outcome!r}): {status} is not an HTTP status"
            assert isinstance(media_type, str), f"webhook_reply({outcome!r}): the media type is not text"
            assert "/" in media_type, f"webhook_reply({outcome!r}): {media_type!r} is not a media type"
            assert isinstance(body, bytes), f"webhook_reply({outcome!r}): the body is {type(body).__name__}, not bytes"
            if outcome != "refused":
                assert 200 <= status < 300, (
                    f"webhook_reply({outcome!r}) answers {status}: the vendor would retry a delivery that was stored")

    def test_without_a_webhook_secret_webhooks_are_refused(
        self, fh_receiver: Any, fh_offline: Callable[..., Any], fh_clock: SimClock
    ) -> None:
        unset = fh_offline(**{self.webhook_secret_setting: None})
        for secret in ("whsec-conformance-0123", ""):
            headers, body = self._webhook(fh_clock, secret=secret)
            try:
                accepted = unset.verify_webhook(headers, body)
            except ConfigError:
                continue
            except Exception as exc:  # noqa: BLE001
                raise AssertionError(
                    f"with no {self.webhook_secret_setting} set, verify_webhook raised {type(exc).__name__}: {exc}; "
                    "refuse (False) or raise a ConfigError naming the setting"
                ) from None
            assert accepted is False, (
                f"with no {self.webhook_secret_setting} set, a webhook signed with "
                f"{'an empty secret' if not secret else 'some secret'} was accepted: anyone can post one; refuse "
                "(False) or raise a ConfigError naming the setting"
            )

    def test_webhook_bodies_survive_mutation(self, fh_receiver: Any, fh_clock: SimClock) -> None:
        headers, body = self._webhook(fh_clock)
        golden = json.loads(body)

        verified: list[bool] = []

        def parse(mutated: Any) -> Any:
            raw = json.dumps(mutated).encode("utf-8")
            resigned = {**headers, **self.resign(headers, raw, "whsec-conformance-0123")}
            ok = fh_receiver.verify_webhook(resigned, raw)
            verified.append(bool(ok))
            if not ok:
                assert self.resigned_refusal.strip(), (
                    "a re-signed mutated body did not verify; if the adapter refuses such a body for a reason of "
                    "the vendor's protocol (a send time inside the signed body that the mutation made stale or "
                    "unreadable), set resigned_refusal to that reason"
                )
                raise PayloadError(f"refused: {self.resigned_refusal}")
            result = fh_receiver.parse_webhook(resigned, raw)
            assert result is None or isinstance(result, self._webhook_results()), result
            return result

        raw = json.dumps(golden).encode("utf-8")
        assert fh_receiver.verify_webhook({**headers, **self.resign(headers, raw, "whsec-conformance-0123")}, raw), (
            "the suite's own webhook, re-serialized and re-signed with resign(), did not verify"
        )
        assert_maps_or_refuses(parse, mutations(golden, seed=7, count=self.fuzz_count), check=_check_result)
        assert any(verified), "no mutated body verified: the parser was never reached"

    def resign(self, headers: Mapping[str, str], body: bytes, secret: str) -> Mapping[str, str]:
        """The headers that sign ``body`` with ``secret`` (default: ``webhook_request``'s signing of it)."""
        raise NotImplementedError("resign(headers, body, secret) must return the signature header(s) for body")

    def test_webhook_signatures_are_compared_in_constant_time(
        self, fh_receiver: Any, fh_clock: SimClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        headers, body = self._webhook(fh_clock)
        calls: list[tuple[Any, Any]] = []
        original = hmac.compare_digest

        def spy(a: Any, b: Any) -> bool:
            calls.append((a, b))
            return original(a, b)

        monkeypatch.setattr(hmac, "compare_digest", spy)
        for module in list(sys.modules.values()):  # `from hmac import compare_digest` copies too
            for attr, value in list(getattr(module, "__dict__", {}).items()):
                if value is original and module is not hmac:
                    monkeypatch.setattr(module, attr, spy)
        forged = dict(headers)
        key = next((k for k in headers if k.lower() == self.signature_header.lower()), None)
        assert key is not None, f"the suite's webhook_request() sends no {self.signature_header!r} header"
        forged[key] = headers[key][:-4] + ("AAAA" if not headers[key].endswith("AAAA") else "BBBB")
        assert fh_receiver.verify_webhook(forged, body) is False
        assert calls, "the signature was not compared with hmac.compare_digest (a == comparison leaks timing)"


# ============================================================================ channels


class ChannelSuite(_AdapterSuite):
    """Checks for a channel type (a shop or marketplace).

    The simulator must take the option ``orders_per_day`` and offer ``stop_arrivals()``
    (:class:`fulfilhub.sandbox.ShopSimulator`). Also set or override:

    - ``page_size_setting``: the setting that sizes a page (default ``"page_size"``); a
      channel that declares no such setting has a fixed page size, which the pagination
      checks learn from the first page (``orders_per_day`` must then fill two pages);
    - ``order_truth(sim, order)``: the simulator's own record of an order (currency,
      total, lines), for the money and lines check;
    - ``update_in_shop(sim, order)``, ``cancel_in_shop(sim, order)``: change an order in
      the shop (default: the simulator's ``update_order(id)`` and ``cancel_order(id)``);
    - ``overlap``: how far back a new pass re-reads (records re-read inside it are fine);
    - ``cursor_at(moment)``: a cursor that starts at ``moment`` (for the future-cursor check);
    - ``fulfillment_count(sim, order)``: how many fulfillments the simulator holds for an order;
    - ``status_table``: the outbound table (TrackingStatus -> vendor word), with
      ``documented_statuses`` the vendor's words and ``unknown_ok`` the statuses the
      vendor has no word for, each with the reason.
    """

    kind = "channels"
    stages = ("fetch_orders",)
    page_size_setting: ClassVar[str] = "page_size"
    overlap: ClassVar[timedelta] = timedelta(0)
    #: The simulator's ``orders_per_day`` unless ``simulator_options`` sets it.
    orders_per_day: ClassVar[int] = 24

    def cursor_at(self, moment: datetime) -> str:
        raise NotImplementedError("cursor_at(moment) must return a cursor that starts at moment")

    def fulfillment_count(self, sim: Any, order: Order) -> int:
        raise NotImplementedError("fulfillment_count(sim, order) must count the simulator's fulfillments")

    def order_truth(self, sim: Any, order: Order) -> Mapping[str, Any] | None:
        """What the simulator holds for ``order``: ``{"currency": "JPY", "total": "3400", "lines":
        [(sku, quantity, unit price), ...]}`` (amounts as str or Decimal). None: not known (the
        money and lines check is skipped, saying so)."""
        return None

    def update_in_shop(self, sim: Any, order: Order) -> None:
        """Change ``order`` in the shop (a note, an address): a new version of it."""
        sim.update_order(order.external_id)

    def cancel_in_shop(self, sim: Any, order: Order) -> None:
        """Cancel ``order`` in the shop."""
        sim.cancel_order(order.external_id)

    def exercise(self, adapter: Any) -> Any:
        return adapter.fetch_orders(None)

    def _pages(self) -> dict[str, Any]:
        """Settings for small pages: ``page_size_setting`` = 2 where the type declares it, else none."""
        schema = self.registered().settings or {}
        return {self.page_size_setting: 2} if self.page_size_setting in schema else {}

    def _orders(self, adapter: Any, payloads: Iterable[Any]) -> list[Order]:
        return [adapter.parse_order(payload) for payload in payloads]

    def _pulled(self, adapter: Any) -> tuple[list[Order], str | None]:
        payloads, cursor = self.pull(adapter, None)
        orders = self._orders(adapter, payloads)
        assert orders, (
            f"fetch_orders(None) and its next pages returned no order, though the simulator took a day of orders "
            f"(orders_per_day={self.simulator_options.get('orders_per_day', self.orders_per_day)})"
        )
        return orders, cursor

    @pytest.fixture
    def fh_orders(self, fh_sim: Any, fh_clock: SimClock) -> None:
        """A day of orders in the simulator, then no more arrivals."""
        fh_clock.advance(timedelta(days=1))
        fh_sim.stop_arrivals()

    def pull(self, adapter: Any, cursor: str | None, *, max_pages: int = 1000) -> tuple[list[Any], str | None]:
        """Every page from ``cursor`` to the end: (payloads, the last cursor). Fails on a pagination loop."""
        payloads: list[Any] = []
        seen = {cursor}
        for _ in range(max_pages):
            page = adapter.fetch_orders(cursor)
            assert isinstance(page, OrderPage), f"fetch_orders returned {type(page).__name__}, not an OrderPage"
            payloads += page.payloads
            if page.next_cursor is not None:
                cursor = page.next_cursor
            if not page.has_more:
                return payloads, cursor
            assert page.next_cursor not in seen, (
                f"pagination loop: a page with has_more returned the cursor {page.next_cursor!r} again"
            )
            seen.add(page.next_cursor)
        raise AssertionError(f"more than {max_pages} pages: pagination does not end")

    def _keys(self, adapter: Any, payloads: Iterable[Any]) -> dict[tuple[str, str], Order]:
        orders = [adapter.parse_order(payload) for payload in payloads]
        return {(order.external_id, order.version): order for order in orders}

    def fuzz_stages(self, adapter: Any, sim: Any, clock: SimClock) -> Sequence[tuple[str, Callable[[], Any]]]:
        clock.advance(timedelta(hours=6))
        return [("fetch_orders", lambda: adapter.fetch_orders(None))]

    # ------------------------------------------------------------------ incremental sync

    def test_a_second_pull_from_the_saved_cursor_returns_nothing_already_seen(
        self, fh_build: Callable[..., Any], fh_orders: None, fh_clock: SimClock
    ) -> None:
        started = fh_clock.now()
        first, cursor = self.pull(fh_build(), None)
        seen = self._keys(fh_build(), first)
        assert seen, "fetch_orders(None) and its next pages returned no order, though the simulator took a day of orders"
        fh_clock.advance(timedelta(minutes=1))
        again = self._keys(fh_build(), self.pull(fh_build(), cursor)[0])  # a new instance: as after a restart
        repeated = [order for key, order in again.items() if key in seen and order.updated_at < started - self.overlap]
        assert not repeated, (
            f"{len(repeated)} order(s) already pulled came again from the saved cursor "
            f"(e.g. {repeated[0].external_id} updated {repeated[0].updated_at.isoformat()}); "
            f"overlap is {self.overlap}"
        )

    def test_a_cursor_in_the_future_returns_nothing(
        self, fh_build: Callable[..., Any], fh_orders: None, fh_clock: SimClock
    ) -> None:
        payloads, _ = self.pull(fh_build(), self.cursor_at(fh_clock.now() + timedelta(days=30)))
        assert payloads == [], f"a cursor 30 days ahead returned {len(payloads)} order(s)"

    def test_a_pull_killed_mid_pagination_resumes_without_loss(
        self, fh_build: Callable[..., Any], fh_orders: None, fh_sandbox: SandboxServer
    ) -> None:
        small = self._pages()
        everything = set(self._keys(fh_build(), self.pull(fh_build(), None)[0]))  # at the default page size
        first = fh_build(**small)
        page = first.fetch_orders(None)
        assert page.has_more, (
            f"the first page held {len(page.payloads)} of {len(everything)} orders and said there are no more"
            + ("" if small else f" (no {self.page_size_setting!r} setting: the page size is the plugin's own; "
               "raise orders_per_day above two pages)")
        )
        saved, got = page.next_cursor, list(page.payloads)
        fh_sandbox.context.faults.add("503", path=self._fault_path(), times=1000)
        with pytest.raises(TransientError):
            first.fetch_orders(saved)  # the process dies here; the runner kept `saved`
        fh_sandbox.context.faults.clear()
        first.close()
        rest, _ = self.pull(fh_build(**small), saved)
        resumed = set(self._keys(fh_build(), got + rest))
        lost = everything - resumed
        assert not lost, f"{len(lost)} order(s) lost after resuming from the saved cursor: {sorted(lost)[:5]}"

    def test_pagination_advances_to_an_end(self, fh_build: Callable[..., Any], fh_orders: None) -> None:
        small = {self.page_size_setting: 3} if self._pages() else {}
        payloads, _ = self.pull(fh_build(**small), None)
        assert payloads, "fetch_orders(None) returned no order, though the simulator took a day of orders"

    def test_an_empty_pass_keeps_its_cursor(self, fh_build: Callable[..., Any], fh_orders: None,
                                            fh_clock: SimClock) -> None:
        _payloads, cursor = self.pull(fh_build(), None)
        fh_clock.advance(timedelta(minutes=5))
        page = fh_build().fetch_orders(cursor)
        adapter = fh_build()
        seen = self._keys(adapter, _payloads)
        new = [o.external_id for o in self._orders(adapter, page.payloads) if (o.external_id, o.version) not in seen]
        assert not new, f"a pass after no change in the shop returned order(s) never seen: {new[:5]}"
        assert page.next_cursor == cursor, (
            f"a pass that found nothing new moved the cursor from {cursor!r} to {page.next_cursor!r}: the runner "
            "saves it, and orders that arrive late behind it are lost (or, with None, every order is read again); "
            "return the cursor it was given"
        )

    def test_an_order_updated_in_the_shop_comes_again_as_a_new_version(
        self, fh_build: Callable[..., Any], fh_orders: None, fh_sim: Any, fh_clock: SimClock
    ) -> None:
        orders, cursor = self._pulled(fh_build())
        order = next((o for o in orders if o.cancelled_at is None), None)
        assert order is not None, "every order pulled is cancelled"
        fh_clock.advance(timedelta(minutes=10))
        self.update_in_shop(fh_sim, order)
        fh_clock.advance(timedelta(minutes=10))
        adapter = fh_build()
        again = [o for o in self._orders(adapter, self.pull(adapter, cursor)[0]) if o.external_id == order.external_id]
        assert again, (
            f"order {order.external_id} was changed in the shop after the first pull, and the next pull from the saved "
            "cursor did not return it: read by the time of the last change (updated_at), not of creation"
        )
        newest = max(again, key=lambda o: o.updated_at)
        assert newest.version != order.version, (
            f"order {order.external_id} came again after a change with the same version {order.version!r}: the "
            "runner takes it for one already stored and drops the change; the version must change with each change"
        )
        assert newest.updated_at > order.updated_at, (
            f"order {order.external_id} came again with updated_at {newest.updated_at.isoformat()}, not later than "
            f"{order.updated_at.isoformat()}"
        )

    def test_an_order_cancelled_in_the_shop_comes_through_as_a_cancellation(
        self, fh_build: Callable[..., Any], fh_orders: None, fh_sim: Any, fh_clock: SimClock
    ) -> None:
        orders, cursor = self._pulled(fh_build())
        order = next((o for o in orders if o.cancelled_at is None), None)
        assert order is not None, "every order pulled is cancelled"
        fh_clock.advance(timedelta(minutes=10))
        self.cancel_in_shop(fh_sim, order)
        fh_clock.advance(timedelta(minutes=10))
        adapter = fh_build()
        again = [o for o in self._orders(adapter, self.pull(adapter, cursor)[0]) if o.external_id == order.external_id]
        assert again, (
            f"order {order.external_id} was cancelled in the shop, and the next pull did not return it: the "
            "cancellation never reaches the warehouse (do not filter cancelled orders out)"
        )
        newest = max(again, key=lambda o: o.updated_at)
        assert newest.cancelled_at is not None, (
            f"order {order.external_id} was cancelled in the shop, but parse_order gives cancelled_at=None: the "
            "order is shipped anyway"
        )
        assert newest.version != order.version, f"the cancelled order kept its version {order.version!r}"

    def test_orders_carry_the_lines_quantities_money_and_currency_the_shop_holds(
        self, fh_build: Callable[..., Any], fh_orders: None, fh_sim: Any
    ) -> None:
        orders, _ = self._pulled(fh_build())
        checked = multi = 0
        currencies = set()
        for order in orders:
            truth = self.order_truth(fh_sim, order)
            if truth is None:
                pytest.skip("order_truth(sim, order) is not given: the shop's own record cannot be compared")
            checked += 1
            currency = truth["currency"]
            currencies.add(currency)
            lines = sorted((str(sku), int(qty), Decimal(str(price))) for sku, qty, price in truth["lines"])
            multi += len(lines) > 1
            got = sorted((line.sku, line.quantity, line.unit_price.amount) for line in order.lines)
            where = f"order {order.external_id} ({currency})"
            assert order.currency == currency, f"{where} was mapped in {order.currency}"
            assert len(got) == len(lines), f"{where} has {len(lines)} line(s) in the shop, {len(got)} mapped"
            assert [(sku, qty) for sku, qty, _ in got] == [(sku, qty) for sku, qty, _ in lines], (
                f"{where}: the shop holds {[(sku, qty) for sku, qty, _ in lines]} (sku, quantity), mapped "
                f"{[(sku, qty) for sku, qty, _ in got]}"
            )
            assert [price for *_, price in got] == [price for *_, price in lines], (
                f"{where}: unit prices {[str(p) for *_, p in lines]} in the shop, mapped {[str(p) for *_, p in got]}"
            )
            assert all(line.unit_price.currency == currency for line in order.lines), (
                f"{where}: a line price is not in {currency}"
            )
            total = Decimal(str(truth["total"]))
            assert order.total.currency == currency and order.total.amount == total, (
                f"{where}: the shop's total is {total} {currency}, mapped {order.total.amount} {order.total.currency}"
            )
            step = Decimal(1).scaleb(-minor_digits(currency))
            assert order.total.amount == order.total.amount.quantize(step), (
                f"{where}: the total {order.total.amount} is not exact to the {currency} minor unit"
            )
        assert multi, "no order pulled has more than one line; the simulator's orders cannot show a lost line"
        assert checked

    def test_parse_order_leaves_its_payload_unchanged(self, fh_build: Callable[..., Any], fh_orders: None) -> None:
        import copy

        adapter = fh_build()
        payloads = list(adapter.fetch_orders(None).payloads)
        assert payloads, "fetch_orders(None) returned no order, though the simulator took a day of orders"
        for payload in payloads:
            before = copy.deepcopy(payload)
            adapter.parse_order(payload)
            assert payload == before, (
                "parse_order changed the payload it was given (the runner stores that payload as the order's raw "
                f"record, and a second parse of it differs): {_difference(before, payload)}"
            )

    # ------------------------------------------------------------------ idempotent effects

    def test_pushing_a_fulfillment_twice_with_one_key_makes_one(
        self, fh_build: Callable[..., Any], fh_orders: None, fh_sim: Any
    ) -> None:
        adapter = fh_build()
        order, push = self._pushable(adapter)
        key = f"channel.push_fulfillment:{order.id}/1"
        first = adapter.push_fulfillment(order, push, key, attempt=1)
        again = fh_build().push_fulfillment(order, push, key, attempt=2)  # a retry, after a restart
        assert again == first, f"the same key gave fulfillment {first!r}, then {again!r}"
        assert self.fulfillment_count(fh_sim, order) == 1, "the simulator holds more than one fulfillment"

    def _pushable(self, adapter: Any) -> tuple[Order, ShipmentPush]:
        payloads, _ = self.pull(adapter, None)
        orders = [adapter.parse_order(p) for p in payloads]
        order = next((o for o in orders if o.cancelled_at is None and any(line.requires_shipping for line in o.lines)),
                     None)
        assert order is not None, (
            f"of the {len(orders)} order(s) fetch_orders returned, none is open with a line to ship"
            + ("" if orders else ", though the simulator took a day of orders")
        )
        push = ShipmentPush(
            shipment_id=f"{order.id}/1",
            lines=tuple(ShipmentLine(sku=line.sku, quantity=line.quantity, order_line_id=line.external_id)
                        for line in order.lines if line.requires_shipping),
            tracking_code="1ZCONFORMANCE0002", tracking_url="https://track.example/1ZCONFORMANCE0002",
            carrier_name="UPS", service="Ground",
        )
        return order, push

    def tracking_event_count(self, sim: Any, order: Order) -> int | None:
        """How many tracking events the simulator holds for the order's fulfillments (None: not known)."""
        return None

    def test_a_push_whose_answer_was_lost_is_not_repeated(
        self, fh_build: Callable[..., Any], fh_orders: None, fh_sim: Any, fh_sandbox: SandboxServer
    ) -> None:
        order, push = self._pushable(fh_build())
        key = f"channel.push_fulfillment:{order.id}/1"
        try:  # the POST lands, but its answer is lost on the way back
            fh_build(transport=_LoseFirstAnswer("POST")).push_fulfillment(order, push, key, attempt=1)
        except ExternalError:
            pass
        assert self.fulfillment_count(fh_sim, order) == 1, "the first push did not reach the simulator"
        fh_build().push_fulfillment(order, push, key, attempt=2)  # the outbox's retry
        assert self.fulfillment_count(fh_sim, order) == 1, "a retried push made a second fulfillment"

    def test_pushing_tracking_twice_with_one_key_makes_one_event(
        self, fh_build: Callable[..., Any], fh_orders: None, fh_sim: Any
    ) -> None:
        adapter = fh_build()
        order, push = self._pushable(adapter)
        ref = adapter.push_fulfillment(order, push, f"channel.push_fulfillment:{order.id}/1", attempt=1)
        push = attrs.evolve(push, fulfillment_ref=ref)
        key = f"channel.push_tracking:{order.id}/1:in_transit"
        adapter.push_tracking(order, push, TrackingStatus.IN_TRANSIT, key, attempt=1)
        fh_build().push_tracking(order, push, TrackingStatus.IN_TRANSIT, key, attempt=2)
        count = self.tracking_event_count(fh_sim, order)
        assert count in (None, 1), f"the simulator holds {count} events for one key"

    def check_status_table(self, table: Mapping[Any, Any], documented: list[str]) -> None:
        unknown = [value for value in table.values() if value is not None and value not in documented]
        assert not unknown, f"the table sends {unknown}, which the vendor does not document"
        silent = [s for s in TrackingStatus if table.get(s) is None and s not in self.unknown_ok]
        assert not silent, (
            f"no vendor word for {[str(s) for s in silent]}: map each, or list it in unknown_ok with the reason"
        )
        for status, reason in self.unknown_ok.items():
            assert reason and reason.strip(), f"unknown_ok[{status!r}] gives no reason"

    def test_order_payloads_survive_mutation(self, fh_build: Callable[..., Any], fh_orders: None) -> None:
        adapter = fh_build()
        payloads = adapter.fetch_orders(None).payloads[:3]
        assert payloads, "fetch_orders(None) returned no order to fuzz, though the simulator took a day of orders"
        for index, payload in enumerate(payloads):
            assert_maps_or_refuses(adapter.parse_order, mutations(dict(payload), seed=index,
                                   count=self.fuzz_count), check=check_model)


# ============================================================================ carriers


class CarrierSuite(_AdapterSuite):
    """Checks for a carrier type (a courier API).

    Override ``shipment_request()`` for a lane the simulator serves, and
    ``label_count(sim)`` (how many labels the simulator sold) so that idempotency is
    checked on the simulator's side too. ``track_days`` is how long the suite lets
    parcels travel when it checks that every scan maps to a normalized status.

    A carrier type registered ``tracks_only`` sells no labels: the quote, buy, void and
    money checks are skipped, saying so, and the parcels tracked are made by
    ``outside_label(sim, reference)`` (set ``stages = ("track",)``).
    """

    kind = "carriers"
    stages = ("quote", "buy", "track")
    track_days: ClassVar[int] = 10
    parcels: ClassVar[int] = 12

    def shipment_request(self, reference: str = "conformance-1") -> ShipmentRequest:
        return ShipmentRequest(
            reference=reference,
            ship_from=Address(name="Dock", company="Conformance", line1="388 Townsend St", city="San Francisco",
                              province="CA", postal_code="94107", country="US", phone="4155550100"),
            ship_to=Address(name="Ada Lovelace", line1="179 N Harbor Dr", city="Redondo Beach", province="CA",
                            postal_code="90277", country="US", email="ada@example.com"),
            parcel=Parcel(weight_g="1200", length_cm="20", width_cm="14", height_cm="10"),
        )

    def label_count(self, sim: Any) -> int | None:
        """How many labels the simulator sold (None: not known; only the labels are compared)."""
        return None

    def sent_scans(self, sim: Any, label: Label) -> Sequence[tuple[str, datetime]] | None:
        """The scans the simulator has sent so far for ``label``: ``(status word, time)`` each, the
        words those of ``status_table``. None: not known (only the adapter's own answers are compared)."""
        return None

    def rate_truth(self, sim: Any, rate: Rate) -> Money | None:
        """What the simulator quoted for ``rate`` (by its ``rate_id``), amount and currency. None: not
        known (the money check is skipped, saying so)."""
        return None

    def money_requests(self) -> Sequence[ShipmentRequest]:
        """Shipment requests whose rates the money check compares: best one per currency the simulator
        quotes in, a zero-decimal (JPY, TWD) and a three-decimal one (KWD) among them."""
        return [self.shipment_request("money-1")]

    def outside_label(self, sim: Any, reference: str) -> Label:
        """For a ``tracks_only`` type: the Label of a parcel shipped with a label bought
        elsewhere, which the simulator's courier carries from now on."""
        raise NotImplementedError("a tracks_only carrier's suite overrides outside_label(sim, reference)")

    def _tracks_only(self) -> bool:
        return bool(getattr(self.registered(), "tracks_only", False))

    def _sells_labels(self) -> None:
        if self._tracks_only():
            pytest.skip("the carrier type is tracks_only: it sells no labels (they are bought elsewhere), "
                        "so there is no quote, purchase or void to check")

    def _travelled(self, adapter: Any, clock: SimClock, days: int | None = None) -> list[Label]:
        """``parcels`` labels bought, then ``days`` (default ``track_days``) of scenario time."""
        labels: list[Label] = []
        for n in range(self.parcels):
            if self._tracks_only():
                labels.append(self.outside_label(self.fh_simulator, f"conformance-{n}"))
                continue
            request = self.shipment_request(f"conformance-{n}")
            rates = adapter.quote(request)
            assert rates, f"quote() gave no rate for {request.reference}; override shipment_request()"
            labels.append(adapter.buy(rates[n % len(rates)], f"carrier.buy_label:travel/{n}"))
        clock.advance(timedelta(days=self.track_days if days is None else days))
        return labels

    def _words(self, scans: Iterable[tuple[str, datetime]]) -> list[tuple[Any, datetime, str]]:
        table = self.status_table or {}
        return [(_normalized(table.get(word)), at, word) for word, at in scans]

    def exercise(self, adapter: Any) -> Any:
        if self._tracks_only():
            return adapter.track(self.outside_label(self.fh_simulator, "exercise"))
        return adapter.quote(self.shipment_request())

    def fuzz_stages(self, adapter: Any, sim: Any, clock: SimClock) -> Sequence[tuple[str, Callable[[], Any]]]:
        if self._tracks_only():
            outside = self.outside_label(sim, "fuzz-1")
            clock.advance(timedelta(days=2))
            return [("track", lambda: adapter.track(outside))]
        label = adapter.buy(adapter.quote(self.shipment_request("fuzz-1"))[0], "carrier.buy_label:fuzz/1")
        clock.advance(timedelta(days=2))
        rate = adapter.quote(self.shipment_request("fuzz-2"))[0]
        return [
            ("quote", lambda: adapter.quote(self.shipment_request())),
            ("buy", lambda: adapter.buy(rate, "carrier.buy_label:fuzz/2")),
            ("track", lambda: adapter.track(label)),
        ]

    def _unknown_allowed(self, source: str) -> bool:
        """A scan whose source words (``status`` or ``status/detail``) start with an ``unknown_ok`` word."""
        return source in self.unknown_ok or source.split("/")[0] in self.unknown_ok

    def test_quotes_rates_for_the_request(self, fh_build: Callable[..., Any]) -> None:
        self._sells_labels()
        rates = fh_build().quote(self.shipment_request())
        assert rates, "no rate for the suite's shipment request; override shipment_request()"
        assert all(rate.carrier == f"conformance-{self.type_name}" for rate in rates), (
            "a rate's carrier must be the instance name (context.name)"
        )

    def test_buying_the_same_rate_twice_with_one_key_makes_one_label(
        self, fh_build: Callable[..., Any], fh_sim: Any
    ) -> None:
        self._sells_labels()
        adapter = fh_build()
        rate = adapter.quote(self.shipment_request())[0]
        key = "carrier.buy_label:conformance/1"
        first = adapter.buy(rate, key)
        again = fh_build().buy(rate, key)  # a retry, after a restart
        assert again.tracking_code == first.tracking_code, (
            f"the same key bought label {first.tracking_code}, then {again.tracking_code}"
        )
        count = self.label_count(fh_sim)
        assert count in (None, 1), f"the simulator sold {count} labels for one key"

    def test_a_purchase_whose_answer_was_lost_is_not_repeated(
        self, fh_build: Callable[..., Any], fh_sim: Any, fh_sandbox: SandboxServer
    ) -> None:
        self._sells_labels()
        if self.label_count(fh_sim) is None:
            pytest.skip("label_count(sim) is not given: the simulator's side cannot be counted")
        rate = fh_build().quote(self.shipment_request())[0]
        key = "carrier.buy_label:conformance/lost"
        try:  # the purchase lands, but its answer is lost on the way back
            fh_build(transport=_LoseFirstAnswer("POST")).buy(rate, key)
        except ExternalError:
            pass
        assert self.label_count(fh_sim) == 1, "the first purchase did not reach the simulator"
        fh_build().buy(rate, key)  # the outbox's retry
        assert self.label_count(fh_sim) == 1, "a retried purchase bought a second label"

    def test_a_repeated_void_succeeds(self, fh_build: Callable[..., Any]) -> None:
        self._sells_labels()
        adapter = fh_build()
        label = adapter.buy(adapter.quote(self.shipment_request())[0], "carrier.buy_label:void/1")
        adapter.void(label)
        fh_build().void(label)  # the retry of a void whose answer was lost

    def test_every_scan_the_simulator_emits_maps_to_a_normalized_status(
        self, fh_build: Callable[..., Any], fh_clock: SimClock
    ) -> None:
        adapter = fh_build()
        labels = self._travelled(adapter, fh_clock)
        silent: list[str] = []
        for label in labels:
            update = adapter.track(label)
            assert isinstance(update, TrackingUpdate)
            for event in (*update.events, update):
                source = getattr(event, "source", "")
                if event.status is TrackingStatus.UNKNOWN and not self._unknown_allowed(source):
                    silent.append(source or f"{update.tracking_code} (the update's status)")
                if event.status in (TrackingStatus.EXCEPTION, TrackingStatus.FAILED_ATTEMPT):
                    assert event.reason is not None, f"an {event.status} with no reason ({label.tracking_code})"
        assert not silent, f"scans mapped to UNKNOWN silently: {sorted(set(silent))[:10]}"

    def test_tracking_ends_in_the_status_the_simulator_sent(
        self, fh_build: Callable[..., Any], fh_sim: Any, fh_clock: SimClock
    ) -> None:
        """Parcels tracked to their end: the update's status is the simulator's last word, every scan
        it sent is an event at its time, and every exception carries a reason."""
        adapter = fh_build()
        labels = self._travelled(adapter, fh_clock)
        for label in labels:
            update = adapter.track(label)
            where = f"parcel {label.tracking_code}"
            current = _current(update.events)
            assert current is None or update.status in current, (
                f"{where}: the update says {update.status}, but its latest event that says where the parcel is "
                f"says {' or '.join(map(str, current))}: take the status of the latest event by time (an "
                "informational scan, mapped to UNKNOWN, does not change it)"
            )
            for event in (*update.events, update):
                if event.status in (TrackingStatus.EXCEPTION, TrackingStatus.FAILED_ATTEMPT):
                    assert event.reason is not None, f"{where}: an {event.status} with no reason"
            sent = self.sent_scans(fh_sim, label)
            if sent is None:
                continue
            words = [(status, at, word) for status, at, word in self._words(sent) if status is not None]
            assert words, f"{where}: the simulator sent no scan that maps to a status"
            last = max(at for _, at, _ in words)
            truth = {status for status, at, _ in words if at == last}
            assert update.status in truth, (
                f"{where}: the simulator's last scan says {' or '.join(sorted(map(str, truth)))} "
                f"({', '.join(w for s, a, w in words if a == last)}), the adapter says {update.status}"
            )
            times = {event.at for event in update.events}
            missing = sorted({at for _, at, _ in self._words(sent)} - times)
            assert not missing, (
                f"{where}: the simulator sent {len(sent)} scan(s); none of the events is at "
                f"{', '.join(at.isoformat() for at in missing[:3])}: scans lost, or their times misread"
            )

    def test_the_status_is_the_latest_events_whatever_order_events_are_listed_in(
        self, fh_build: Callable[..., Any], fh_clock: SimClock
    ) -> None:
        recorder = _Recorder()
        adapter = fh_build(transport=recorder)
        labels = self._travelled(adapter, fh_clock)
        for label in labels:
            recorder.live()
            live = adapter.track(label)
            script = recorder.take()
            recorder.replay_script([attrs.evolve(ex, content=json.dumps(_reverse_lists(ex.json)).encode("utf-8"))
                                    if ex.json is not None else ex for ex in script])
            turned = adapter.track(label)
            recorder.live()
            assert turned.status == live.status, (
                f"parcel {label.tracking_code}: the same scans listed the other way round give the status "
                f"{turned.status} instead of {live.status}: the status must be that of the latest event by time, "
                "not of the first or last one listed"
            )
            key = lambda e: (e.at, str(e.status), e.source)  # noqa: E731
            assert sorted(set(map(key, turned.events))) == sorted(set(map(key, live.events))), (
                f"parcel {label.tracking_code}: the same scans listed the other way round give other events"
            )

    def test_polling_again_without_a_new_scan_adds_no_event(
        self, fh_build: Callable[..., Any], fh_clock: SimClock
    ) -> None:
        adapter = fh_build()
        labels = self._travelled(adapter, fh_clock, days=1)
        for label in labels:
            first = adapter.track(label)
            second = adapter.track(label)
            third = fh_build().track(label)  # after a restart
            key = lambda e: (e.at, str(e.status), e.source, e.description)  # noqa: E731
            for update in (first, second, third):
                keys = [key(e) for e in update.events]
                doubled = sorted({k for k in keys if keys.count(k) > 1})
                assert not doubled, f"parcel {label.tracking_code}: the same event twice in one update: {doubled[:2]}"
            assert [key(e) for e in second.events] == [key(e) for e in first.events], (
                f"parcel {label.tracking_code}: polled again with no new scan, it has {len(second.events)} event(s) "
                f"instead of {len(first.events)}"
            )
            assert [key(e) for e in third.events] == [key(e) for e in first.events], (
                f"parcel {label.tracking_code}: polled by a new instance with no new scan, it has "
                f"{len(third.events)} event(s) instead of {len(first.events)}"
            )

    def test_no_event_is_later_than_the_clock(self, fh_build: Callable[..., Any], fh_clock: SimClock) -> None:
        adapter = fh_build()
        labels = self._travelled(adapter, fh_clock, days=1)
        for step in range(2):
            now = fh_clock.now()
            for label in labels:
                for event in adapter.track(label).events:
                    assert event.at <= now, (
                        f"parcel {label.tracking_code}: an event ({event.status}, {event.source!r}) at "
                        f"{event.at.isoformat()}, later than the clock ({now.isoformat()}): a scan cannot come from "
                        "the future (an estimate is est_delivery, not an event; times come from the answer, and "
                        "'now' from context.clock)"
                    )
            fh_clock.advance(timedelta(days=self.track_days))

    def test_rates_and_labels_carry_the_amount_and_currency_the_simulator_holds(
        self, fh_build: Callable[..., Any], fh_sim: Any
    ) -> None:
        self._sells_labels()
        adapter = fh_build()
        compared = 0
        for n, request in enumerate(self.money_requests()):
            rates = adapter.quote(request)
            assert rates, f"quote() gave no rate for {request.reference} (to {request.ship_to.country})"
            for rate in rates:
                truth = self.rate_truth(fh_sim, rate)
                if truth is None:
                    pytest.skip("rate_truth(sim, rate) is not given: the simulator's quotes cannot be compared")
                self._same_money(f"rate {rate.rate_id} ({rate.service})", rate.amount, truth)
                compared += 1
            label = adapter.buy(rates[0], f"carrier.buy_label:money/{n}")
            truth = self.rate_truth(fh_sim, rates[0])
            assert truth is not None
            self._same_money(f"label {label.tracking_code}", label.cost, truth)
        assert compared

    @staticmethod
    def _same_money(what: str, got: Money, truth: Money) -> None:
        assert got.currency == truth.currency, (
            f"{what}: the simulator holds {truth.amount} {truth.currency}, the adapter says {got.amount} "
            f"{got.currency} (the currency is the answer's, never assumed)"
        )
        assert got.amount == Decimal(str(truth.amount)), (
            f"{what}: the simulator holds {truth.amount} {truth.currency}, the adapter says {got.amount} "
            f"(read amounts in the unit the API gives them, with the currency's {minor_digits(truth.currency)} "
            "decimal(s); never rounded to cents nor divided by 100 unless the API sends minor units)"
        )


# ============================================================================ warehouses


class WarehouseSuite(_AdapterSuite):
    """Checks for a warehouse type (own stock or a 3PL).

    Set ``skus`` (SKUs the simulator stocks, two at least) and override
    ``submission_count(sim)``; ``fulfillment_request()`` builds the request submitted.
    ``status_table`` maps the vendor's words to :class:`~fulfilhub.FulfillmentStatus`.
    For the checks against the simulator's own records, override ``stock_truth(sim)``,
    ``set_stock(sim, sku, quantity)`` and ``submitted_lines(sim, ref)``.
    """

    kind = "warehouses"
    stages = ("stock_levels", "submit", "status")
    skus: ClassVar[Sequence[str]] = ()
    progress_hours: ClassVar[int] = 48

    def fulfillment_request(self, key: str = "warehouse.submit:conformance/1") -> FulfillmentRequest:
        return FulfillmentRequest(
            key=key, shipment_id=key.rsplit(":", 1)[-1], order_id="shop:1001", order_number="#1001",
            lines=(ShipmentLine(sku=self.skus[0], quantity=1),),
            ship_to=Address(name="Ada Lovelace", line1="179 N Harbor Dr", city="Redondo Beach", province="CA",
                            postal_code="90277", country="US"),
        )

    def submission_count(self, sim: Any) -> int | None:
        return None

    def stock_truth(self, sim: Any) -> Mapping[str, int] | None:
        """What the simulator holds available of each SKU it carries. None: not known."""
        return None

    def set_stock(self, sim: Any, sku: str, quantity: int) -> bool:
        """Change the simulator's stock of ``sku`` (a delivery, a count); False: it cannot."""
        return False

    def submitted_lines(self, sim: Any, ref: str) -> Sequence[tuple[str, int]] | None:
        """The (sku, quantity) lines the simulator holds for the request ``ref``. None: not known."""
        return None

    def exercise(self, adapter: Any) -> Any:
        return adapter.stock_levels(list(self.skus))

    def fuzz_stages(self, adapter: Any, sim: Any, clock: SimClock) -> Sequence[tuple[str, Callable[[], Any]]]:
        ref = adapter.submit(self.fulfillment_request("warehouse.submit:fuzz/1"))
        return [
            ("stock_levels", lambda: adapter.stock_levels(list(self.skus))),
            ("submit", lambda: adapter.submit(self.fulfillment_request("warehouse.submit:fuzz/2"))),
            ("status", lambda: adapter.status(ref)),
        ]

    def test_reports_stock_of_the_skus_asked_for(self, fh_build: Callable[..., Any]) -> None:
        assert self.skus, "set skus: SKUs the simulator stocks"
        levels = fh_build().stock_levels(list(self.skus))
        assert {level.sku for level in levels} <= set(self.skus)
        assert all(level.warehouse == f"conformance-{self.type_name}" for level in levels), (
            "a stock level's warehouse must be the instance name (context.name)"
        )

    def test_submitting_the_same_request_twice_makes_one(self, fh_build: Callable[..., Any], fh_sim: Any) -> None:
        request = self.fulfillment_request()
        first = fh_build().submit(request)
        again = fh_build().submit(request)  # a retry, after a restart
        assert again == first, f"the same key was submitted as {first!r}, then {again!r}"
        assert self.submission_count(fh_sim) in (None, 1), "the simulator holds more than one submission"

    def test_a_submission_whose_answer_was_lost_is_not_repeated(
        self, fh_build: Callable[..., Any], fh_sim: Any, fh_sandbox: SandboxServer
    ) -> None:
        if self.submission_count(fh_sim) is None:
            pytest.skip("submission_count(sim) is not given: the simulator's side cannot be counted")
        request = self.fulfillment_request("warehouse.submit:conformance/lost")
        try:  # the submission lands, but its answer is lost on the way back
            fh_build(transport=_LoseFirstAnswer("POST")).submit(request)
        except ExternalError:
            pass
        assert self.submission_count(fh_sim) == 1, "the first submission did not reach the simulator"
        fh_build().submit(request)
        assert self.submission_count(fh_sim) == 1, "a retried submission made a second one"

    def test_cancelling_twice_cancels_once(self, fh_build: Callable[..., Any]) -> None:
        adapter = fh_build()
        ref = adapter.submit(self.fulfillment_request("warehouse.submit:cancel/1"))
        adapter.cancel(ref)
        fh_build().cancel(ref)
        assert adapter.status(ref).status is FulfillmentStatus.CANCELLED

    def _progress(self, adapter: Any, clock: SimClock, key: str) -> list[FulfillmentStatus]:
        ref = adapter.submit(self.fulfillment_request(key))
        seen = []
        for _ in range(self.progress_hours):
            update = adapter.status(ref)
            assert update.ref == ref and isinstance(update.status, FulfillmentStatus)
            seen.append(update.status)
            clock.advance(timedelta(hours=1))
        return seen

    def test_progress_maps_to_a_fulfillment_status(self, fh_build: Callable[..., Any], fh_clock: SimClock) -> None:
        seen = self._progress(fh_build(), fh_clock, "warehouse.submit:progress/1")
        assert seen[-1] in (FulfillmentStatus.PACKED, FulfillmentStatus.SHIPPED), (
            f"after {self.progress_hours} h the request is still {seen[-1]}; raise progress_hours"
        )

    def test_progress_passes_through_packed(self, fh_build: Callable[..., Any], fh_clock: SimClock) -> None:
        seen = self._progress(fh_build(), fh_clock, "warehouse.submit:progress/2")
        steps = [status for i, status in enumerate(seen) if i == 0 or seen[i - 1] != status]
        assert FulfillmentStatus.PACKED in steps, (
            f"polled every hour, the request went {' -> '.join(map(str, steps))}, never packed: the warehouse "
            "reports a packed parcel (the promise's ship-by counts on it); map its 'packed' word to PACKED"
        )
        if FulfillmentStatus.SHIPPED in steps:
            assert steps.index(FulfillmentStatus.PACKED) < steps.index(FulfillmentStatus.SHIPPED), (
                f"the request went {' -> '.join(map(str, steps))}: shipped before packed"
            )

    def test_reports_every_sku_asked_for_with_the_stock_the_warehouse_holds(
        self, fh_build: Callable[..., Any], fh_sim: Any
    ) -> None:
        assert len(self.skus) > 1, "set skus: two SKUs the simulator stocks, at least"
        levels = fh_build().stock_levels(list(self.skus))
        reported = {level.sku: level.on_hand for level in levels}
        missing = [sku for sku in self.skus if sku not in reported]
        assert not missing, f"asked for {list(self.skus)}, the adapter reported no level for {missing}"
        assert len(levels) == len(reported), f"a SKU is reported twice: {[level.sku for level in levels]}"
        truth = self.stock_truth(fh_sim)
        if truth is None:
            return
        wrong = {sku: (reported[sku], truth[sku]) for sku in self.skus if reported[sku] != truth.get(sku)}
        assert not wrong, (
            "on hand as reported vs. as the warehouse holds it: "
            + ", ".join(f"{sku} {got} (holds {held})" for sku, (got, held) in wrong.items())
        )

    def test_a_stock_change_in_the_warehouse_shows_through(
        self, fh_build: Callable[..., Any], fh_sim: Any, fh_clock: SimClock
    ) -> None:
        adapter = fh_build()
        sku = self.skus[0]
        before = {level.sku: level.on_hand for level in adapter.stock_levels([sku])}
        held = (self.stock_truth(fh_sim) or {}).get(sku, before.get(sku, 0))
        if not self.set_stock(fh_sim, sku, held + 7):
            pytest.skip("set_stock(sim, sku, quantity) is not given: the simulator's stock cannot be changed")
        fh_clock.advance(timedelta(minutes=15))
        after = {level.sku: level.on_hand for level in adapter.stock_levels([sku])}
        assert after.get(sku, 0) - before.get(sku, 0) == 7, (
            f"the warehouse received 7 more of {sku}, and the same adapter, asked 15 minutes later, says "
            f"{after.get(sku)} where it said {before.get(sku)}: a cached answer hides the change"
        )

    def test_a_multi_line_request_is_submitted_whole(self, fh_build: Callable[..., Any], fh_sim: Any) -> None:
        assert len(self.skus) > 1, "set skus: two SKUs the simulator stocks, at least"
        request = attrs.evolve(self.fulfillment_request("warehouse.submit:lines/1"),
                               lines=(ShipmentLine(sku=self.skus[0], quantity=2), ShipmentLine(sku=self.skus[1],
                                                                                                quantity=3)))
        ref = fh_build().submit(request)
        held = self.submitted_lines(fh_sim, ref)
        if held is None:
            pytest.skip("submitted_lines(sim, ref) is not given: the simulator's request cannot be read")
        asked = sorted((line.sku, line.quantity) for line in request.lines)
        assert sorted((str(sku), int(qty)) for sku, qty in held) == asked, (
            f"submitted {asked} (sku, quantity), the warehouse holds {sorted(held)}: the parcel ships short"
        )

    # -- a warehouse that ships with its own labels (a 3PL): WarehouseType(ships_own_labels=True)

    def _ships_itself(self) -> bool:
        return bool(getattr(self.registered(), "ships_own_labels", False))

    def _until_shipped(self, adapter: Any, clock: SimClock, key: str) -> tuple[str, list[FulfillmentUpdate]]:
        ref = adapter.submit(self.fulfillment_request(key))
        seen = []
        for _ in range(self.progress_hours):
            seen.append(adapter.status(ref))
            if seen[-1].status is FulfillmentStatus.SHIPPED:
                break
            clock.advance(timedelta(hours=1))
        return ref, seen

    def test_a_warehouse_that_ships_reports_the_carrier_and_tracking_code(
        self, fh_build: Callable[..., Any], fh_clock: SimClock
    ) -> None:
        if not self._ships_itself():
            pytest.skip("the type does not ship with its own labels (WarehouseType.ships_own_labels is False)")
        ref, seen = self._until_shipped(fh_build(), fh_clock, "warehouse.submit:ships/1")
        shipped = seen[-1]
        assert shipped.status is FulfillmentStatus.SHIPPED, (
            f"the type ships with its own labels, but after {self.progress_hours} h polled hourly the request is "
            f"still {shipped.status}; fulfilhub waits for 'shipped' with the carrier and tracking code (raise "
            "progress_hours if the simulator is slower)"
        )
        assert shipped.ref == ref
        assert shipped.carrier.strip(), "a shipped answer names the carrier the warehouse shipped with"
        assert shipped.tracking_code.strip(), "a shipped answer carries the tracking code of the warehouse's label"
        assert shipped.tracking_code not in shipped.more_tracking_codes, "the first package's code is listed twice"

    def test_a_warehouse_that_ships_follows_its_parcels_or_says_who_does(
        self, fh_build: Callable[..., Any], fh_clock: SimClock
    ) -> None:
        if not self._ships_itself():
            pytest.skip("the type does not ship with its own labels (WarehouseType.ships_own_labels is False)")
        adapter = fh_build()
        if not isinstance(adapter, ShipmentTracker):
            pytest.skip("the warehouse does not follow its parcels (no track): a carrier named after the courier must")
        ref, seen = self._until_shipped(adapter, fh_clock, "warehouse.submit:ships/2")
        shipped = seen[-1]
        assert shipped.status is FulfillmentStatus.SHIPPED, f"never shipped (last {shipped.status})"
        label = Label(carrier=f"conformance-{self.type_name}", carrier_name=shipped.carrier, service=shipped.service,
                      tracking_code=shipped.tracking_code, cost=Money(amount=Decimal(0), currency="USD"),
                      shipment_ref=ref, tracking_url=shipped.tracking_url)
        statuses = []
        for _ in range(self.progress_hours * 4):
            update = adapter.track(label)
            assert isinstance(update, TrackingUpdate), update
            assert update.tracking_code == shipped.tracking_code, (
                f"track() answered for {update.tracking_code!r}, the label is {shipped.tracking_code!r}")
            statuses.append(update.status)
            if update.status is TrackingStatus.DELIVERED:
                break
            fh_clock.advance(timedelta(hours=1))
        assert TrackingStatus.UNKNOWN not in statuses, f"track() said unknown: {statuses}"
        assert statuses[-1] is TrackingStatus.DELIVERED, (
            f"the parcel the warehouse shipped was followed {self.progress_hours * 4} h and never delivered "
            f"(last {statuses[-1]})")

    def test_a_warehouse_that_keeps_its_stock_counts_a_submission_as_committed(
        self, fh_build: Callable[..., Any]
    ) -> None:
        if not getattr(self.registered(), "keeps_stock", False):
            pytest.skip("the type does not keep its own stock (WarehouseType.keeps_stock is False)")
        adapter = fh_build()
        sku = self.skus[0]
        before = {level.sku: level for level in adapter.stock_levels([sku])}[sku]
        request = attrs.evolve(self.fulfillment_request("warehouse.submit:committed/1"),
                               lines=(ShipmentLine(sku=sku, quantity=2),))
        adapter.submit(request)
        after = {level.sku: level for level in fh_build().stock_levels([sku])}[sku]
        assert before.available - after.available == 2, (
            f"submitted 2 x {sku}: what the warehouse can still send went {before.available} -> {after.available}; "
            "sync_stock keeps fulfilhub's reservations the warehouse has seen only if its levels count them as "
            "committed (report on_hand and, as reserved, what of it cannot be sent)"
        )

    def test_an_unknown_status_word_is_a_payload_error(
        self, fh_build: Callable[..., Any], fh_sim: Any, fh_clock: SimClock
    ) -> None:
        assert self.status_table, "status_table is not set: the vendor's status words are not known"
        recorder = _Recorder()
        adapter = fh_build(transport=recorder)
        ref = adapter.submit(self.fulfillment_request("warehouse.submit:unknown/1"))
        recorder.live()
        adapter.status(ref)
        script = recorder.take()
        changed = [attrs.evolve(ex, content=json.dumps(_replace_words(ex.json, self.status_table,
                                                                         "held_for_inspection")).encode("utf-8"))
                   if ex.json is not None else ex for ex in script]
        assert changed != script, "the status answer holds none of status_table's words"
        recorder.replay_script(changed)
        try:
            update = adapter.status(ref)
        except PayloadError:
            return
        finally:
            recorder.live()
        raise AssertionError(
            f"a status word the table does not know ('held_for_inspection') was taken as {update.status}: a guess; "
            "refuse it with a PayloadError naming the word, so the request waits until the table learns it"
        )


# ============================================================================ notifiers


class NotifierSuite(Suite):
    """Checks for a notifier type: what :class:`~fulfilhub.Notifier` says.

    Override ``notifier_settings(tmp_path)`` (an instance that works; default
    ``settings``) and ``deliveries(notifier)`` to list what was delivered (an outbox,
    a simulator's inbox); ``message(delivery)`` reads one back as a mapping with ``to``,
    ``subject`` and ``locale`` at least (default: a JSON file); ``break_medium(notifier)``
    makes the medium fail (a full disk, a mail server that refuses). ``send(notice,
    attempt=...)`` delivers once per ``notice.key``.
    """

    kind = "notifiers"
    settings: ClassVar[Mapping[str, Any]] = {}
    recipient: ClassVar[str] = "ada@example.com"

    def notifier_settings(self, tmp_path: Any) -> Mapping[str, Any]:
        return self.settings

    def deliveries(self, notifier: Any) -> Sequence[Any]:
        raise NotImplementedError("deliveries(notifier) must list what the notifier delivered")

    def message(self, delivery: Any) -> Mapping[str, Any]:
        """One delivery read back: ``{"to": ..., "subject": ..., "locale": ...}`` (default: a JSON file)."""
        from pathlib import Path

        if isinstance(delivery, (str, Path)):
            return json.loads(Path(delivery).read_text(encoding="utf-8"))
        if isinstance(delivery, Mapping):
            return delivery
        raise NotImplementedError("message(delivery) must read one delivery back as a mapping")

    def break_medium(self, notifier: Any) -> bool:
        """Make the next delivery fail in the medium itself; False: it cannot (the check is skipped)."""
        return False

    @pytest.fixture
    def fh_build(self, tmp_path: Any) -> Iterator[Callable[..., Any]]:
        built: list[Any] = []
        store = _LazyStore(f"sqlite:///{tmp_path / 'conformance.db'}")

        def build(**overrides: Any) -> Any:
            registered = self.registered()
            assert isinstance(registered, NotifierType)
            name = f"conformance-{self.type_name}"
            context = instance_context(name, {**self.notifier_settings(tmp_path), **overrides},
                                       schema=registered.settings, kind="notifiers")
            notifier = registered.factory(attrs.evolve(context, state=store.state("notifiers", name, context.clock)))
            built.append(notifier)
            return notifier

        yield build
        for notifier in built:
            close = getattr(notifier, "close", None)
            if close is not None:
                close()
        store.close()

    def test_a_bad_setting_is_an_error_naming_the_key(self, fh_build: Callable[..., Any]) -> None:
        with pytest.raises(ConfigError) as info:
            fh_build(no_such_setting=1)
        assert info.value.key and info.value.key.endswith("no_such_setting")
        for key, declared in (self.registered().settings or {}).items():
            with pytest.raises(ConfigError) as wrong:
                fh_build(**{key: _WRONG[declared.type]})
            assert wrong.value.key and wrong.value.key.endswith(key), wrong.value

    def notice(self, key: str, number: str) -> Notice:
        """A rendered notice as the runner hands one over."""
        return Notice(key=key, order_id=f"shop:{number}", order_number=f"#{number}", event=NoticeEvent.SHIPPED,
                      locale="en", to=self.recipient, subject=f"Order #{number} is on its way",
                      text=f"Track it here: https://t.example/{number}",
                      html=f'<p>Track it here: <a href="https://t.example/{number}">https://t.example/{number}</a></p>',
                      created_at=datetime(2026, 5, 12, tzinfo=timezone.utc))

    def test_sending_twice_with_one_key_delivers_once(self, fh_build: Callable[..., Any]) -> None:
        notifier = fh_build()
        notifier.send(self.notice("notice:shipped:shop:1001:1", "1001"), attempt=1)
        # the same effect again after a crash: another process, a later attempt
        fh_build().send(self.notice("notice:shipped:shop:1001:1", "1001"), attempt=2)
        notifier.send(self.notice("notice:shipped:shop:1002:1", "1002"), attempt=1)
        assert len(self.deliveries(notifier)) == 2, "two keys must make exactly two deliveries"


    def test_the_delivered_message_is_the_notices(self, fh_build: Callable[..., Any]) -> None:
        notifier = fh_build()
        notice = attrs.evolve(self.notice("notice:delayed:shop:2001:1", "2001"), event=NoticeEvent.DELAYED,
                              locale="zh_Hant_TW", to="chen.meiling@example.tw",
                              subject="訂單 #2001 將延遲 2 天送達：颱風影響", text="很抱歉，您的訂單延遲了。")
        notifier.send(notice, attempt=1)
        delivered = self.deliveries(notifier)
        assert len(delivered) == 1, f"one send made {len(delivered)} deliveries"
        message = self.message(delivered[0])
        for field in ("to", "subject", "locale"):
            assert message.get(field) == getattr(notice, field), (
                f"the delivered message's {field} is {message.get(field)!r}, the notice's is "
                f"{getattr(notice, field)!r}: deliver what the notice says"
            )

    def test_a_failure_of_the_medium_is_raised(self, fh_build: Callable[..., Any]) -> None:
        notifier = fh_build()
        if not self.break_medium(notifier):
            pytest.skip("break_medium(notifier) is not given: a failing medium cannot be made")
        try:
            notifier.send(self.notice("notice:shipped:shop:3001:1", "3001"), attempt=1)
        except Exception:  # noqa: BLE001 - any error tells the outbox to try again
            return
        raise AssertionError(
            "the medium failed, and send() returned as if the message was delivered: the outbox marks it sent and "
            "the customer never hears; let the error through (a TransientError for a failure that may pass)"
        )

    def test_two_notices_for_one_order_are_two_messages(self, fh_build: Callable[..., Any]) -> None:
        notifier = fh_build()
        shipped = self.notice("notice:shipped:shop:4001:1", "4001")
        delayed = attrs.evolve(self.notice("notice:delayed:shop:4001:1", "4001"), event=NoticeEvent.DELAYED,
                               subject="Order #4001 is 2 days late")
        notifier.send(shipped, attempt=1)
        notifier.send(delayed, attempt=1)
        delivered = self.deliveries(notifier)
        assert len(delivered) == 2, (
            f"two notices for order #4001 (shipped, then delayed; two keys) made {len(delivered)} message(s): "
            "deliver once per notice key, not once per order"
        )
        subjects = sorted(str(self.message(d).get("subject")) for d in delivered)
        assert subjects == sorted([shipped.subject, delayed.subject]), f"the messages say {subjects}"


# ============================================================================ compensation policies


class PolicySuite(Suite):
    """Checks for a compensation policy: what :class:`~fulfilhub.CompensationPolicy` says.

    ``cases`` lists ``(keyword arguments, expected proposal)`` pairs; the suite checks
    each, and that the same arguments always give the same proposal.
    """

    kind = "policies"
    cases: ClassVar[Sequence[tuple[Mapping[str, Any], Any]]] = ()

    def test_declares_a_settings_schema(self) -> None:  # a policy has no settings
        registered = self.registered()
        assert isinstance(registered, CompensationPolicy)
        assert registered.name == self.type_name and callable(registered.propose)
        assert registered.description, "describe the policy (fulfilhub plugins shows it)"

    def test_proposals_are_compensation_proposals_in_the_orders_currency(self) -> None:
        propose = self.registered().propose
        for kwargs, _ in self.cases:
            got = propose(**kwargs)
            assert got is None or isinstance(got, CompensationProposal), (
                f"propose({kwargs}) returned {got!r}; expected a CompensationProposal or None")
            order = kwargs.get("order")
            if got is not None and order is not None:
                assert got.value.currency == order.currency, f"{got.value} for an order in {order.currency}"

    def test_proposes_what_each_case_expects_every_time(self) -> None:
        assert self.cases, "cases is empty: give (arguments, expected proposal) pairs"
        propose = self.registered().propose
        for kwargs, expected in self.cases:
            assert propose(**kwargs) == expected, f"propose({kwargs}) != {expected!r}"
            assert propose(**kwargs) == propose(**kwargs), f"propose({kwargs}) changes from call to call"

    #: Currencies and order totals the properties run over (zero-, two- and three-decimal ones).
    property_currencies: ClassVar[Sequence[str]] = ("USD", "EUR", "JPY", "TWD", "KWD")
    property_totals: ClassVar[Sequence[str]] = ("1", "9.99", "80", "1234.56", "99999")

    def _property_order(self, currency: str, total: str) -> Order:
        step = Decimal(1).scaleb(-minor_digits(currency))
        amount = Decimal(total).quantize(step) if Decimal(total) >= step else step
        at = datetime(2026, 5, 12, tzinfo=timezone.utc)
        return Order(channel="shop", external_id="p1", version="1", number="#P1", placed_at=at, updated_at=at,
                     currency=currency, total=Money(amount=amount, currency=currency),
                     lines=[OrderLine(sku="SKU", quantity=1, unit_price=Money(amount=amount, currency=currency))])

    def _property_assessment(self, order: Order, days: int) -> DelayAssessment:
        return DelayAssessment(order_id=order.id, assessed_at=order.placed_at + timedelta(days=days + 3),
                               state="late" if days else "on_track", days_late=days)

    def _sweep(self) -> Iterator[tuple[Order, DelayAssessment]]:
        for currency in self.property_currencies:
            for total in self.property_totals:
                order = self._property_order(currency, total)
                for days in range(31):
                    yield order, self._property_assessment(order, days)

    def _check_proposal(self, got: Any, order: Order, where: str) -> None:
        assert got is None or isinstance(got, CompensationProposal), f"{where} returned {got!r}"
        if got is None:
            return
        value = got.value
        assert value.currency == order.currency, f"{where}: {value.amount} {value.currency} for an order in " \
                                                 f"{order.currency}"
        assert value.amount >= 0, f"{where}: a negative value, {value.amount} {value.currency}"
        step = Decimal(1).scaleb(-minor_digits(order.currency))
        assert value.amount == value.amount.quantize(step), (
            f"{where}: {value.amount} {value.currency} is not exact to the {order.currency} minor unit "
            f"({minor_digits(order.currency)} decimal(s)): round to it"
        )
        if got.kind in ("discount", "shipping_refund", "refund"):
            assert value.amount <= order.total.amount, (
                f"{where}: {value.amount} {value.currency} exceeds the order's total {order.total.amount}: cap it"
            )
        if got.percent is not None:
            assert 0 <= got.percent <= 100, f"{where}: {got.percent}% off"

    def test_proposals_hold_over_currencies_totals_and_every_delay_up_to_30_days(self) -> None:
        propose = self.registered().propose
        for order, assessment in self._sweep():
            where = f"propose() for {order.total.amount} {order.currency}, {assessment.days_late} day(s) late"
            got = propose(order=order, assessment=assessment, given=(), settings={})
            self._check_proposal(got, order, where)

    def test_what_was_given_never_raises_nor_negates_a_proposal(self) -> None:
        propose = self.registered().propose
        for order, assessment in self._sweep():
            alone = propose(order=order, assessment=assessment, given=(), settings={})
            if alone is None:
                continue
            for share in ("0.5", "1"):
                given = (attrs.evolve(alone, value=Money(
                    amount=(alone.value.amount * Decimal(share)).quantize(
                        Decimal(1).scaleb(-minor_digits(order.currency))), currency=order.currency)),)
                where = (f"propose() for {order.total.amount} {order.currency}, {assessment.days_late} day(s) late, "
                         f"with {given[0].value.amount} already given")
                got = propose(order=order, assessment=assessment, given=given, settings={})
                assert got is None or isinstance(got, CompensationProposal), f"{where} returned {got!r}"
                if got is not None:
                    assert got.value.amount >= 0, f"{where}: a negative value, {got.value.amount}"
                    assert got.value.amount <= alone.value.amount, (
                        f"{where}: {got.value.amount}, more than the {alone.value.amount} proposed with nothing "
                        "given: what was given never raises what the delay deserves (the engine pays the "
                        "difference)"
                    )


# ============================================================================ internals


def _current(events: Sequence[Any]) -> set[Any] | None:
    """The statuses of the latest events that say where the parcel is (not UNKNOWN); None if none does."""
    said = [event for event in events if event.status is not TrackingStatus.UNKNOWN]
    if not said:
        return None
    last = max(event.at for event in said)
    return {event.status for event in said if event.at == last}


def _normalized(value: Any) -> Any:
    """The normalized status a table entry gives (None for UNKNOWN or nothing)."""
    if isinstance(value, tuple):
        value = value[0] if value else None
    elif attrs.has(type(value)) and hasattr(value, "status"):
        value = value.status
    if value is None or str(value) == "unknown":
        return None
    return value


class _LoseFirstAnswer(httpx.BaseTransport):
    """Sends every request; the answer to the first ``method`` request is dropped as a read timeout."""

    def __init__(self, method: str) -> None:
        self._inner = httpx.HTTPTransport()
        self._method = method
        self.lost = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if request.method == self._method and not self.lost:
            response.read()
            response.close()
            self.lost += 1
            raise httpx.ReadTimeout("the answer was lost (conformance suite)", request=request)
        return response

    def close(self) -> None:
        self._inner.close()


def _check_result(result: Any) -> None:
    """What an adapter call returned must be storable; an OrderPage's payloads are raw (unchecked)."""
    if isinstance(result, OrderPage):
        assert result.next_cursor is None or isinstance(result.next_cursor, str), result.next_cursor
        assert isinstance(result.has_more, bool), result.has_more
        return
    check_model(result)


class _LazyStore:
    """A store opened on first use; ports to it that open it when first called."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._store: Any = None

    def open(self) -> Any:
        if self._store is None:
            from ..store import Store

            self._store = Store.open(self.url, migrate=True)
        return self._store

    def state(self, kind: str, name: str, clock: Any) -> Any:
        from ..store import ports

        return _LazyPort(lambda: ports.StatePort(self.open(), ports.namespace(kind, name), clock))

    def stock(self, name: str) -> Any:
        from ..store import ports

        return _LazyPort(lambda: ports.StockPort(self.open(), name))

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


class _LazyPort:
    """Stands for a store port; the store is opened when the plugin first calls it."""

    def __init__(self, open_port: Callable[[], Any]) -> None:
        self._open = open_port
        self._port: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._port is None:
            self._port = self._open()
        return getattr(self._port, name)


class _RefuseFirst(httpx.BaseTransport):
    """Answers the first request with a 4xx validation error; sends the rest, counting resends of it."""

    def __init__(self, status: int) -> None:
        self._inner = httpx.HTTPTransport()
        self._status = status
        self.refused: str = ""
        self.resent = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        where = f"{request.method} {request.url.path}"
        if not self.refused:
            self.refused = where
            return httpx.Response(self._status, json={"errors": {"base": ["is invalid (conformance suite)"]}})
        if where == self.refused:
            self.resent += 1
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 160 else text[:157] + "..."


def _comparable(value: Any) -> Any:
    """A model as plain values, without its raw payload and opaque version (times compare as instants)."""
    if attrs.has(type(value)):
        return (type(value).__name__, {f.name: _comparable(getattr(value, f.name)) for f in attrs.fields(type(value))
                                       if f.name not in ("raw", "version")})
    if isinstance(value, (list, tuple)):
        return [_comparable(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _comparable(item) for key, item in value.items()}
    return value


def _difference(a: Any, b: Any, where: str = "") -> str:
    """Where two comparable values first differ, for a failure message."""
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b) == 2 and isinstance(a[1], dict):
        return _difference(a[1], b[1], where or a[0])
    if isinstance(a, dict) and isinstance(b, dict):
        for key in a:
            if key in b and a[key] != b[key]:
                return _difference(a[key], b[key], f"{where}.{key}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _difference(x, y, f"{where}[{i}]")
    return f"{where or 'the result'}: {_short(a)} became {_short(b)}"


def _shift_offsets(value: Any, offset: timezone) -> Any:
    """The JSON value with every aware ISO time rewritten at ``offset`` (the same instant)."""
    if isinstance(value, dict):
        return {key: _shift_offsets(item, offset) for key, item in value.items()}
    if isinstance(value, list):
        return [_shift_offsets(item, offset) for item in value]
    if isinstance(value, str) and 19 <= len(value) <= 40 and value[4:5] == "-" and "T" in value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            return moment.astimezone(offset).isoformat()
    return value


def _reverse_lists(value: Any) -> Any:
    """The JSON value with every list in it listed the other way round."""
    if isinstance(value, dict):
        return {key: _reverse_lists(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_reverse_lists(item) for item in reversed(value)]
    return value


def _replace_words(value: Any, words: Iterable[str], replacement: str) -> Any:
    """The JSON value with every string that is one of ``words`` replaced."""
    words = set(words)
    if isinstance(value, dict):
        return {key: _replace_words(item, words, replacement) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_words(item, words, replacement) for item in value]
    return replacement if isinstance(value, str) and value in words else value


#: Digits of a currency's minor unit where they are not 2 (ISO 4217; TWD as it is charged).
MINOR_DIGITS: Mapping[str, int] = {
    "BHD": 3, "CLP": 0, "IQD": 3, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "TWD": 0, "UGX": 0, "VND": 0,
}


def minor_digits(currency: str) -> int:
    """How many decimals an amount in ``currency`` has (2 unless :data:`MINOR_DIGITS` says otherwise)."""
    return MINOR_DIGITS.get(currency.upper(), 2)


@attrs.define
class _Exchange:
    method: str
    path: str
    status: int
    headers: list[tuple[str, str]]
    content: bytes
    json: Any = None


class _Recorder(httpx.BaseTransport):
    """Live: sends through a real transport and records each answer. Replay: answers from a script."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self._log: list[_Exchange] = []
        self._script: list[_Exchange] | None = None

    def live(self) -> None:
        self._script = None
        self._log = []

    def take(self) -> list[_Exchange]:
        log, self._log = self._log, []
        return log

    def replay_script(self, script: Sequence[_Exchange]) -> None:
        self._script = list(script)

    def replay(self, script: Sequence[_Exchange], index: int, body: Any) -> None:
        self._script = [
            attrs.evolve(ex, content=json.dumps(body).encode("utf-8")) if i == index else ex
            for i, ex in enumerate(script)
        ]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._script is not None:
            for i, exchange in enumerate(self._script):
                if exchange.method == request.method and exchange.path == request.url.path:
                    del self._script[i]
                    return httpx.Response(exchange.status, headers=exchange.headers, content=exchange.content)
            return httpx.Response(404, json={"error": "not in the recorded script"})
        response = self._inner.handle_request(request)
        content = response.read()
        response.close()
        headers = [(k, v) for k, v in response.headers.items() if k.lower() not in ("content-length", "content-encoding",
                                                                                    "transfer-encoding")]
        try:
            body = json.loads(content) if content else None
        except ValueError:
            body = None
        self._log.append(_Exchange(request.method, request.url.path, response.status_code, headers, content,
                                   body if isinstance(body, (dict, list)) else None))
        return httpx.Response(response.status_code, headers=headers, content=content)

    def close(self) -> None:
        self._inner.close()
