"""freeze_startup_objects: what is alive at the end of start-up leaves the collector's walks."""

from __future__ import annotations

import gc

from pgbe.runtime import freeze_startup_objects


def test_freeze_startup_objects_hides_live_objects_from_collections() -> None:
    kept = [[index] for index in range(1000)]
    try:
        frozen = freeze_startup_objects()
        assert frozen >= len(kept)
        assert not any(obj is kept for obj in gc.get_objects())
        later = [0]
        assert any(obj is later for obj in gc.get_objects())  # objects made afterwards are collected as usual
    finally:
        gc.unfreeze()
    assert any(obj is kept for obj in gc.get_objects())
