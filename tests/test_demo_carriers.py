"""Choosing the carrier simulators of a scenario (`fulfilhub demo --carrier NAME`)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from fulfilhub.cli import main
from fulfilhub.errors import PluginError
from fulfilhub.sandbox import DemoPart
from fulfilhub.scenarios.world import choose_carriers

PARTS = {
    "shop": DemoPart(kind="channels", type="shopify", instance="demo-shop"),
    "ep": DemoPart(kind="carriers", type="easypost", instance="easypost"),
    "sh": DemoPart(kind="carriers", type="shippo", instance="shippo"),
}


def test_only_the_named_carriers_stay_and_every_other_kind_does():
    assert set(choose_carriers(PARTS, ["sh"])) == {"shop", "sh"}
    assert set(choose_carriers(PARTS, ["sh", "ep"])) == {"shop", "sh", "ep"}


@pytest.mark.parametrize("names", [["dhl"], []])
def test_an_unknown_or_no_carrier_is_refused_naming_the_installed_ones(names):
    with pytest.raises(PluginError, match="the installed ones: ep, sh"):
        choose_carriers(PARTS, names)


def test_the_demo_refuses_an_unknown_carrier_with_exit_4(tmp_path):
    result = CliRunner().invoke(main, ["demo", "--carrier", "no-such-carrier", "--orders", "5", "--days", "1",
                                       "--workspace", str(tmp_path / "ws")])
    assert result.exit_code == 4
    assert "no carrier simulator named no-such-carrier" in result.output
