"""Widgets talk to Qt service objects, never to sockets, serial ports or crypto themselves."""

import ast
from pathlib import Path

UI = Path(__file__).resolve().parents[2] / "app" / "ui"

# The libraries, and the modules of ours that only wrap them; each would also drag its stack
# into every window start-up.
FORBIDDEN = (
    "websockets",
    "serial",
    "esptool",
    "Crypto",
    "app.receiver.server",
    "app.protocol.noise",
    "app.wsio",
)


def imported_modules(path: Path) -> list[str]:
    modules = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules.append(node.module or "")
    return modules


def test_no_widget_imports_sockets_serial_ports_or_crypto():
    found = [
        f"{path.relative_to(UI)} imports {module}"
        for path in sorted(UI.rglob("*.py"))
        for module in imported_modules(path)
        if any(module == name or module.startswith(f"{name}.") for name in FORBIDDEN)
    ]
    assert found == []


def test_the_check_sees_an_import_inside_a_function(tmp_path):
    module = tmp_path / "widget.py"
    module.write_text("def f():\n    from websockets.asyncio.client import connect\n")
    assert imported_modules(module) == ["websockets.asyncio.client"]
