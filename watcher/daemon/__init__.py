"""The long-running process: when to poll (`policy`, pure), the loop that polls and delivers
(`scheduler`), config hot reload (`reload`), retention pruning (`retention`) and feed health
(`health`). The orchestration of one poll itself is `watcher.pipeline`; the daemon decides when.
"""
