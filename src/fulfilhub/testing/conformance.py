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

A check the plugin cannot pass yet is listed in ``expected_failures`` with the reason
(``{"test_webhook_stale_replay_is_rejected": "the vendor signs no timestamp"}``); the
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
- channels: a second pull from the saved cursor returns nothing already seen; a
  cursor in the future returns nothing; a pull killed mid-pagination resumes from its
  saved cursor without loss; pagination always advances (a loop is detected).
- notifiers and compensation policies: what their protocol says (see the classes).
"""

from __future__ import annotations

import hmac
import importlib.metadata
import json
import logging
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
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
    WebhookReceiver,
)
from ..clock import SimClock
from ..errors import ConfigError, ExternalError, FulfilhubError, PayloadError, TransientError
from ..http import RetryPolicy
from ..models import (
    Address,
    CompensationProposal,
    FulfillmentRequest,
    FulfillmentStatus,
    Label,
    Notice,
    NoticeEvent,
    Order,
    OrderPage,
    Parcel,
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

    # ------------------------------------------------------------------ fixtures

    @pytest.fixture
    def fh_clock(self) -> SimClock:
        return SimClock()

    @pytest.fixture
    def fh_sandbox(self, fh_clock: SimClock) -> Iterator[SandboxServer]:
        name = self._simulator_name()
        options = dict(self.simulator_options)
        if self.kind == "channels":
            options.setdefault("orders_per_day", getattr(self, "orders_per_day", 24))
        for option, value in self._credentials().values():
            options.setdefault(option, value)
        context = SandboxContext(clock=fh_clock, seed=1, options={name: options})
        with SandboxServer({name: self._simulator()}, context) as server:
            yield server

    @pytest.fixture
    def fh_sim(self, fh_sandbox: SandboxServer) -> Any:
        return fh_sandbox.simulators[self._simulator_name()]

    @pytest.fixture
    def fh_build(self, fh_sandbox: SandboxServer, fh_clock: SimClock) -> Iterator[Callable[..., Any]]:
        """``fh_build(**settings)``: an adapter pointed at the simulator (closed after the test)."""
        built: list[Any] = []

        def build(*, policy: RetryPolicy = SUITE_RETRIES, transport: httpx.BaseTransport | None = None,
                  secrets: Iterable[str] = (), **overrides: Any) -> Any:
            adapter = self.registered().factory(
                self.context(fh_sandbox, fh_clock, policy=policy, transport=transport, secrets=secrets, **overrides)
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
    def fh_offline(self, fh_clock: SimClock) -> Iterator[Callable[..., Any]]:
        """``fh_offline(**settings)``: an adapter for checks that send no request (no simulator started)."""
        built: list[Any] = []

        def build(*, secrets: Iterable[str] = (), **overrides: Any) -> Any:
            adapter = self.registered().factory(self.context(None, fh_clock, secrets=secrets, **overrides))
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
                transport: httpx.BaseTransport | None = None, secrets: Iterable[str] = (),
                **overrides: Any) -> InstanceContext:
        """The instance context the runner would build for an instance pointed at ``sandbox``."""
        base_url = sandbox.url_for(self._simulator_name()) if sandbox else "http://127.0.0.1:9/offline"
        settings: dict[str, Any] = {**self._settings(), "base_url": base_url}
        for key, (_option, value) in self._credentials().items():
            settings[key] = value
        settings.update(overrides)
        settings = {key: value for key, value in settings.items() if value is not None}
        all_secrets = {value for _option, value in self._credentials().values()} | set(secrets)
        return instance_context(
            f"conformance-{self.type_name}", settings, clock=clock, secrets=sorted(all_secrets), policy=policy,
            transport=transport, schema=self.registered().settings, kind=self.kind,
        )

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
            raise AssertionError("a wrong credential was accepted by the simulator; the check cannot tell")
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
        self, fh_build: Callable[..., Any], fh_sandbox: SandboxServer
    ) -> None:
        adapter = fh_build()
        fh_sandbox.context.faults.add("503", path=self._fault_path(), times=1000)
        with pytest.raises(TransientError) as info:
            self.exercise(adapter)
        assert f"conformance-{self.type_name}" in str(info.value), f"the error does not name the instance: {info.value}"
        assert "503" in str(info.value), f"the error does not say what failed: {info.value}"

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

    def test_mappings_survive_mutated_simulator_answers(
        self, fh_build: Callable[..., Any], fh_sim: Any, fh_clock: SimClock
    ) -> None:
        recorder = _Recorder()
        adapter = fh_build(transport=recorder)
        stages = self.fuzz_stages(adapter, fh_sim, fh_clock)
        assert stages, "no call to fuzz"
        fuzzed = 0
        for name, call in stages:
            recorder.live()
            call()
            script = recorder.take()
            bodies = [i for i, exchange in enumerate(script) if exchange.json is not None]
            for index in bodies:
                target = script[index]
                count = max(20, self.fuzz_count // max(1, len(bodies)))

                def replayed(mutated: Any, _script: list[_Exchange] = script, _index: int = index,
                             _call: Callable[[], Any] = call) -> Any:
                    recorder.replay(_script, _index, mutated)
                    return _call()

                try:
                    assert_maps_or_refuses(replayed, mutations(target.json, seed=fuzzed, count=count),
                                           check=_check_result, refuse=(PayloadError, ExternalError))
                except AssertionError as exc:
                    raise AssertionError(f"{name}: mutated answers to {target.method} {target.path}: {exc}") from None
                fuzzed += 1
        recorder.live()
        assert fuzzed, "no JSON answer was recorded to fuzz"

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
        assert parsed is None or isinstance(parsed, (Order, TrackingUpdate)), parsed

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

    def test_webhook_bodies_survive_mutation(self, fh_receiver: Any, fh_clock: SimClock) -> None:
        headers, body = self._webhook(fh_clock)
        golden = json.loads(body)

        def parse(mutated: Any) -> Any:
            raw = json.dumps(mutated).encode("utf-8")
            resigned = {**headers, **self.resign(headers, raw, "whsec-conformance-0123")}
            assert fh_receiver.verify_webhook(resigned, raw), "a re-signed mutated body did not verify"
            result = fh_receiver.parse_webhook(resigned, raw)
            assert result is None or isinstance(result, (Order, TrackingUpdate)), result
            return result

        assert_maps_or_refuses(parse, mutations(golden, seed=7, count=self.fuzz_count), check=_check_result)

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
        key = next(k for k in headers if k.lower() == self.signature_header.lower())
        forged[key] = headers[key][:-4] + ("AAAA" if not headers[key].endswith("AAAA") else "BBBB")
        assert fh_receiver.verify_webhook(forged, body) is False
        assert calls, "the signature was not compared with hmac.compare_digest (a == comparison leaks timing)"


# ============================================================================ channels


class ChannelSuite(_AdapterSuite):
    """Checks for a channel type (a shop or marketplace).

    The simulator must take the option ``orders_per_day`` and offer ``stop_arrivals()``
    (:class:`fulfilhub.sandbox.ShopSimulator`). Also set or override:

    - ``page_size_setting``: the setting that sizes a page (for the kill-mid-pagination
      check; default ``"page_size"``);
    - ``overlap``: how far back a new pass re-reads (records re-read inside it are fine);
    - ``cursor_at(moment)``: a cursor that starts at ``moment`` (for the future-cursor check);
    - ``fulfillment_count(sim, order)``: how many fulfillments the simulator holds for an order;
    - ``status_table``: the outbound table (TrackingStatus -> vendor word), with
      ``documented_statuses`` the vendor's words and ``unknown_ok`` the statuses the
      vendor has no word for, each with the reason.
    """

    kind = "channels"
    page_size_setting: ClassVar[str] = "page_size"
    overlap: ClassVar[timedelta] = timedelta(0)
    #: The simulator's ``orders_per_day`` unless ``simulator_options`` sets it.
    orders_per_day: ClassVar[int] = 24

    def cursor_at(self, moment: datetime) -> str:
        raise NotImplementedError("cursor_at(moment) must return a cursor that starts at moment")

    def fulfillment_count(self, sim: Any, order: Order) -> int:
        raise NotImplementedError("fulfillment_count(sim, order) must count the simulator's fulfillments")

    def exercise(self, adapter: Any) -> Any:
        return adapter.fetch_orders(None)

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
        assert seen, "the simulator produced no orders in a day; raise orders_per_day"
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
        small = {self.page_size_setting: 2}
        everything = set(self._keys(fh_build(), self.pull(fh_build(), None)[0]))  # at the default page size
        assert len(everything) > 4, "too few orders for pages of 2"
        first = fh_build(**small)
        page = first.fetch_orders(None)
        assert page.has_more, "a page of 2 orders said there are no more"
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
        payloads, _ = self.pull(fh_build(**{self.page_size_setting: 3}), None)
        assert payloads

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
        order = next(o for o in orders if o.cancelled_at is None and any(line.requires_shipping for line in o.lines))
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
        assert payloads, "no order payload to fuzz"
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
    """

    kind = "carriers"
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

    def exercise(self, adapter: Any) -> Any:
        return adapter.quote(self.shipment_request())

    def fuzz_stages(self, adapter: Any, sim: Any, clock: SimClock) -> Sequence[tuple[str, Callable[[], Any]]]:
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
        rates = fh_build().quote(self.shipment_request())
        assert rates, "no rate for the suite's shipment request; override shipment_request()"
        assert all(rate.carrier == f"conformance-{self.type_name}" for rate in rates), (
            "a rate's carrier must be the instance name (context.name)"
        )

    def test_buying_the_same_rate_twice_with_one_key_makes_one_label(
        self, fh_build: Callable[..., Any], fh_sim: Any
    ) -> None:
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
        adapter = fh_build()
        label = adapter.buy(adapter.quote(self.shipment_request())[0], "carrier.buy_label:void/1")
        adapter.void(label)
        fh_build().void(label)  # the retry of a void whose answer was lost

    def test_every_scan_the_simulator_emits_maps_to_a_normalized_status(
        self, fh_build: Callable[..., Any], fh_clock: SimClock
    ) -> None:
        adapter = fh_build()
        labels: list[Label] = []
        for n in range(self.parcels):
            request = self.shipment_request(f"conformance-{n}")
            rates = adapter.quote(request)
            labels.append(adapter.buy(rates[n % len(rates)], f"carrier.buy_label:scan/{n}"))
        fh_clock.advance(timedelta(days=self.track_days))
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


