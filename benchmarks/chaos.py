"""Chaos: three `watcher run` processes on one PostgreSQL while stories are published at a
steady rate on feeds that answer slowly, and at random moments one of: SIGKILL of a daemon
(then a fresh start), SIGSTOP for 60 s then SIGCONT, a graceful restart (SIGTERM, start
again), or a restart of PostgreSQL. Prints per round and in total: stories published, lost,
alerted twice, the slowest publish-to-alert, and processes left behind.

Goal over 20 rounds: 0 lost, at most one double per kill, slowest under 60 s, 0 left behind.

    .venv/bin/python benchmarks/chaos.py --rounds 20

By default the script runs its own PostgreSQL cluster (initdb as the `postgres` user, on
--port), so restarting the database disturbs nobody else's; `--database-url URL
--db-restart-cmd CMD` uses an existing one instead, e.g. the machine's cluster with
CMD = 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main restart'.
Everything runs with the shipped defaults (`polling.lease` 20 s, `shutdown_grace` 8 s).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.procs import alive, family  # noqa: E402
from benchmarks.receiver import Receiver  # noqa: E402
from tests.conftest import FeedServer  # noqa: E402  a loopback feed server with latency

FAULTS = ("kill", "stop", "restart", "db")


@dataclass
class Round:
    fault: str
    published: list[int] = field(default_factory=list)
    left_behind: int = 0
    exit_codes: list[int | None] = field(default_factory=list)


@contextlib.contextmanager
def private_cluster(port: int) -> Iterator[tuple[str, list[str]]]:
    """A throwaway PostgreSQL cluster: (database URL, restart command)."""
    bindir = Path(subprocess.check_output(["pg_config", "--bindir"], text=True).strip())
    data = Path(tempfile.mkdtemp(prefix="watcher-chaos-pg-"))
    shutil.chown(data, "postgres", "postgres")
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    ctl = [*as_pg, str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l", str(data / "log")]
    opts = ["-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1"]
    subprocess.run(
        [*as_pg, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    subprocess.run([*ctl, *opts, "start"], check=True, capture_output=True)
    try:
        subprocess.run(
            [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "w"],
            check=True,
        )
        yield (
            f"postgresql+psycopg://postgres@127.0.0.1:{port}/w",
            [*ctl, *opts, "-m", "fast", "restart"],
        )
    finally:
        subprocess.run([*ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


class Chaos:
    def __init__(self, args: argparse.Namespace, db_url: str, restart_db: list[str]) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.restart_db = restart_db
        self.tmp = Path(tempfile.mkdtemp(prefix="watcher-chaos-"))
        self.server = FeedServer()
        self.server.thread.start()
        self.receiver = Receiver()
        self.items: dict[int, list[int]] = {f: [] for f in range(args.feeds)}
        self.published_at: dict[int, float] = {}
        self.lock = threading.Lock()
        self.next_story = 0
        self.current: Round | None = None
        for f in range(args.feeds):
            self._serve(f)
            self.server.routes[f"/f{f}.xml"].delay = args.latency
        feeds = "\n".join(
            f'  - {{name: f{f}, url: "{self.server.url(f"/f{f}.xml")}", extract: false,'
            f" interval: {args.interval:g}s}}"
            for f in range(args.feeds)
        )
        self.cfg = self.tmp / "w.yaml"
        self.cfg.write_text(
            f"""
database: {{url: "{db_url}", auto_upgrade: false}}
polling:
  allow_private_addresses: true
  workers: 1
  timeout: 10s
  min_interval: 1s
  per_host: {args.feeds}
  concurrency: {args.feeds}
  host_gap: 10ms
feeds:
{feeds}
notifiers:
  hook: ["{self.receiver.url}"]
rules:
  - {{name: chaos, any: [Karabakh], notify: [hook]}}
