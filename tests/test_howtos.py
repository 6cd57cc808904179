"""docs/howto-channel.md and docs/howto-warehouse.md show the code ``fulfilhub new`` writes.

Each page's ``fulfilhub new`` command is run, and each python block must appear, as
written (a method at any indentation), in one of the files it wrote: the pages cannot
drift from the templates. tests/test_scaffold.py runs those packages' own tests.
"""

from __future__ import annotations

import shlex
import textwrap

import pytest
from click.testing import CliRunner

from fulfilhub.cli import main

from .test_docs import fenced, read


@pytest.mark.parametrize("page", ["howto-channel.md", "howto-warehouse.md"])
def test_every_code_block_is_what_fulfilhub_new_writes(page, tmp_path, monkeypatch):
    text = read(page)
    [command] = [line for block in fenced(text, "sh") for line in block.splitlines() if line.startswith("fulfilhub new")]
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, shlex.split(command)[1:])
    assert result.exit_code == 0, result.output
    written = [path.read_text(encoding="utf-8") for path in tmp_path.rglob("*.py")]
    blocks = fenced(text, "python")
    assert blocks
    for block in blocks:
        forms = (block, textwrap.indent(block, "    "))
        assert any(form in source for form in forms for source in written), f"{page}: not in the package:\n{block}"
