"""The `securecam` entry point (app/cli.py): every option documented with its default, quick
commands quiet unless -v, a config directory that is a file refused in one line, and a
start-up that loads none of the heavy libraries a command does not run on."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from enum import Enum

import pytest

from app.cli import PROGRESS_COMMANDS, build_parser, main
from tests.waiting import scaled


def securecam(*args: str, home=None, env=None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **(env or {})}
    if home is not None:
        environment["SECURECAM_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        text=True,
        timeout=scaled(60),
        env=environment,
    )


# -- every option has help text that shows its default ----------------------------------------


def parsers(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """`parser` and every sub-command's parser under it, with the words that reach each."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from parsers(child, (*path, name))


def shown(default: object) -> str:
    """A default as the help should show it: what a user would type."""
    if isinstance(default, Enum):
        return default.name.lower()
    if isinstance(default, float):
        return f"{default:g}"
    return str(default)


def expanded_help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    return " ".join(parser._get_formatter()._expand_help(action).split())


def test_the_walk_finds_every_command_and_action():
    found = {" ".join(path) for path, _ in parsers(build_parser())}
    assert {"serve", "sim", "flash", "provision", "device list", "viewer add", "share renew"} <= (
        found
    )


def test_every_option_has_help_and_the_help_shows_a_default_other_than_none_or_off():
    """Flags (options taking no value) have no default to show: absent is off. Every other
    option with a default, None and False aside, names it after the word "default"."""
    problems = []
    for path, parser in parsers(build_parser()):
        where = " ".join(("securecam", *path))
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            name = "/".join(action.option_strings) or action.dest
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    if not choice.help:
                        problems.append(f"{where} {choice.dest}: no help")
                continue
            if not action.help or action.help == argparse.SUPPRESS:
                problems.append(f"{where} {name}: no help")
                continue
            default = action.default
            if action.nargs == 0 or any(default is v for v in (None, False, argparse.SUPPRESS)):
                continue
            text = expanded_help(parser, action)
            value = re.escape(shown(default))
            if "default" not in text or not re.search(rf"(?<![\w.-]){value}(?![\w-])", text):
                problems.append(f"{where} {name}: help does not show its default {shown(default)}")
    assert problems == []


def test_the_walk_catches_an_option_without_help_or_default():
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-connections", type=int, default=64)
    parser.add_argument("--url", default="ws://x/camera", help="receiver URL")
    quiet = parser.add_argument("--quiet", action="store_true", help="no output")
    (_, root), *_ = parsers(parser)
    missing = [a for a in root._actions if a.help is None]
    assert [a.dest for a in missing] == ["max_connections"]
    url = root._actions[2]
    assert "default" not in expanded_help(root, url)
    assert quiet.nargs == 0  # a flag: nothing to show


# -- quiet commands ---------------------------------------------------------------------------


def test_the_rule_names_the_long_running_commands():
    assert {"serve", "sim", "flash", "provision"} == PROGRESS_COMMANDS
    top = {path[0] for path, _ in parsers(build_parser()) if path}
    assert top > PROGRESS_COMMANDS


