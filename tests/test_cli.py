"""The CLI frame: commands listed, version, no TensorFlow for --help and inspect."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import FIXTURES, run_cli

import graphport


def test_help_lists_the_commands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("inspect", "to-savedmodel", "tflite", "rewrite", "compare", "bench"):
        assert command in result.stdout


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"graphport {graphport.__version__}"


def _tensorflow_loaded_after(argv: list[str]) -> bool:
    code = (
        "import sys\n"
        f"sys.argv = {['graphport', *argv]!r}\n"
        "from graphport.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('TF-LOADED' if 'tensorflow' in sys.modules else 'TF-FREE')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert "TF-" in result.stdout, result.stderr
    return "TF-LOADED" in result.stdout


@pytest.mark.tf
def test_help_and_inspect_do_not_import_tensorflow() -> None:
    assert not _tensorflow_loaded_after(["--help"])
    assert not _tensorflow_loaded_after(["inspect", "--json", str(FIXTURES / "digits_cnn.pb")])
    # the probe itself can see TensorFlow when a command does load it
    assert _tensorflow_loaded_after(["inspect", "--json", "--check-tflite",
                                     str(FIXTURES / "cond_training.pb")])


def test_inspect_json_skips_the_cli_framework_and_says_the_same() -> None:
    """`inspect --json MODEL` (what a zoo scan runs) goes straight to the command: no typer or
    rich imported, the same report; a failure there is reported by the full CLI, its way."""
    model = str(FIXTURES / "digits_cnn.pb")
    fast = subprocess.run([sys.executable, "-X", "importtime", "-m", "graphport", "inspect",
                           "--json", model], capture_output=True, text=True, timeout=120)
    assert fast.returncode == 0, fast.stderr[-1000:]
    imported = {line.split("|")[-1].strip() for line in fast.stderr.splitlines()}
    assert "typer" not in imported and "rich" not in imported
    full = subprocess.run([sys.executable, "-c", "import sys; from graphport.cli.app import main; "
                           f"sys.argv = ['graphport', 'inspect', {model!r}, '--json']; main()"],
                          capture_output=True, text=True, timeout=120)
    assert full.returncode == 0 and full.stdout == fast.stdout
    missing = run_cli("inspect", "--json", str(FIXTURES / "nothing-here.pb"))
    assert missing.returncode == 2 and missing.stderr.startswith("error: ")
    assert json.loads(missing.stdout)["exit_code"] == 2


def test_usage_error_exits_2() -> None:
    result = run_cli("inspect")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_api_is_importable_without_tensorflow() -> None:
    code = "import sys, graphport; graphport.inspect_model; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False"


def test_one_mode_option_with_its_shortcuts() -> None:
    help_text = run_cli("tflite", "--help", env={"COLUMNS": "120"}).stdout
    assert "--mode" in help_text and "float32|fp16|dynamic|int8|int16x8" in help_text
    both = run_cli("tflite", FIXTURES / "digits_cnn.pb", "--mode", "fp16", "--int8")
    assert both.returncode == 2 and "choose one mode, not fp16 and int8" in both.stderr
    same = run_cli("tflite", FIXTURES / "digits_cnn.pb", "--mode", "int8", "--int8",
                   "-o", "/nonexistent/x.tflite")
    assert same.returncode == 2 and "choose one mode" not in same.stderr  # an alias agrees


def test_one_name_for_skipping_verification() -> None:
    for command in ("to-savedmodel", "tflite"):
        assert "--no-verify" in run_cli(command, "--help").stdout
        # the old tflite spelling is still accepted (the missing file is the error, not it)
        result = run_cli(command, "missing.pb", "--no-parity")
        assert result.returncode == 2 and "missing.pb" in result.stderr, result.stderr


def test_rewrite_list_json_describes_every_pass() -> None:
    result = run_cli("rewrite", "--list", "--json")
    passes = {p["name"]: p for p in json.loads(result.stdout)}
    assert passes["fold_constants"]["params"] == {"max_elements": 1 << 24,
                                                  "max_input_bytes": 1 << 22}
    assert passes["nms_v4"]["targets"] == ["tflite"]
    assert passes["strip_training_leftovers"]["targets"] == ["savedmodel", "tflite"]
