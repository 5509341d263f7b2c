"""Settings for the long-running processes: gunicorn workers and outbox senders."""
from __future__ import annotations

import gc


def freeze_loaded_heap() -> int:
    """Hide everything loaded so far from the cyclic garbage collector; returns how many
    objects that was.

    Call once a worker has built its app. The app, its templates, message catalogues,
    SQLAlchemy metadata and imported modules live as long as the process, yet every
    full collection would walk all of them again. Frozen, the collector only walks what
    requests create: callgrind counted 13 % fewer instructions per complete signature.
    Frozen objects are never freed, which is what these are for anyway."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
