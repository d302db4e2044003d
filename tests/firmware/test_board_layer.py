"""The firmware's board layer (firmware/src): what a compiler does not check.

Whether it compiles is checked by `make firmware-cross` (part of `make test`): the xtensa kit
compiles every file with a real xtensa-esp32-elf GCC against the real Arduino-ESP32 2.0.14
headers, the C files again against ESP-IDF 5.5 / mbedTLS 3.6, and the C++ files against the
real ESP-IDF 5.1 headers with tests/firmware/stubs standing in for the Arduino-ESP32 3.x API
(see tests/firmware/stubs/README.md). That replaced the g++ -fsyntax-only check against the
stubs that this file used to run. Here:

- every sc_* function it calls is declared in the core's headers and defined in its sources
  (the cross check compiles without linking, so it would not see a missing definition);
- the partition table parses, fits 4 MB flash, has no overlaps, nvs at 0x9000, app at 0x10000;
- the FrameSize -> framesize_t table in frame_sizes.cpp covers app/protocol/framesize.py;
- platformio.ini has env esp32cam with board esp32cam, framework arduino, a pinned platform;
- no log call formats a secret;
- the post-build merge script writes the documented offsets.
"""

from __future__ import annotations

import configparser
import itertools
import re
import runpy
import subprocess
from dataclasses import dataclass
from pathlib import Path

from app.protocol.framesize import FrameSize

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
SRC = FIRMWARE / "src"
CORE = FIRMWARE / "lib" / "securecam_core"
STUBS = Path(__file__).resolve().parent / "stubs"
FLASH_SIZE = 0x400000  # the AI-Thinker ESP32-CAM's 4 MB

BOARD_SOURCES = sorted([*SRC.glob("*.cpp"), *SRC.glob("*.c"), *SRC.glob("*.h")])
CORE_HEADERS = sorted((CORE / "include" / "securecam").glob("*.h"))
CORE_SOURCES = sorted((CORE / "src").glob("*.c"))

_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.DOTALL)
_STRING = re.compile(r'"(?:\\.|[^"\\\n])*"' + r"|'(?:\\.|[^'\\\n])'")
_CALL = re.compile(r"\b(sc_[a-z0-9_]+)\s*\(")


def code_only(text: str) -> str:
    """C/C++ source without comments and string literals (so words in them do not count)."""
    return _STRING.sub('""', _COMMENT.sub(" ", text))


def called_core_functions() -> dict[str, list[str]]:
    calls: dict[str, list[str]] = {}
    for path in BOARD_SOURCES:
        for name in _CALL.findall(code_only(path.read_text())):
            calls.setdefault(name, []).append(path.name)
    return calls


# ---- the core API --------------------------------------------------------------------


def test_board_layer_calls_only_functions_the_core_declares_and_defines():
    declared = set()
    for header in CORE_HEADERS:
        declared.update(_CALL.findall(code_only(header.read_text())))
    definitions = "\n".join(code_only(path.read_text()) for path in CORE_SOURCES)
    calls = called_core_functions()
    assert "sc_session_frame_next_chunk" in calls  # the scan sees the calls at all
    unknown = {name: files for name, files in calls.items() if name not in declared}
    assert not unknown, f"not declared in the core headers: {unknown}"
    undefined = [
        name for name in calls if not re.search(rf"\b{name}\s*\([^;{{]*\)\s*\{{", definitions)
    ]
    assert not undefined, f"declared but not defined in the core sources: {undefined}"


def test_board_layer_uses_the_session_api_the_protocol_needs():
    calls = called_core_functions()
    for name in (
        "sc_session_init",
        "sc_session_start",
        "sc_session_receive",
        "sc_session_status",
        "sc_session_poll",
        "sc_session_frame_begin",
        "sc_session_frame_next_chunk",
        "sc_session_close",
        "sc_session_transport_closed",
        "sc_session_timed_out",
        "sc_session_wipe",
        "sc_close_code_is_rejection",
        "sc_console_init",
        "sc_console_feed",
        "sc_console_idle",
        "sc_console_wifi_result",
        "sc_console_set_wifi_connected",
    ):
        assert name in calls, f"the board layer never calls {name}"


