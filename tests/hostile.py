"""Running the real CLI with its peak memory and CPU measured from outside, by the kernel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT

# A parent of its own for the measured command, so its figures are not mixed with those of
# every other child this test session has waited for.
_WRAPPER = """
import json, resource, subprocess, sys
r = subprocess.run(sys.argv[1:], capture_output=True, text=True)
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": r.returncode, "out": r.stdout, "err": r.stderr,
                  "peak_kb": u.ru_maxrss, "cpu": u.ru_utime + u.ru_stime}))
"""


@dataclass(frozen=True)
class Measured:
    returncode: int
    stdout: str
    stderr: str
    peak_mb: float  # the largest resident size of the command or any process it waited for
    cpu_seconds: float


def run_measured(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Measured:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHER_")}
    full_env.update(env or {})
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, sys.executable, "-m", "watcher", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=Path(ROOT),
        check=True,
    )
    r = json.loads(done.stdout)
    return Measured(r["rc"], r["out"], r["err"], r["peak_kb"] / 1024, r["cpu"])
