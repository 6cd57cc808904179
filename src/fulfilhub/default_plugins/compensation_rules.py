"""The built-in ``rules`` compensation policy: tiers by days late and cause.

Each ``[[compensation.tiers]]`` table of ``fulfilhub.toml`` is a
:class:`~fulfilhub.engines.tiers.Tier`: from ``min_days`` late, for the ``causes`` listed
(all when none), give ``kind`` worth a ``percent`` of the order value, a fixed
``amount``, ``points`` or ``months``. The policy proposes the most valuable tier the
delay reached (``engines/tiers.py`` decides which); the compensation engine applies the
caps, the top-up rule, approval and the budget. Rule sets modelled on marketplaces'
published rules (``contrib/compensation-presets``) build on the same
``fulfilhub.sdk.propose_by_rules``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..adapters import CompensationPolicy
from ..engines.tiers import propose_by_rules, tier
from ..hookspecs import hookimpl
from ..models import CompensationProposal, DelayAssessment, Order


def rules_policy(*, order: Order, assessment: DelayAssessment, given: Sequence[CompensationProposal],
                 settings: Mapping[str, Any]) -> CompensationProposal | None:
    """The built-in ``rules`` policy: the ``[[compensation.tiers]]`` of the config."""
    raw = settings.get("tiers", [])
    tiers = [tier(t, where=f"compensation.tiers[{i}]") for i, t in enumerate(raw if isinstance(raw, list) else [])]
    return propose_by_rules(tiers, order=order, assessment=assessment)


@hookimpl(trylast=True)
def register_compensation_policies(register: Callable[[CompensationPolicy], None]) -> None:
    register(CompensationPolicy(name="rules", propose=rules_policy,
                                description="Tiers by days late and cause, from [[compensation.tiers]] in the config"))
