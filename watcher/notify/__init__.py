"""Alerts: which alerts a match produces (`alerts`), what they say (`templates`), when they may
go (`policy`), and their delivery through apprise (`sender`), with secrets kept out of sight
(`masking`).

The package top level imports nothing: the config validates user templates with `templates`,
and must not pull in apprise or the store to do so.
"""
