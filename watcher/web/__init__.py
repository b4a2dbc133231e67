"""What people look at while the daemon runs: one HTTP server inside `watcher run` (`server`),
the JSON API (`api`), the server-rendered UI (`ui`), Atom output feeds (`atom`), and access
control (`auth`: a token beyond loopback, signed cookies, CSRF). Kept outside the core like
reader's `_app/`: nothing in ingest, rules, store or notify imports it.
"""
