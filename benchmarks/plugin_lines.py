"""How many lines a carrier plugin takes, from ``fulfilhub new`` to a real API.

Counts the source (``src/``, tests and simulator left out) of:

- the carrier ``fulfilhub new carrier`` writes, unchanged (it passes the conformance suite
  against its own simulator);
- ``benchmarks/easypost_on_the_kit``: that package turned into an EasyPost adapter (it
  passes the conformance suite against EasyPost's simulator: ``PYTHONPATH=src pytest``
  in its folder, with fulfilhub-easypost installed), and the lines that differ from
  what ``fulfilhub new`` wrote (added or changed, by difflib);
- ``plugins/fulfilhub-easypost``, the first-party EasyPost plugin written before the kit;
- the first-party carrier plugins written on the kit since (``fulfilhub-shippo``,
  ``fulfilhub-kuaidi100``), with the shared readers of ``fulfilhub.sdk``.

Beside them, karrio's EasyPost connector: 2,378 lines without tests, as the issue states
it (karrio is not installed here; the figure is quoted, not measured).

    python benchmarks/plugin_lines.py [--json]
"""

from __future__ import annotations

import argparse
import difflib
import json
import tempfile
from pathlib import Path

from fulfilhub.scaffold import render

ROOT = Path(__file__).resolve().parents[1]
KARRIO_EASYPOST = 2378


def count(files: list[Path]) -> dict[str, int]:
    lines = [line for path in files for line in path.read_text(encoding="utf-8").splitlines()]
    code = [line for line in lines if line.strip() and not line.strip().startswith("#")]
    return {"files": len(files), "lines": len(lines), "non_blank_non_comment": len(code)}


def sources(package_src: Path, *, leave_out: tuple[str, ...] = ("simulator.py",)) -> list[Path]:
    return sorted(p for p in package_src.rglob("*.py") if p.name not in leave_out and "sim" not in p.parts[-2:-1])


def changed_lines(before: Path, after: Path) -> int:
    """Lines of ``after``'s sources that are not in ``before``'s (added or changed)."""
    total = 0
    for path in sources(after):
        old_path = before / path.name
        old = old_path.read_text(encoding="utf-8").splitlines() if old_path.exists() else []
        new = path.read_text(encoding="utf-8").splitlines()
        for tag, _i1, _i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
            if tag in ("replace", "insert"):
                total += sum(1 for line in new[j1:j2] if line.strip())
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        render("carrier", "easypost_kit", Path(tmp) / "new")
        generated_src = Path(tmp) / "new" / "src" / "fulfilhub_easypost_kit"
        generated = count(sources(generated_src))
        kit_src = ROOT / "benchmarks" / "easypost_on_the_kit" / "src" / "fulfilhub_easypost_kit"
        kit = count(sources(kit_src))
        kit["changed_from_fulfilhub_new"] = changed_lines(generated_src, kit_src)
    first_party = count(sources(ROOT / "plugins" / "fulfilhub-easypost" / "src" / "fulfilhub_easypost"))
    figures = {
        "fulfilhub_new_carrier": generated,
        "easypost_on_the_kit": kit,
        "fulfilhub_easypost_first_party": first_party,
        **{f"fulfilhub_{name}_first_party": count(sources(ROOT / "plugins" / f"fulfilhub-{name}" / "src" / f"fulfilhub_{name}"))
           for name in ("shippo", "kuaidi100") if (ROOT / "plugins" / f"fulfilhub-{name}").is_dir()},
        "karrio_easypost_quoted": {"lines": KARRIO_EASYPOST},
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{'':34} {'files':>5} {'lines':>6} {'code':>6}")
    for name, row in figures.items():
        print(f"{name:34} {row.get('files', ''):>5} {row['lines']:>6} {row.get('non_blank_non_comment', ''):>6}")
    print(f"easypost_on_the_kit: {kit['changed_from_fulfilhub_new']} non-blank lines added or changed "
          "after `fulfilhub new carrier`")
    print(f"ratio to karrio's EasyPost connector: {kit['lines'] / KARRIO_EASYPOST:.2f}")


if __name__ == "__main__":
    main()
