"""watcher: a self-hosted news-wire monitor.

The package reads as the pipeline: config -> scheduler -> fetch -> parse -> dedup -> extract
-> rules -> store -> notify, sequenced by `pipeline`.
"""

__version__ = "0.1.0"
