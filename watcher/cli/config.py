"""`watcher config schema`: the config's JSON Schema, for editors and CI."""

from __future__ import annotations

import argparse
import sys

from watcher.cli.common import EXIT_OK


def cmd_config(args: argparse.Namespace) -> int:
    from watcher.config.schema import schema_text

    sys.stdout.write(schema_text())
    return EXIT_OK
