"""Start the desktop app: say so at once if there is no display, else open the window.

Only the standard library loads before that check. With a demo, its cameras' rooms start
rendering on another thread before Qt and the window's modules load (a third of a second), so
the first frame waits for neither alone.
"""

from __future__ import annotations

import argparse
import os
import sys


def run_app(args: argparse.Namespace) -> int:
    """Open the window (with `args.demo` demo cameras) and run until it is closed; 1 without a
    display, saying how to run headless."""
    if no_display():
        print(
            "securecam: error: no display to open the window on (DISPLAY and WAYLAND_DISPLAY "
            "are unset).\nWithout a display, run the receiver headless, for example:\n"
            "  securecam serve --demo 1 --stats-json -",
            file=sys.stderr,
        )
        return 1
    if args.demo:
        from app.sim.demo import render_rooms_early

        render_rooms_early(args.demo)
    from app.ui.session import open_window

    return open_window(args)


def no_display() -> bool:
    """True on Linux without X11 or Wayland, unless a Qt platform (e.g. offscreen) is forced."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return False
    return not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
