"""Exactly once across processes: kill -9 in the middle of the notices job and of a send,
then rerun; and two runners at once never spend more than the budget.

Each runner is a real process running the real jobs on one SQLite file. A small plugin
(written into the test's folder, as an installed plugin would be) kills its own process
with SIGKILL at the named point: ``CRASH=propose`` inside the compensation policy (the
job's transaction is open), ``CRASH=send`` right after a notice was written by the
notifier (before the outbox row is marked done), ``CRASH=issue`` right after the
channel issued a compensation.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from fulfilhub.config import IntakeConfig
from fulfilhub.engines import intake
from fulfilhub.models import Address, DelayAssessment, Money, Order, OrderLine, Promise
from fulfilhub.plugins import Hooks, PluginManager
from fulfilhub.store import Store, delays, promises
from fulfilhub.store import compensation as ledger
from fulfilhub.store import notices as notice_store

T0 = datetime(2026, 5, 12, 2, 0, tzinfo=timezone.utc)

PLUGIN = '''
import json, os, signal
from pathlib import Path
from fulfilhub import ChannelType, CompensationPolicy, NotifierType, hookimpl
from fulfilhub.default_plugins.compensation_rules import rules_policy
from fulfilhub.default_plugins.notifiers import JSONL_SETTINGS, JsonlNotifier


CALLS = {}


def crash(point):
    """Kill -9 at ``point`` (``CRASH=point``), or at its n-th call (``CRASH=point@n``)."""
    CALLS[point] = CALLS.get(point, 0) + 1
    name, _, nth = os.environ.get("CRASH", "").partition("@")
    if name == point and CALLS[point] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)


class CrashyJsonl(JsonlNotifier):
    def send(self, notice, *, attempt):
        ref = super().send(notice, attempt=attempt)
        crash("send")
        return ref


def crashy_rules(**facts):
    crash("propose")
    return rules_policy(**facts)


class Shop:
    """Issues compensations into a JSON-lines file, stamped with the key; looks before acting again."""

    def __init__(self, context):
        self.path = Path(os.environ["ISSUED"])

    def issue_compensation(self, order, grant, key, *, attempt=None):
        if attempt and attempt > 1 and self.path.exists():
            for line in self.path.read_text().splitlines():
                if json.loads(line)["key"] == key:
                    return json.loads(line)["code"], key
        code = "SORRY-" + str(abs(hash(key)) % 10000)
        with self.path.open("a") as fh:
            fh.write(json.dumps({"key": key, "code": code, "amount": str(grant.value.amount)}) + "\\n")
        crash("issue")
        return code, key

    def close(self):
        pass


@hookimpl
def register_notifier_types(register):
    register(NotifierType(name="crashy-jsonl", factory=CrashyJsonl, settings=JSONL_SETTINGS))


@hookimpl
def register_compensation_policies(register):
    register(CompensationPolicy(name="crashy-rules", propose=crashy_rules))


@hookimpl
def register_channel_types(register):
    register(ChannelType(name="crashy-shop", factory=Shop))
'''

RUNNER = '''
import sys
from datetime import datetime, timezone
import crashy_plugin
from fulfilhub.clock import SimClock
from fulfilhub.config import load
from fulfilhub.plugins import PluginManager
from fulfilhub.runner import jobs
from fulfilhub.runner.runtime import Runtime
from fulfilhub.store import Store

config = load(sys.argv[1], env={})
store = Store.open(config.store_url)
rt = Runtime(config, store, PluginManager(load_installed=False, extra=[crashy_plugin]),
             clock=SimClock(datetime(2026, 5, 12, 2, tzinfo=timezone.utc)))
for _ in range(int(sys.argv[2]) if len(sys.argv) > 2 else 1):
    for job in ("notices", "deliver_effects", "deliver_effects"):
        report = jobs.JOBS[job](rt)
        if report.errors:
            print("\\n".join(report.errors), file=sys.stderr)
print("done")
'''

CONFIG = """
[store]
url = "sqlite:///{folder}/s.sqlite"

[channels.shop]
type = "crashy-shop"

[warehouses.main]
type = "local"

[notifiers.file]
type = "crashy-jsonl"
path = "{folder}/notices.jsonl"

[notices]
shop_name = "Acme Tea"

[compensation]
policy = "crashy-rules"
auto_approve_below = "1000"
budget = {{ amount = "{budget}", currency = "TWD" }}

