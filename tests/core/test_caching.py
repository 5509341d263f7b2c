"""petition.caching: the one expiry mechanism behind every per-process copy."""
from __future__ import annotations

from petition import caching
from petition.caching import TTLCache


def test_a_value_is_kept_for_its_period_then_computed_again(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(caching.time, "monotonic", lambda: clock[0])
    cache: TTLCache[int] = TTLCache()
    calls = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert cache.get("k", 2.0, compute) == 1
    clock[0] += 1.9
    assert cache.get("k", 2.0, compute) == 1  # still fresh
    clock[0] += 0.2
    assert cache.get("k", 2.0, compute) == 2  # expired: computed again
    assert cache.get("other", 2.0, compute) == 3  # each key its own value
    cache.forget("k")
    assert cache.get("k", 2.0, compute) == 4


def test_a_period_of_zero_keeps_nothing_and_none_is_a_value():
    cache: TTLCache[object] = TTLCache()
    calls = []
    for _ in range(2):
        cache.get("k", 0, lambda: calls.append(1))
    assert len(calls) == 2
    assert cache.get("missing", 5, lambda: None) is None
    assert cache.get("missing", 5, lambda: "found later") is None  # "nothing there" is kept too


def test_the_oldest_entry_goes_when_full():
    cache: TTLCache[str] = TTLCache(max_entries=2)
    for key in ("a", "b", "c"):
        cache.get(key, 60, lambda key=key: key.upper())
    assert cache.get("a", 60, lambda: "again") == "again"
    assert cache.get("c", 60, lambda: "again") == "C"


def test_each_app_has_its_own_caches_and_clear_empties_them(make_app):
    first, second = make_app(), make_app()
    with first.app_context():
        caching.cache("counts").get(1, 60, lambda: "first app")
    with second.app_context():
        assert caching.cache("counts").get(1, 60, lambda: "second app") == "second app"
    with first.app_context():
        assert caching.cache("counts").get(1, 60, lambda: "recomputed") == "first app"
        caching.clear()
        assert caching.cache("counts").get(1, 60, lambda: "recomputed") == "recomputed"
