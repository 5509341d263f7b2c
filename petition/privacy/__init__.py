"""Personal data at rest: encryption, keyed hashes, and the purge/export/erase operations."""
