"""Sample wires for `watcher demo`: invented stories in five languages, served on loopback."""
