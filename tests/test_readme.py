"""The README's console examples are real: scripts/readme_examples runs every one of them and
this fails when the README and what the commands print differ beyond timings."""

from __future__ import annotations

import subprocess
import sys
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader

import pytest
from conftest import ROOT, SHARED, shared_file


@pytest.mark.tf
def test_readme_examples_match_what_the_commands_print() -> None:
    shared_file(SHARED / "mtcnn.pb")  # several examples use the shared graphs
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "readme_examples"),
                             "--check"], capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "README examples match" in result.stdout


def test_the_checker_tells_timings_from_drift() -> None:
    """Timings may differ; any other character may not."""
    loader = SourceFileLoader("readme_examples", str(ROOT / "scripts" / "readme_examples"))
    spec = spec_from_loader("readme_examples", loader)
    assert spec is not None
    module = module_from_spec(spec)
    loader.exec_module(module)
    assert module.normalized("took 12.5 ms, 3 s") == module.normalized("took 9.1 ms, 41 s")
    # Digits that vary by CPU pass; a number that moved does not (issue 26, item 20).
    same = ("max error 9.16e-05  score 40.243263", "max error 6.1e-05   score 40.243248")
    assert module.normalized(same[0]) == module.normalized(same[1])
    assert module.drifted_numbers(*same) == []
    assert module.drifted_numbers("ops: 12", "ops: 17") != []
    assert module.drifted_numbers("max error 0.02", "max error 0.03") != []
    assert module.normalized("verdict: match") != module.normalized("verdict: mismatch")
    # A table re-wraps when a timing gains a digit: the cells' text is compared, not the wrap.
    wrapped = ("┏━━━━━━━┳━━━━━━━━━━━━━━┓\n┃ vs    ┃ int8/float/f ┃\n┃ float ┃ lex          ┃\n"
               "┡━━━━━━━╇━━━━━━━━━━━━━━┩\n│ 0.5   │ within       │\n│       │ tolerance    │\n"
               "│ 0.7   │ 9.30 ms      │\n└───────┴──────────────┘")
    flat = ("┏━━━━━━━━━━┳━━━━━━━━━━━━━━━━━┓\n┃ vs float ┃ int8/float/flex ┃\n"
            "┡━━━━━━━━━━╇━━━━━━━━━━━━━━━━━┩\n│ 0.5      │ within tolerance │\n"
            "│ 0.7      │ 10.31 ms        │\n└──────────┴─────────────────┘")
    assert module.normalized(wrapped) == module.normalized(flat)
    assert module.drifted_numbers(wrapped, flat) == []
    assert module.drifted_numbers(wrapped, flat.replace("0.7 ", "0.9 ")) != []
    assert module.normalized(wrapped) != module.normalized(flat.replace("within", "out of"))
    shown = module._elide([f"line {i}" for i in range(10)], {"head": "2", "from": "line 6",
                                                             "to": "line 7"})
    assert shown == ["line 0", "line 1", "…", "line 6", "line 7", "…"]