# ---- partitions ----------------------------------------------------------------------


@dataclass(frozen=True)
class Partition:
    name: str
    type: str
    subtype: str
    offset: int
    size: int

    @property
    def end(self) -> int:
        return self.offset + self.size


def _size(text: str) -> int:
    multiplier = {"K": 1024, "M": 1024 * 1024}.get(text[-1:].upper(), 1)
    return int(text[:-1] if multiplier > 1 else text, 0) * multiplier


def read_partitions(path: Path) -> list[Partition]:
    rows = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        fields = [field.strip() for field in line.split(",")]
        assert len(fields) >= 5, f"malformed partition row: {line!r}"
        name, ptype, subtype, offset, size = fields[:5]
        assert offset, f"{name}: give every offset explicitly"
        rows.append(Partition(name, ptype, subtype, int(offset, 0), _size(size)))
    return rows


def test_partition_table_fits_4mb_with_nvs_and_app_where_documented():
    table = read_partitions(FIRMWARE / "partitions.csv")
    by_name = {p.name: p for p in table}
    assert len(by_name) == len(table), "duplicate partition names"

    nvs = by_name["nvs"]
    assert (nvs.type, nvs.subtype, nvs.offset, nvs.size) == ("data", "nvs", 0x9000, 0x5000)
    otadata = by_name["otadata"]
    assert (otadata.type, otadata.subtype, otadata.offset, otadata.size) == (
        "data",
        "ota",
        0xE000,
        0x2000,
    )  # boot_app0.bin is written here
    app0, app1 = by_name["app0"], by_name["app1"]
    assert (app0.type, app0.subtype, app0.offset) == ("app", "ota_0", 0x10000)
    assert (app1.type, app1.subtype) == ("app", "ota_1")
    assert app0.size == app1.size >= 0x180000  # camera + Wi-Fi + mbedTLS, with room to grow

    ordered = sorted(table, key=lambda p: p.offset)
    assert ordered[0].offset >= 0x9000  # after the partition table at 0x8000..0x9000
    for before, after in itertools.pairwise(ordered):
        assert before.end <= after.offset, f"{before.name} overlaps {after.name}"
    assert ordered[-1].end <= FLASH_SIZE
    for p in table:
        assert p.size > 0
        alignment = 0x10000 if p.type == "app" else 0x1000
        assert p.offset % alignment == 0, f"{p.name} is not {alignment:#x}-aligned"


def test_flash_offsets_are_documented_consistently():
    for path in (FIRMWARE / "platformio.ini", FIRMWARE / "partitions.csv", FIRMWARE / "README.md"):
        text = path.read_text().lower()
        for offset in ("0x1000", "0x8000", "0xe000", "0x10000"):
            assert re.search(rf"\b{offset}\b", text), f"{path.name} does not mention {offset}"


# ---- frame sizes ---------------------------------------------------------------------

_FRAME_SIZE_ROW = re.compile(
    r"\{\s*(\d+)\s*,\s*FRAMESIZE_(\w+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*\"(\w+)\"\s*\}"
)


def test_frame_size_table_maps_every_wire_code_by_name():
    text = _COMMENT.sub(" ", (SRC / "frame_sizes.cpp").read_text())
    rows = _FRAME_SIZE_ROW.findall(text)
    table = {int(code): (name, int(w), int(h), label) for code, name, w, h, label in rows}
    assert len(table) == len(rows), "a wire code appears twice"
    expected = {fs.value: (fs.name, fs.width, fs.height, fs.name) for fs in FrameSize}
    assert table == expected
    # ... and every name exists in esp32-camera's framesize_t (as mirrored by the stub; the
    # real sensor.h is compiled against by make firmware-cross).
    enum = set(re.findall(r"\bFRAMESIZE_(\w+)", (STUBS / "sensor.h").read_text()))
    assert {name for name, *_ in table.values()} <= enum


# ---- PlatformIO ----------------------------------------------------------------------


