"""Options every sub-command accepts, wherever `--config-dir` is written."""

from __future__ import annotations

import argparse


def common_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    # SUPPRESS keeps a value given before the sub-command from being reset to None.
    parent.add_argument(
        "--config-dir",
        default=argparse.SUPPRESS,
        help="registry and settings directory (or $SECURECAM_HOME)",
    )
    return parent
