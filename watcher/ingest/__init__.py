"""Ingest: from a feed's bytes to stories ready to store, in the order the pipeline runs them.

    fetch (HTTP, the only network code) -> parse (feed bytes -> entries) -> dedup (identity keys)
    -> extract (article page -> body, language) -> prepare (folded text, fingerprint, matches)

`workers` runs the CPU-bound pure stages (parse, extract, prepare) in worker processes. Every
module but `fetch` and `workers` is pure: data in, data out, no clock, network or database,
so they can run in a worker and be tested without a server. The package top level imports
nothing, so naming one stage never loads the others (trafilatura, feedparser, numpy).
"""