""",
            encoding="utf-8",
        )
        subprocess.run(
            [sys.executable, "-m", "watcher", "db", "upgrade", "-c", str(self.cfg)],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        self.procs: list[subprocess.Popen[bytes]] = [self.start(i) for i in range(3)]

    def _serve(self, feed: int) -> None:
        items = "".join(
            f"<item><title>Karabakh story {i:05d}</title><guid>story-{i}</guid>"
            f"<description>Karabakh story number {i}.</description></item>"
            for i in reversed(self.items[feed][-40:])
        )
        self.server.add(
            f"/f{feed}.xml",
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>f{feed}</title>'
            f"{items}</channel></rss>",
            "application/rss+xml",
        )
        self.server.routes[f"/f{feed}.xml"].delay = self.args.latency

    def start(self, slot: int) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHER_")}
        with (self.tmp / f"p{slot}.log").open("ab") as err:
            return subprocess.Popen(
                [sys.executable, "-m", "watcher", "run", "-c", str(self.cfg)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )

    def publish_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            with self.lock:
                n = self.next_story
                self.next_story += 1
                feed = self.rng.randrange(self.args.feeds)
                self.items[feed].append(n)
                self._serve(feed)
                self.published_at[n] = time.monotonic()
                if self.current is not None:
                    self.current.published.append(n)
            stop.wait(self.args.publish_every)

    def fault(self, rnd: Round) -> None:
        slot = self.rng.randrange(3)
        proc = self.procs[slot]
        if rnd.fault == "kill":
            kin = family(proc.pid)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            time.sleep(5)
            rnd.left_behind = sum(alive(p, s) for p, s in kin.items())
            self.procs[slot] = self.start(slot)
        elif rnd.fault == "stop":
            proc.send_signal(signal.SIGSTOP)
            time.sleep(60)
            proc.send_signal(signal.SIGCONT)
        elif rnd.fault == "restart":
            kin = family(proc.pid)
            proc.send_signal(signal.SIGTERM)
            try:
                rnd.exit_codes.append(proc.wait(timeout=10))
            except subprocess.TimeoutExpired:
                rnd.exit_codes.append(None)  # docker stop would SIGKILL it now
                proc.kill()
                proc.wait()
            time.sleep(5)
            rnd.left_behind = sum(alive(p, s) for p, s in kin.items())
            self.procs[slot] = self.start(slot)
        else:
            subprocess.run(self.restart_db, check=True, capture_output=True)

    def run(self) -> list[Round]:
        stop = threading.Event()
        publisher = threading.Thread(target=self.publish_forever, args=(stop,), daemon=True)
        publisher.start()
        time.sleep(self.args.warmup)
        rounds = []
        faults = list(FAULTS)
        for i in range(self.args.rounds):
            if i % len(faults) == 0:
                self.rng.shuffle(faults)
            rnd = Round(faults[i % len(faults)])
            with self.lock:
                self.current = rnd
            time.sleep(self.rng.uniform(2, self.args.round_seconds / 2))
            self.fault(rnd)
            time.sleep(self.rng.uniform(2, self.args.round_seconds / 2))
            rounds.append(rnd)
            print(f"round {i + 1}: {rnd.fault} done", file=sys.stderr, flush=True)
        with self.lock:
            self.current = None
        stop.set()
        publisher.join()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(self.alerted()) < len(self.published_at):
            time.sleep(0.5)
        time.sleep(5)
        return rounds

    def alerted(self) -> dict[int, list[float]]:
        out: dict[int, list[float]] = {}
        for a in list(self.receiver.arrivals):
            n = int(a.title.rsplit(" ", 1)[1])
            out.setdefault(n, []).append(a.mono)
        return out

    def shutdown(self) -> int:
        """Stop every daemon; how many of their processes are left 5 s later."""
        kin: dict[int, str] = {}
        for p in self.procs:
            kin.update(family(p.pid))
            p.send_signal(signal.SIGCONT)
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        time.sleep(5)
        return sum(alive(p, s) for p, s in kin.items())


def report(chaos: Chaos, rounds: list[Round], left_at_end: int) -> None:
    alerted = chaos.alerted()
    head = ("round", "fault", "published", "lost", "twice", "slowest s", "left behind", "exit")
    rows = [head]
    total = Counter[str]()
    slowest_all = 0.0
    for i, r in enumerate(rounds, 1):
        lost = sum(1 for n in r.published if n not in alerted)
        twice = sum(1 for n in r.published if len(alerted.get(n, ())) > 1)
        delays = [min(alerted[n]) - chaos.published_at[n] for n in r.published if n in alerted]
        slowest = max(delays, default=0.0)
        slowest_all = max(slowest_all, slowest)
        total.update(published=len(r.published), lost=lost, twice=twice, left=r.left_behind)
        codes = ",".join(str(c) for c in r.exit_codes) or "-"
        rows.append(
            (str(i), r.fault, str(len(r.published)), str(lost), str(twice), f"{slowest:.1f}",
             str(r.left_behind), codes)
        )  # fmt: skip
    everything = list(chaos.published_at)
    total_lost = sum(1 for n in everything if n not in alerted)
    total_twice = sum(1 for n in everything if len(alerted.get(n, ())) > 1)
    delays = [min(alerted[n]) - chaos.published_at[n] for n in everything if n in alerted]
    rows.append(
        ("all", f"{len(rounds)} rounds", str(len(everything)), str(total_lost), str(total_twice),
         f"{max(delays, default=0.0):.1f}", f"{total['left'] + left_at_end}", "")
    )  # fmt: skip
    widths = [max(len(r[c]) for r in rows) for c in range(len(head))]
    for r in rows:
        print("  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)))
    kills = sum(1 for r in rounds if r.fault == "kill")
    print(
        f"\nfaults: {dict(Counter(r.fault for r in rounds))}; kills {kills}; "
        f"left behind after the final shutdown: {left_at_end}; "
        f"median publish-to-alert {sorted(delays)[len(delays) // 2]:.1f}s"
        if delays
        else "no alerts"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--round-seconds", type=float, default=30.0, help="besides the fault itself")
    ap.add_argument("--feeds", type=int, default=12)
    ap.add_argument("--latency", type=float, default=3.0, help="seconds each feed takes to answer")
    ap.add_argument("--interval", type=float, default=5.0, help="each feed's polling interval")
    ap.add_argument("--publish-every", type=float, default=1.0)
    ap.add_argument("--warmup", type=float, default=20.0)
    ap.add_argument("--seed", type=int, default=20261203)
    ap.add_argument("--port", type=int, default=55433, help="the private cluster's port")
    ap.add_argument("--database-url", help="an existing database instead of a private cluster")
    ap.add_argument("--db-restart-cmd", help="shell command restarting that database")
    args = ap.parse_args()
    with contextlib.ExitStack() as stack:
        if args.database_url:
            if not args.db_restart_cmd:
                ap.error("--database-url needs --db-restart-cmd")
            url, restart = args.database_url, ["sh", "-c", args.db_restart_cmd]
        else:
            url, restart = stack.enter_context(private_cluster(args.port))
        chaos = Chaos(args, url, restart)
        try:
            rounds = chaos.run()
        finally:
            left = chaos.shutdown()
        report(chaos, rounds, left)
        print(f"logs: {chaos.tmp}")


if __name__ == "__main__":
    main()
