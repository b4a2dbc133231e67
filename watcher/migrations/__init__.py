"""Alembic migrations, shipped inside the package so `watcher db upgrade` works from any install.

The first release's schema is revision 0001; every later change is a new revision with a test
that upgrades a database holding data from the revision before it.
"""
