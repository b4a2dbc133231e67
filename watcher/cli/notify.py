"""`watcher notify-test` and `watcher deliveries`: trying a notifier, and the outbox."""

from __future__ import annotations

import argparse
import asyncio
import sys

from watcher.cli.common import (
    EXIT_CONFIG,
    EXIT_FAILURE,
    EXIT_OK,
    load,
    load_for_reading,
    nothing,
    open_store,
    print_json,
    unknown_name,
)
from watcher.logs import mask

TEST_SNIPPET = "This is a test alert from watcher."


def cmd_notify_test(args: argparse.Namespace) -> int:
    from watcher.clock import utcnow
    from watcher.model import AlertStory
    from watcher.notify.masking import masked_url
    from watcher.notify.sender import message_for, send_one
    from watcher.notify.templates import alert_context
    from watcher.store import Claimed

    config = load(args)
    notifier = config.notifier(args.notifier)
    if notifier is None:
        return unknown_name(
            "notifier", args.notifier, [n.name for n in config.notifiers], config.path
        )
    now = utcnow()
    start = TEST_SNIPPET.index("watcher")
    hit = {
        "term": "watcher",
        "field": "body",
        "text": "watcher",
        "snippet": TEST_SNIPPET,
        "mark": [start, start + len("watcher")],
    }
    story = AlertStory(
        title="watcher test alert",
        url="https://example.org/watcher-test",
        feed="notify-test",
        published_at=now,
        language="en",
        summary="",
    )
    rule = {"name": "notify-test", "priority": "normal", "score": 1, "terms": ["watcher"]}
    context = alert_context(story.variables(), [rule | {"hits": [hit]}], matched_at=now)
    claim = Claimed(
        id=0,
        alert_id=0,
        notifier=notifier.name,
        target=0,
        attempts=0,
        priority="normal",
        kind="alert",
        title="",
        context=context,
        rule_template=None,
    )
    failures = 0
    for url in notifier.urls:
        title, body, fmt = message_for(claim, notifier, url)
        ok, error = asyncio.run(send_one(url, title, body, fmt))
        outcome = "sent" if ok else f"FAILED: {mask(error, config.secrets)}"
        print(f"{masked_url(url)}: {outcome}")
        failures += not ok
    return EXIT_OK if not failures else EXIT_FAILURE


def cmd_deliveries(args: argparse.Namespace) -> int:
    from watcher.store.outbox import list_deliveries, retry

    config = load_for_reading(args)
    if args.action == "retry":
        if not args.ids and not args.all_dead:
            print("deliveries retry: give delivery IDs or --all-dead", file=sys.stderr)
            return EXIT_CONFIG
        with open_store(config) as store:
            n = retry(store, args.ids, args.all_dead)
        print(f"{n} deliver{'y' if n == 1 else 'ies'} requeued")
        return EXIT_OK
    status = "pending" if args.status == "failed" else args.status
    with open_store(config) as store:
        rows = list_deliveries(store, status, args.limit)
    if args.status == "failed":
        rows = [r for r in rows if r.last_error]
    if not rows:
        return nothing(f"no {args.status + ' ' if args.status else ''}deliveries")
    if args.json:
        for r in rows:
            print_json(
                {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in vars(r).items()}
            )
        return EXIT_OK
    print(
        f"{'ID':>6}  {'STATUS':<7} {'KIND':<10} {'TARGET':<14} {'TRIES':>5}  {'WHEN (UTC)':<16}  "
        "TITLE"
    )
    for r in rows:
        when = (r.sent_at or r.next_attempt_at).strftime("%Y-%m-%d %H:%M")
        target = f"{r.notifier}[{r.target}]"
        print(
            f"{r.id:>6}  {r.status:<7} {r.kind:<10} {target:<14} {r.attempts:>5}  {when:<16}  "
            f"{r.title}"
        )
        if r.last_error:
            print(f"        last error: {r.last_error}")
    return EXIT_OK