[[compensation.tiers]]
name = "late-1d"
min_days = 1
kind = "shipping_refund"
amount = "80"
"""


def make_world(folder: Path, *, orders: int, budget: str = "100000") -> Path:
    (folder / "crashy_plugin.py").write_text(textwrap.dedent(PLUGIN), encoding="utf-8")
    (folder / "runner.py").write_text(RUNNER, encoding="utf-8")
    config = folder / "fulfilhub.toml"
    config.write_text(CONFIG.format(folder=folder, budget=budget), encoding="utf-8")
    store = Store.open(f"sqlite:///{folder}/s.sqlite", migrate=True)
    hooks = Hooks(PluginManager(load_installed=False))
    with store.transaction() as tx:
        for n in range(orders):
            order = Order(channel="shop", external_id=str(1000 + n), version="v1", number=f"#{1000 + n}",
                          placed_at=T0, updated_at=T0, currency="TWD", total=Money(amount="1280", currency="TWD"),
                          lines=[OrderLine(sku="TEA", quantity=1, unit_price=Money(amount="1200", currency="TWD"))],
                          ship_to=Address(name="Ming", line1="1 Rd", city="Taipei", country="TW"),
                          email="m@example.tw", locale="zh-TW")
            intake.ingest(tx, hooks, [order], at=T0, known_skus={"TEA"}, intake=IntakeConfig(check_sku=False),
                          source="test")
            promises.record(tx, Promise(order_id=order.id, revision=1, created_at=T0, ship_by=T0,
                                        deliver_from=T0 + timedelta(days=1), deliver_by=T0 + timedelta(days=2),
                                        timezone="Asia/Taipei"))
            delays.record(tx, DelayAssessment(order_id=order.id, assessed_at=T0, state="late", days_late=2,
                                              reason="carrier_exception", exception="weather",
                                              revised_eta=T0 + timedelta(days=4)))
    store.close()
    return config


def runner(folder: Path, config: Path, *, crash: str = "", passes: int = 1) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]),
           "ISSUED": str(folder / "issued.jsonl"), "CRASH": crash}
    return subprocess.Popen([sys.executable, str(folder / "runner.py"), str(config), str(passes)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


POINTS = ("propose", "send", "issue")


def test_kill_9_at_any_point_then_rerun_gives_one_compensation_and_one_notice_of_each(tmp_path):
    """Each crash point in a world of its own; the three worlds run side by side (wall time)."""
    folders = {point: tmp_path / point for point in POINTS}
    configs = {}
    for point, folder in folders.items():
        folder.mkdir()
        configs[point] = make_world(folder, orders=1)
    crashed = {point: runner(folders[point], configs[point], crash=point) for point in POINTS}
    for point, proc in crashed.items():
        code, _, err = finish(proc)
        assert code == -signal.SIGKILL, f"{point}: {err}"
        store = Store.open(f"sqlite:///{folders[point]}/s.sqlite")
        with store.read() as conn:
            rows = ledger.listing(conn)
        store.close()
        if point == "propose":  # killed inside the job's transaction: nothing of it stayed
            assert rows == [] and not (folders[point] / "notices.jsonl").exists()
        else:  # the decision had committed; the effects were in flight (notifier and channel run side by side)
            assert len(rows) == 1 and rows[0].status in ("approved", "issued"), point
    reruns = {point: runner(folders[point], configs[point], passes=2) for point in POINTS}  # rerun, one more pass
    for point, proc in reruns.items():
        code, out, err = finish(proc)
        assert code == 0 and out.strip() == "done", f"{point}: {err}"
        folder = folders[point]
        sent = lines(folder / "notices.jsonl")
        keys = [n["key"] for n in sent]
        assert len(keys) == len(set(keys)), f"{point}: a notice was written twice: {keys}"
        assert sorted(n["event"] for n in sent) == ["compensation_issued", "confirmed", "delayed"], point
        issued = lines(folder / "issued.jsonl")
        assert len(issued) == 1 and issued[0]["amount"] == "80.00", point
        store = Store.open(f"sqlite:///{folder}/s.sqlite")
        with store.read() as conn:
            assert [(r.status, r.code) for r in ledger.listing(conn)] == [("issued", issued[0]["code"])], point
            assert len(notice_store.listing(conn)) == 3, point
        store.close()


def test_kill_9_in_the_middle_of_a_page_then_rerun_redoes_the_page_once(tmp_path):
    """The notices job decides a page of orders in one transaction: killed at the third
    order's compensation, nothing of the page stays (not the two decided before it), and
    the rerun decides the whole page again with one compensation and one notice of each."""
    config = make_world(tmp_path, orders=5)
    code, _, err = finish(runner(tmp_path, config, crash="propose@3"))
    assert code == -signal.SIGKILL, err
    store = Store.open(f"sqlite:///{tmp_path}/s.sqlite")
    with store.read() as conn:
        assert ledger.listing(conn) == []
        assert notice_store.listing(conn) == []
    store.close()
    assert not (tmp_path / "notices.jsonl").exists()
    code, out, err = finish(runner(tmp_path, config, passes=2))
    assert code == 0, err
    assert out.strip() == "done", err
    sent = lines(tmp_path / "notices.jsonl")
    keys = [n["key"] for n in sent]
    assert len(keys) == len(set(keys)), keys
    assert sorted(n["event"] for n in sent) == sorted(["compensation_issued", "confirmed", "delayed"] * 5)
    issued = lines(tmp_path / "issued.jsonl")
    assert len(issued) == 5
    assert len({i["key"] for i in issued}) == 5
    store = Store.open(f"sqlite:///{tmp_path}/s.sqlite")
    with store.read() as conn:
        assert sorted(r.status for r in ledger.listing(conn)) == ["issued"] * 5
        assert len(notice_store.listing(conn)) == 15
    store.close()


def test_two_runners_at_once_never_exceed_the_budget_nor_compensate_an_order_twice(tmp_path):
    config = make_world(tmp_path, orders=20, budget="500")  # 20 x 80 wanted, 500 allowed: 6 fit
    procs = [runner(tmp_path, config), runner(tmp_path, config)]
    for proc in procs:
        code, out, err = finish(proc)
        assert code == 0 and out.strip() == "done", err
    store = Store.open(f"sqlite:///{tmp_path}/s.sqlite")
    with store.read() as conn:
        rows = ledger.listing(conn, limit=1000)
        spent, limit = ledger.spent(conn, "2026-05", "TWD")
        notices = notice_store.listing(conn, event="delayed", limit=1000)
    store.close()
    assert len(rows) == 20 and len({r.order_id for r in rows}) == 20  # each order decided once
    approved = [r for r in rows if r.status in ("approved", "issued")]
    assert len(approved) == 6 and sum(r.amount for r in approved) == Decimal("480") == spent <= limit
    assert {r.status for r in rows} - {"approved", "issued"} == {"over_budget"}
    assert len(notices) == 20  # one delay notice per order, whichever runner wrote it
    issued = lines(tmp_path / "issued.jsonl")
    assert len(issued) == 6 and len({i["key"] for i in issued}) == 6