def test_platformio_env_esp32cam():
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(FIRMWARE / "platformio.ini")
    env = ini["env:esp32cam"]
    assert env["board"] == "esp32cam"
    assert env["framework"] == "arduino"
    assert re.fullmatch(r"espressif32\s*@\s*\d+\.\d+\.\d+", env["platform"]), "pin the platform"
    assert env["board_build.partitions"] == "partitions.csv"
    assert (FIRMWARE / env["board_build.partitions"]).is_file()
    assert env["monitor_speed"] == "115200"
    flags = env["build_flags"].split()
    for flag in ("-DCORE_DEBUG_LEVEL=1", "-DBOARD_HAS_PSRAM", "-mfix-esp32-psram-cache-issue"):
        assert flag in flags
    assert env["lib_ldf_mode"] in ("chain+", "deep+")
    assert ini["platformio"]["default_envs"] == "esp32cam"


# ---- secrets -------------------------------------------------------------------------

_SECRET = re.compile(r"\b(wifi_pass|pass_|try_pass_|password|key_|psk)\b|\.key\b")


def test_log_calls_never_format_the_key_or_the_wifi_password():
    for path in BOARD_SOURCES:
        code = code_only(path.read_text())
        for args in re.findall(r"\bboard_log\s*\((.*?)\)\s*;", code, re.DOTALL):
            assert not _SECRET.search(args), f"{path.name}: board_log({args.strip()})"


# ---- the post-build merge script -----------------------------------------------------


def _load_merge_script() -> dict:
    # run_path, not an import: no __pycache__ written into firmware/scripts. Outside SCons
    # `Import` is undefined, so the script registers nothing.
    return runpy.run_path(str(FIRMWARE / "scripts" / "merge_image.py"))


class _FakeEnv:
    """The few SCons/PlatformIO environment calls merge_image.py makes."""

    def __init__(self, build: Path, framework: Path) -> None:
        self.vars = {
            "$BUILD_DIR": str(build),
            "${PROGNAME}": "firmware",
            "$PIOENV": "esp32cam",
            "$PYTHONEXE": "/penv/bin/python",
            "$OBJCOPY": "/packages/tool-esptoolpy/esptool.py",
        }
        self.extra = [
            ("0x1000", "$BUILD_DIR/bootloader.bin"),
            ("0x8000", "$BUILD_DIR/partitions.bin"),
            ("0xe000", str(framework / "boot_app0.bin")),
        ]

    def subst(self, text: str) -> str:
        for name, value in self.vars.items():
            text = text.replace(name, value)
        return text

    def get(self, name: str, default: object = None) -> object:
        return self.extra if name == "FLASH_EXTRA_IMAGES" else default

    def BoardConfig(self):  # PlatformIO's name
        return {"build.mcu": "esp32"}


def test_merge_script_writes_the_documented_offsets(tmp_path, monkeypatch):
    module = _load_merge_script()
    build, framework = tmp_path / "build", tmp_path / "framework"
    build.mkdir()
    framework.mkdir()
    for name in ("bootloader.bin", "partitions.bin", "firmware.bin"):
        (build / name).write_bytes(b"\xe9" + name.encode())
    (framework / "boot_app0.bin").write_bytes(b"otadata")
    commands = []

    def fake_run(command, **_kwargs):
        commands.append(command)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(module["subprocess"], "run", fake_run)
    module["after_build"]([], [], _FakeEnv(build, framework))

    assert (build / "boot_app0.bin").read_bytes() == b"otadata"  # securecam flash BUILD_DIR
    (command,) = commands
    assert command[:5] == ["/penv/bin/python", "/packages/tool-esptoolpy/esptool.py", "--chip",
                           "esp32", "merge_bin"]  # fmt: skip
    assert command[command.index("-o") + 1] == str(build / "securecam-esp32cam.bin")
    pairs = command[command.index("--flash_size") + 2 :]
    assert [(int(pairs[i], 16), Path(pairs[i + 1]).name) for i in range(0, len(pairs), 2)] == [
        (0x1000, "bootloader.bin"),
        (0x8000, "partitions.bin"),
        (0xE000, "boot_app0.bin"),
        (0x10000, "firmware.bin"),
    ]

    # Anything missing: no merge, and no exception into the build.
    (build / "partitions.bin").unlink()
    commands.clear()
    module["after_build"]([], [], _FakeEnv(build, framework))
    assert commands == []
