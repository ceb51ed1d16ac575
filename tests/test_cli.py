"""The CLI frame: commands listed, version, no TensorFlow for --help and inspect."""

from __future__ import annotations

import subprocess
import sys

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


def test_help_and_inspect_do_not_import_tensorflow() -> None:
    assert not _tensorflow_loaded_after(["--help"])
    assert not _tensorflow_loaded_after(["inspect", "--json", str(FIXTURES / "digits_cnn.pb")])
    # the probe itself can see TensorFlow when a command does load it
    assert _tensorflow_loaded_after(["inspect", "--json", "--check-tflite",
                                     str(FIXTURES / "cond_training.pb")])


def test_usage_error_exits_2() -> None:
    result = run_cli("inspect")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_api_is_importable_without_tensorflow() -> None:
    code = "import sys, graphport; graphport.inspect_model; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False"
