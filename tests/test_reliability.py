"""Every bad input gets a clear answer from every command, nothing half-written is left behind
(errors, full disks, Ctrl-C), and no command runs a graph's file/network/Python ops unasked."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, malformed_graphs, run_cli

from graphport.errors import ConversionError, UserError
from graphport.spec.options import VerifySpec

COMMANDS = {
    "inspect": lambda model, out: ["inspect", model],
    "to-savedmodel": lambda model, out: ["to-savedmodel", model, "-o", out / "sm"],
    "tflite": lambda model, out: ["tflite", model, "-o", out / "m.tflite"],
}


def _corpus(tmp: Path, mtcnn: Path, saved_model: Path) -> list[tuple[str, Path, str]]:
    """(case, path, message) for bad model files, generated from real bytes where possible."""
    tmp.mkdir(parents=True, exist_ok=True)
    data = mtcnn.read_bytes()
    rng = np.random.default_rng(11)
    files = {"empty": (b"", "is empty"),
             "random": (rng.bytes(2048), "not a TensorFlow GraphDef"),
             "syntax.pbtxt": (b'node { name: "x" op: "Placeholder" attr {', "invalid text"),
             "unfrozen": ((FIXTURES / "unfrozen.pb").read_bytes(), "not frozen"),
             "custom_op.pbtxt": ((FIXTURES / "custom_op.pbtxt").read_bytes(),
                                 "does not know: GraphportTestCustomOp")}
    for point in (0.05, 0.3, 0.7, 0.99):
        files[f"truncated_{point}"] = (data[: int(len(data) * point)], "not a TensorFlow GraphDef")
    cases = []
    for name, (content, message) in files.items():
        path = tmp / name
        path.write_bytes(content)
        cases.append((name, path, message))
    for name, (path, node) in malformed_graphs(tmp / "malformed").items():
        cases.append((f"malformed_{name}", path, f"the graph is malformed: {node}"))
    not_a_model = tmp / "plain_dir"
    not_a_model.mkdir()
    cases += [("saved_model.pb", saved_model / "saved_model.pb", "pass the SavedModel directory"),
              ("directory", not_a_model, "not a SavedModel"),
              ("missing", tmp / "missing.pb", "no such file")]
    return cases


def _assert_clean_failure(result: subprocess.CompletedProcess[str], code: int, message: str,
                          out: Path) -> None:
    lines = result.stderr.splitlines()
    assert result.returncode == code, (result.returncode, result.stderr)
    assert lines and lines[0].startswith("error: "), lines
    assert message in result.stderr, (message, lines)
    assert all(line.startswith(("error: ", "hint: ")) for line in lines), lines
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in out.iterdir()) == [], "output left behind"


@pytest.mark.tf
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_bad_model_files(command: str, tmp_path: Path, mtcnn: Path,
                         digits_savedmodel: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for case, path, message in _corpus(tmp_path / "corpus", mtcnn, digits_savedmodel):
        if command == "inspect" and (case in ("unfrozen", "custom_op.pbtxt")
                                     or case.startswith("malformed_")):
            continue  # inspect reports these as findings (test_inspect, test_output_safety)
        if command != "inspect" and case == "saved_model.pb":
            message = "SavedModel's saved_model.pb"
        result = run_cli(*COMMANDS[command](path, out))
        _assert_clean_failure(result, 2, message, out)
        assert str(path) in result.stderr.splitlines()[0] or case in (
            "unfrozen", "custom_op.pbtxt") or case.startswith("malformed_")


@pytest.mark.tf
def test_bad_options(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    pyramid = FIXTURES / "pyramid.pb"
    np.save(tmp_path / "bad_shape.npy", np.zeros((4, 4), np.float32))
    np.savez(tmp_path / "archive.npz", image=np.zeros((8, 8, 3), np.float32))
    cases = [
        (["to-savedmodel", pyramid, "--inputs", "imag"], "no node named 'imag'", "image"),
        (["to-savedmodel", pyramid, "--outputs", "pyramidd"], "no node named 'pyramidd'",
         "pyramid"),
        (["to-savedmodel", pyramid, "--set", "min_size=big"], "is not a number", ""),
        (["to-savedmodel", pyramid, "--set", "thresholds=1,2"], "value has shape [2]", ""),
        (["to-savedmodel", pyramid, "--set", f"thresholds=@{tmp_path / 'bad_shape.npy'}"],
         "value has shape [4, 4]", ""),
        (["to-savedmodel", pyramid, "--set", "min_size"], "expected NAME=VALUE", ""),
        (["to-savedmodel", pyramid, "--sample", f"image={tmp_path / 'archive.npz'}"],
         "must hold one array (.npy), not an archive", ""),
        (["to-savedmodel", pyramid, "--input-shapes", "image:1,2,3,4"], "rank 4 given", ""),
        (["to-savedmodel", pyramid, "--input-shapes", "image:8,8,4"], "contradicts", ""),
        (["tflite", FIXTURES / "digits_cnn.pb", "--int8"], "needs calibration data", ""),
        (["tflite", FIXTURES / "digits_cnn.pb", "--int8", "--calib", tmp_path / "bad_shape.npy"],
         "not a stack of inputs", ""),
        (["tflite", FIXTURES / "digits_cnn.pb", "--int8", "--calib", out], "no images", ""),
        (["tflite", FIXTURES / "digits_cnn.pb", "--io", "uint8"], "--io needs --int8", ""),
        (["tflite", FIXTURES / "digits_cnn.pb", "--input-shapes", "input:100000,28,28,1"],
         "generated verification inputs would take about", "--parity-samples"),
        (["tflite", FIXTURES / "digits_cnn.pb", "--int8", "--calib", "random",
          "--input-shapes", "input:100000,28,28,1"], "--calib random would take about",
         "--calib-samples"),
    ]
    for args, message, suggestion in cases:
        target = ["-o", out / "result"]
        result = run_cli(*args, *target, memory=12 << 30)
        _assert_clean_failure(result, 2, message, out)
        assert suggestion in result.stderr


@pytest.mark.tf
def test_output_paths(tmp_path: Path) -> None:
    pyramid = FIXTURES / "pyramid.pb"
    missing_dir = run_cli("to-savedmodel", pyramid, "-o", tmp_path / "nope" / "sm")
    assert missing_dir.returncode == 2 and "does not exist" in missing_dir.stderr
    existing = tmp_path / "model.tflite"
    existing.write_bytes(b"keep me")
    again = run_cli("tflite", pyramid, "--set", "min_size=20", "-o", existing)
    assert again.returncode == 2 and "already exists" in again.stderr
    assert "--overwrite" in again.stderr and existing.read_bytes() == b"keep me"


def _as_nobody(command: list[str], tmp_path: Path) -> list[str]:
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to test permissions as root"
    for directory in (tmp_path, *tmp_path.parents):
        if directory in (Path("/tmp"), Path("/")):
            break
        directory.chmod(directory.stat().st_mode | 0o005)
    return [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]


@pytest.mark.tf
def test_unwritable_output_directory(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    command = _as_nobody([sys.executable, "-m", "graphport", "to-savedmodel",
                          str(FIXTURES / "cond_training.pb"), "--set", "is_training=false",
                          "-o", str(locked / "sm")], tmp_path)
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    assert "is not writable" in result.stderr and list(locked.iterdir()) == []


def test_file_too_large_for_protobuf(tmp_path: Path) -> None:
    huge = tmp_path / "huge.pb"
    with huge.open("wb") as handle:  # sparse: costs no disk
        handle.truncate(2**31 + 10)
    result = run_cli("inspect", huge)
    assert result.returncode == 2 and "over protobuf's 2 GiB limit" in result.stderr


@pytest.mark.tf
def test_disk_full_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from graphport.commands.tflite import convert_tflite

    def no_space(self: Path, data: bytes) -> int:
        self.write_text("partial")  # some bytes land before the disk fills up
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", no_space)
    with pytest.raises(ConversionError, match="No space left on device"):
        convert_tflite(FIXTURES / "resnet_v2_small.pb", tmp_path / "r.tflite",
                       verify=VerifySpec(enabled=False))
    assert list(tmp_path.iterdir()) == []


def _interrupt(args: list[str], cwd: Path, ready: Callable[[], bool]) -> tuple[int, str]:
    """Ctrl-C once ``ready``: the exit code and the end of stderr (for a failure's message)."""
    process = subprocess.Popen([sys.executable, "-m", "graphport", *map(str, args)], cwd=cwd,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not ready() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the command finished before it could be interrupted"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=300)
    return process.returncode, stderr[-2000:]


def test_ctrl_c_that_a_library_turns_into_another_error_still_exits_130(
        monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    """Measured under load: a Ctrl-C while TensorFlow loads a SavedModel came out of its C++
    code as RuntimeError("... MISMATCH of original and normalized active exception types ...
    REPLACED BY KeyboardInterrupt") and the CLI reported an internal error, exit code 1."""
    from graphport.cli import app as cli

    def interrupted_inside_a_library(*args: object, **kwargs: object) -> int:
        try:
            cli._on_ctrl_c(signal.SIGINT, None)  # what the signal does
        except KeyboardInterrupt:
            raise RuntimeError("MISMATCH of original and normalized active exception types: "
                               "ORIGINAL InvalidArgumentError REPLACED BY KeyboardInterrupt"
                               ) from None
        return 0

    monkeypatch.setattr(cli, "app", interrupted_inside_a_library)
    monkeypatch.setattr(cli, "_INTERRUPTED", [])
    monkeypatch.setattr(cli, "use_cli_terms", lambda: None)  # the process-wide switch stays
    monkeypatch.setattr(cli.native_log, "divert_native_output", lambda: None)
    monkeypatch.setattr(sys, "argv", ["graphport", "to-savedmodel", "g.pb"])
    try:
        with pytest.raises(SystemExit) as exited:
            cli.main()
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    assert exited.value.code == 130
    stderr = capfd.readouterr().err
    assert "interrupted; nothing written" in stderr and "internal error" not in stderr


@pytest.mark.tf
def test_ctrl_c_during_savedmodel_export_leaves_nothing(tmp_path: Path, mtcnn: Path) -> None:
    code, stderr = _interrupt(["to-savedmodel", mtcnn, "--inputs", "input,thresholds", "--set",
                               "min_size=20", "--set", "factor=0.9", "-o", "sm"], tmp_path,
                              lambda: any(p.name.startswith(".sm.tmp-")
                                          for p in tmp_path.iterdir()))
    assert code == 130, stderr
    assert list(tmp_path.iterdir()) == [], stderr


@pytest.mark.tf
def test_ctrl_c_during_tflite_conversion_leaves_nothing(tmp_path: Path) -> None:
    code, stderr = _interrupt(["tflite", FIXTURES / "resnet_v2_small.pb", "--int8", "--calib",
                               "random", "--calib-samples", "400", "-o", "r.tflite"], tmp_path,
                              lambda: time.sleep(4) or True)
    assert code == 130, stderr
    assert list(tmp_path.iterdir()) == [], stderr


@pytest.mark.tf
@pytest.mark.parametrize("command", [
    ["to-savedmodel", "-o", "sm"],
    ["to-savedmodel", "-o", "sm", "--no-verify"],
    ["tflite", "-o", "m.tflite"],
    ["tflite", "-o", "m.tflite", "--int8", "--calib", "random", "--calib-samples", "2"],
    ["inspect", "--check-tflite"],
])
def test_write_file_graph_never_runs_without_the_flag(command: list[str], tmp_path: Path
                                                      ) -> None:
    result = run_cli(command[0], FIXTURES / "unsafe_writefile.pb", *command[1:], cwd=tmp_path)
    assert not (tmp_path / "graphport_unsafe_marker.txt").exists()
    if command[0] == "inspect":
        assert result.returncode == 0 and "not checked" in result.stdout
    else:
        assert result.returncode == 2
        assert "write_marker (WriteFile: file filename='graphport_unsafe_marker.txt')" \
            in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_user_error_types_map_to_exit_codes() -> None:
    assert UserError("x").exit_code == 2 and ConversionError("x").exit_code == 1


def test_outputs_get_the_usual_permissions(tmp_path: Path) -> None:
    from graphport.outputs import atomic_path

    umask = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "file.bin", overwrite=False, directory=False) as temp:
            temp.write_bytes(b"x")
        with atomic_path(tmp_path / "dir", overwrite=False, directory=True) as temp:
            (temp / "inside").write_text("y")
    finally:
        os.umask(umask)
    assert (tmp_path / "file.bin").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "dir").stat().st_mode & 0o777 == 0o755
