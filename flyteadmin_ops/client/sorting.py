"""Sort orders for list RPCs.

flyteadmin issues no ORDER BY when a list request has no `sort_by` (ListProjects excepted), so paging
through results without a sort can repeat or skip rows. The iterators therefore always send one.
"""

from __future__ import annotations

import re
from typing import Any

from flyteidl.admin import common_pb2

from flyteadmin_ops.client.coerce import to_idl

_KEY = re.compile(r"^[a-z_][a-z0-9_]*$")

ASCENDING = common_pb2.Sort.Direction.ASCENDING
DESCENDING = common_pb2.Sort.Direction.DESCENDING


def sort_by(key: str, ascending: bool = True) -> common_pb2.Sort:
    """`sort_by("created_at")` -> Sort(key="created_at", direction=ASCENDING).

    Unlike the proto (whose default direction is DESCENDING), ascending is the default here, because that
    is what paging through everything wants.
    """
    if not _KEY.match(key):
        raise ValueError(f"sort key {key!r} is not a column name")
    return common_pb2.Sort(key=key, direction=ASCENDING if ascending else DESCENDING)


def as_sort(value: Any) -> common_pb2.Sort | None:
    """A Sort protobuf from a protobuf, a flytekit `Sort` model, or None."""
    if value is None:
        return None
    return to_idl(value, common_pb2.Sort, "sort_by")