def test_quick_commands_log_nothing_on_stderr_without_v(tmp_path):
    for argv in (
        ["device", "add", "cam1"],
        ["device", "set", "cam1", "--no-adapt", "--pin-size", "svga"],
        ["device", "list"],
        ["device", "show", "cam1"],
        ["device", "rename", "cam1", "cam2"],
        ["device", "remove", "cam2"],
    ):
        result = securecam(*argv, home=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stderr == "", argv


def test_v_before_or_after_the_command_shows_the_info_lines(tmp_path):
    before = securecam("-v", "device", "add", "cam1", home=tmp_path)
    after = securecam("device", "set", "cam1", "--no-adapt", "-v", home=tmp_path)
    assert before.returncode == after.returncode == 0
    assert re.search(r" INFO app\.devices\.registry: added device cam1 \(", before.stderr)
    assert " INFO app.devices.registry: device cam1: quality adaptation off" in after.stderr


def test_quick_commands_still_show_warnings(tmp_path, capsys):
    """What `device list` set up lets the app's warnings through, not its INFO records."""
    assert main(["--config-dir", str(tmp_path), "device", "list"]) == 0
    capsys.readouterr()
    logging.getLogger("app.devices.registry").warning("a warning during a quick command")
    logging.getLogger("app.devices.registry").info("an info line")
    err = capsys.readouterr().err
    assert "WARNING app.devices.registry: a warning during a quick command" in err
    assert "an info line" not in err


# -- a config directory that is a file ----------------------------------------------------------


def test_config_dir_naming_a_file_is_one_line_before_anything_runs(tmp_path, capsys):
    file = tmp_path / "notes.txt"
    file.write_text("not a directory")
    for argv, expected in (
        (["--config-dir", str(file), "device", "list"], f"--config-dir {file} is a file"),
        (["device", "add", "cam1", "--config-dir", str(file)], f"--config-dir {file} is a file"),
        (["--config-dir", str(file / "sub"), "device", "list"], f"is inside {file}, which is"),
        (["--config-dir", str(file)], f"--config-dir {file} is a file"),  # the window
    ):
        assert main(argv) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert err.count("\n") == 1 and err.startswith("securecam: error: "), err
        assert expected in err and "not a directory: give a directory" in err
    assert file.read_text() == "not a directory"


def test_securecam_home_naming_a_file_says_so(tmp_path):
    file = tmp_path / "home"
    file.write_text("")
    result = securecam("device", "list", env={"SECURECAM_HOME": str(file)})
    assert result.returncode == 2
    assert result.stderr == (
        f"securecam: error: $SECURECAM_HOME ({file}) is a file, not a directory: give a "
        "directory (a missing one is created)\n"
    )


def test_a_missing_config_dir_is_created_as_before(tmp_path, capsys):
    home = tmp_path / "new" / "home"
    assert main(["--config-dir", str(home), "device", "add", "cam1"]) == 0
    assert (home / "devices.json").is_file()


def test_version_is_printed_on_request(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert re.fullmatch(r"securecam \S+\n", capsys.readouterr().out)


# -- start-up: what the quick paths import ----------------------------------------------------

HEAVY = ("PySide6", "qasync", "esptool", "numpy", "websockets", "Crypto", "aiohttp", "cryptography")

# Runs in a fresh interpreter: each step's newly loaded heavy packages, as JSON.
_PROBE = """
import contextlib, io, json, sys
from app.cli import build_parser, main
HEAVY = set(sys.argv[1].split(","))
def heavy():
    return sorted({name.split(".")[0] for name in sys.modules} & HEAVY)
def run(*argv):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            return main(list(argv))
        except SystemExit as exit:
            return exit.code
report = {"import": heavy()}
run("--help")
report["--help"] = heavy()
for step in json.loads(sys.argv[2]):
    code = run(*step)
    report[" ".join(step)] = heavy() if code == 0 else f"exit code {code}"
print(json.dumps(report))
"""


def probe(steps: list[list[str]], home) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, ",".join(HEAVY), json.dumps(steps)],
        capture_output=True,
        text=True,
        timeout=scaled(60),
        env={**os.environ, "SECURECAM_HOME": str(home)},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_help_and_every_commands_help_load_no_heavy_library(tmp_path):
    helps = [[*path, "--help"] for path, _ in parsers(build_parser()) if path]
    report = probe(helps, tmp_path)
    assert report == {key: [] for key in report}
    assert len(report) == len(helps) + 2


def test_device_and_viewer_commands_load_no_heavy_library(tmp_path):
    steps = [
        ["device", "add", "cam1"],
        ["device", "list"],
        ["device", "show", "cam1", "--key"],
        ["device", "set", "cam1", "--pin-size", "vga", "--allow-plain"],
        ["device", "rename", "cam1", "porch"],
        ["viewer", "add", "ann", "--all"],
        ["viewer", "list"],
        ["device", "remove", "porch"],
    ]
    report = probe(steps, tmp_path)
    assert report == {key: [] for key in report}


def test_the_probe_sees_a_heavy_library_when_one_is_loaded(tmp_path):
    report = probe([["share", "info"]], tmp_path)  # the certificate needs `cryptography`
    assert "cryptography" in report["share info"]
