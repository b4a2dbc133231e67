"""Benchmarks of watcher: `python -m benchmarks` runs the scenario suite (see README.md here);
the bench_*.py scripts measure one part each and run on their own."""
