"""Imported by the workers' fork server before it forks any worker (its preload): the pure stages
and what they load on first use, once, so that every worker shares those pages with it."""

from watcher.ingest.workers import warm_up

warm_up()
