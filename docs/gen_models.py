"""Write docs/models.md from the models in src/fulfilhub/models.py.

Each table is built from ``attrs.fields()`` (name, default), the field's type hint
(checked to resolve with ``typing.get_type_hints``) and a description: the field's
``attrs.field(metadata={"doc": ...})`` if it has one, else its line in the
``Attributes:`` section of the class docstring. A field without a description, or a
description of a field that does not exist, is an error.

    python docs/gen_models.py           # rewrite docs/models.md
    python docs/gen_models.py --check   # exit 1 if docs/models.md is out of date

``tests/test_docs.py`` fails when the page and the models disagree.
"""

from __future__ import annotations

import decimal
import enum
import inspect
import re
import sys
import typing
from pathlib import Path

import attrs

from fulfilhub import models

PAGE = Path(__file__).resolve().parent / "models.md"

#: The page's sections: (heading, what it says, the classes in it).
SECTIONS: tuple[tuple[str, str, tuple[type, ...]], ...] = (
    (
        "What a carrier returns",
        "`Carrier.quote` returns `Rate`s, `Carrier.buy` a `Label`, `Carrier.track` a "
        "`TrackingUpdate` with its `TrackingEvent`s. `quote` is given a `ShipmentRequest`.",
        (models.Rate, models.Label, models.TrackingUpdate, models.TrackingEvent, models.ShipmentRequest),
    ),
    (
        "What a channel returns",
        "`Channel.fetch_orders` returns an `OrderPage`; `Channel.parse_order` maps each of its "
        "payloads to an `Order`.",
        (models.OrderPage, models.Order, models.OrderLine, models.Address, models.PickupPoint, models.Money,
         models.ShippingChoice, models.ChannelPromise),
    ),
    (
        "What a warehouse sees and returns",
        "`Warehouse.submit` is given a `FulfillmentRequest`, `Warehouse.status` returns a "
        "`FulfillmentUpdate` (with a `Parcel` once packed), `Warehouse.stock_levels` returns "
        "`StockLevel`s.",
        (models.FulfillmentRequest, models.FulfillmentUpdate, models.Parcel, models.StockLevel),
    ),
    (
        "What notifiers and compensation policies get",
        "A notifier's `send` is given a rendered `Notice`; a compensation policy returns a "
        "`CompensationProposal` (and is given those already granted), and a channel's "
        "`issue_compensation` is given the one to issue now.",
        (models.Notice, models.CompensationProposal),
    ),
    (
        "What fulfilhub keeps",
        "A `Shipment` is one parcel of an order from one warehouse, as the store keeps it; the "
        "`ShipmentLine`s say what goes into it (and into a `FulfillmentRequest`).",
        (models.Shipment, models.ShipmentLine),
    ),
)

#: The enums the models use, listed with their values.
ENUMS: tuple[type[enum.Enum], ...] = (
    models.TrackingStatus,
    models.ExceptionReason,
    models.FulfillmentStatus,
    models.FulfilledBy,
    models.ShipmentStatus,
    models.OrderStatus,
    models.NoticeEvent,
    models.CompensationKind,
)

_FIELD_LINE = re.compile(r"^(\s*)([A-Za-z_][A-Za-z0-9_]*): (.*)$")


def docstring_fields(cls: type) -> dict[str, str]:
    """The ``Attributes:`` section of ``cls``'s docstring as {field: description}."""
    lines = inspect.cleandoc(cls.__doc__ or "").splitlines()
    try:
        start = lines.index("Attributes:") + 1
    except ValueError:
        return {}
    found: dict[str, str] = {}
    indent: int | None = None
    current = ""
    for line in lines[start:]:
        if not line.strip():
            break
        width = len(line) - len(line.lstrip())
        match = _FIELD_LINE.match(line)
        if match and (indent is None or width == indent):
            indent = width
            current = match.group(2)
            if current in found:
                raise ValueError(f"{cls.__name__}: the docstring describes {current!r} twice")
            found[current] = match.group(3).strip()
        elif indent is not None and width > indent and current:
            found[current] += " " + line.strip()
        else:
            break
    return found


