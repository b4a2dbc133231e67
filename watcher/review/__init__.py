"""Trying rules before trusting them: `explain` runs one article through every rule and says
why each matched or not; `backtest` runs the current rules over stored stories. Neither stores
nor sends anything. Kept apart from the daemon so the web UI and the CLI share them.
"""