# ============================================================================ warehouses


class WarehouseSuite(_AdapterSuite):
    """Checks for a warehouse type (own stock or a 3PL).

    Set ``skus`` (SKUs the simulator stocks) and override ``submission_count(sim)``;
    ``fulfillment_request()`` builds the request submitted. ``status_table`` maps the
    vendor's words to :class:`~fulfilhub.FulfillmentStatus`.
    """

    kind = "warehouses"
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

    def test_progress_maps_to_a_fulfillment_status(self, fh_build: Callable[..., Any], fh_clock: SimClock) -> None:
        adapter = fh_build()
        ref = adapter.submit(self.fulfillment_request("warehouse.submit:progress/1"))
        seen = []
        for _ in range(self.progress_hours):
            update = adapter.status(ref)
            assert update.ref == ref and isinstance(update.status, FulfillmentStatus)
            seen.append(update.status)
            fh_clock.advance(timedelta(hours=1))
        assert seen[-1] in (FulfillmentStatus.PACKED, FulfillmentStatus.SHIPPED), (
            f"after {self.progress_hours} h the request is still {seen[-1]}; raise progress_hours"
        )


# ============================================================================ notifiers


class NotifierSuite(Suite):
    """Checks for a notifier type: what :class:`~fulfilhub.Notifier` says.

    Override ``notifier_settings(tmp_path)`` (an instance that works; default
    ``settings``) and ``deliveries(notifier)`` to list what was delivered (an outbox,
    a simulator's inbox). ``send(notice, attempt=...)`` delivers once per ``notice.key``.
    """

    kind = "notifiers"
    settings: ClassVar[Mapping[str, Any]] = {}
    recipient: ClassVar[str] = "ada@example.com"

    def notifier_settings(self, tmp_path: Any) -> Mapping[str, Any]:
        return self.settings

    def deliveries(self, notifier: Any) -> Sequence[Any]:
        raise NotImplementedError("deliveries(notifier) must list what the notifier delivered")

    @pytest.fixture
    def fh_build(self, tmp_path: Any) -> Iterator[Callable[..., Any]]:
        built: list[Any] = []

        def build(**overrides: Any) -> Any:
            registered = self.registered()
            assert isinstance(registered, NotifierType)
            notifier = registered.factory(instance_context(
                f"conformance-{self.type_name}", {**self.notifier_settings(tmp_path), **overrides},
                schema=registered.settings, kind="notifiers",
            ))
            built.append(notifier)
            return notifier

        yield build
        for notifier in built:
            close = getattr(notifier, "close", None)
            if close is not None:
                close()

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


# ============================================================================ internals


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