def descriptions(cls: type) -> dict[str, str]:
    """Each field's description; ValueError naming what is missing or unknown."""
    fields = attrs.fields(cls)
    from_doc = docstring_fields(cls)
    unknown = sorted(set(from_doc) - {f.name for f in fields})
    if unknown:
        raise ValueError(f"{cls.__name__}'s docstring describes fields it does not have: {', '.join(unknown)}")
    out = {}
    for field in fields:
        text = field.metadata.get("doc") or from_doc.get(field.name, "")
        if not text.strip():
            raise ValueError(
                f"{cls.__name__}.{field.name} has no description: add a line to the `Attributes:` section "
                f"of its docstring (or attrs.field(metadata={{'doc': ...}}))"
            )
        out[field.name] = " ".join(text.split())
    return out


def _markdown(text: str) -> str:
    """reStructuredText markup of a docstring as Markdown: ``x`` and :meth:`x` become `x`."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"`\1`", text)
    return re.sub(r"``([^`]+)``", r"`\1`", text)


def _cell(text: str) -> str:
    return _markdown(text).replace("|", "\\|")


def _default(field: attrs.Attribute) -> str:
    default = field.default
    if default is attrs.NOTHING:
        return "required"
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        if default.takes_self:
            return "computed"
        default = default.factory()
    if field.converter is not None and not isinstance(default, (decimal.Decimal, str)) and default is not None:
        default = field.converter(default)
    if isinstance(default, decimal.Decimal):
        return f'`"{default}"`'
    if isinstance(default, enum.Enum):
        return f"`{default.value!r}`"
    if isinstance(default, str):
        return '`""`' if default == "" else f"`{default!r}`"
    return f"`{_cell(repr(default))}`"


def _type(cls: type, field: attrs.Attribute) -> str:
    hints = typing.get_type_hints(cls)  # raises when a hint does not resolve
    assert field.name in hints
    shown = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", repr(field.type))
    return f"`{_cell(shown)}`"


def _summary(cls: type) -> str:
    doc = inspect.cleandoc(cls.__doc__ or "")
    paragraphs = [p for p in doc.split("\n\n") if p.strip()]
    kept = [p for p in paragraphs if not p.startswith("Attributes:")]
    return _markdown("\n\n".join(" ".join(p.split()) for p in kept))


def model_table(cls: type) -> list[str]:
    described = descriptions(cls)
    out = [
        f"### {cls.__name__}",
        "",
        _summary(cls),
        "",
        "| field | type | default | description |",
        "|---|---|---|---|",
    ]
    for field in attrs.fields(cls):
        out.append(f"| `{field.name}` | {_type(cls, field)} | {_default(field)} | {_cell(described[field.name])} |")
    out.append("")
    return out


def _exported_note() -> str:
    """Which of the page's models ``fulfilhub`` itself exports."""
    import fulfilhub

    private = [cls.__name__ for _, _, classes in SECTIONS for cls in classes if not hasattr(fulfilhub, cls.__name__)]
    if not private:
        return " (all importable from `fulfilhub`)."
    return f" (all but {', '.join(f'`{name}`' for name in private)} importable from `fulfilhub`)."


def render() -> str:
    """The whole page, as docs/models.md must read."""
    out = [
        "# The models",
        "",
        "<!-- Generated by docs/gen_models.py from src/fulfilhub/models.py. Do not edit by hand: -->",
        "<!-- describe a field in its class docstring, then run `python docs/gen_models.py`. -->",
        "",
        "The values a plugin builds and receives, from `fulfilhub.models`" + _exported_note() + " They are "
        "attrs classes: frozen, slotted and keyword-only. Money is a `Decimal` with an ISO-4217 code, times "
        "are timezone-aware `datetime`s, statuses are enums. Build one with keyword arguments; change one "
        "with `attrs.evolve`. How a plugin uses them is in [plugins.md](plugins.md).",
        "",
    ]
    for heading, intro, classes in SECTIONS:
        out += [f"## {heading}", "", intro, ""]
        for cls in classes:
            out += model_table(cls)
    out += ["## Statuses and reasons", ""]
    for kind in ENUMS:
        values = ", ".join(f"`{member.value}`" for member in kind)
        out += [f"- `{kind.__name__}`: {_markdown(' '.join(inspect.cleandoc(kind.__doc__ or '').split()))} {values}."]
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
        if current != text:
            print(f"{PAGE} is out of date with src/fulfilhub/models.py: run `python docs/gen_models.py`",
                  file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
