"""The heartbeat: a live process renews the claims of the work it has in flight.

Claims are short (`polling.lease`, 20 s), so a process that dies or stalls gives its feeds and
deliveries up to the others within one lease; a live one renews them every quarter of it, so
a slow poll or send is never taken from it. Only work actually in flight is renewed: a claim
left behind by a failed write lapses instead of being held for ever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection

from watcher.clock import Clock
from watcher.logs import Repeats
from watcher.notify.sender import IN_FLIGHT
from watcher.store import Store
from watcher.store.claims import renew_deliveries, renew_feeds

log = logging.getLogger("watcher.daemon")


async def heartbeat(
    store: Store, lease: float, clock: Clock, polls: Callable[[], Collection[str]]
) -> None:
    """Renew until cancelled: `polls()` gives the fencing tokens of the polls in flight."""
    repeats = Repeats()
    while True:
        await asyncio.sleep(lease / 4)
        now = clock()
        try:
            await asyncio.to_thread(renew_feeds, store, list(polls()), now, lease)
            await asyncio.to_thread(renew_deliveries, store, list(IN_FLIGHT), now, lease)
        except Exception as exc:  # the database is away: the claims lapse, the work is redone
            log.log(repeats.level("renew", str(exc)), "could not renew claims: %s", exc)
