"""A command's start-up with the cyclic garbage collector paused, for the commands that talk to Admin.

Before its first RPC a command imports gRPC, protobuf, the flyteidl descriptors and pydantic, and builds
its settings and client: a few hundred thousand container objects, nearly all alive until the process
exits. The collector, run every 700 new containers, walks them again and again and finds next to nothing:
measured on a 1,600-entity `register` re-run, about 45 ms of CPU (some 110 young passes, 10 middle ones
and a full pass of 15-25 ms over everything imported), a sixth of what the process spends outside the
registration itself.

`collector_paused()` (`cli.main`, around such a command) turns automatic collection off. `work_begins()`
(`commands.common` and `commands.admin_session`, once the client is built, before the first RPC) freezes
what exists then (`gc.freeze()`: moved to the permanent generation, which collections skip) and turns
collection back on, so the operation itself runs with the collector as usual and never walks the start-up
heap again. Leaving the block turns collection on if the work never began (a dry run, bad settings) and
unfreezes what it froze, so an in-process caller of `main([...])` gets its collector back as it was. A
caller that turned collection off itself is left alone.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

_state: Literal["off", "paused", "working"] = "off"
_frozen_before = 0
"""Objects already frozen when the work began (by the caller): then nothing is unfrozen at the end."""


@contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic collection until `work_begins()` (or the end of the block); see the module docstring."""
    global _state
    if _state != "off" or not gc.isenabled():  # paused by an outer call, or off by the caller's choice
        yield
        return
    gc.disable()
    _state = "paused"
    try:
        yield
    finally:
        if _state == "working" and not _frozen_before:
            gc.unfreeze()  # only what we froze: a caller's own frozen heap (freeze count > 0) stays
        _state = "off"
        gc.enable()


def work_begins() -> None:
    """End a pause of `collector_paused()`: freeze the start-up heap and collect as usual from now on.
    Does nothing outside such a pause."""
    global _state, _frozen_before
    if _state == "paused":
        _frozen_before = gc.get_freeze_count()
        gc.freeze()
        gc.enable()
        _state = "working"
