"""Dependency levels of a graph: which nodes can be done together once everything before them is done.

Kept free of Flyte types so the ordering rule (longest path from a leaf, cycles reported with their path) can
be read and tested on its own; `ops.package.dependency_waves` applies it to registrable entities.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class CycleError(ValueError, Generic[K]):
    """The graph has a cycle; `cycle` lists it with its first node repeated at the end."""

    def __init__(self, cycle: list[K]) -> None:
        self.cycle = cycle
        super().__init__(" -> ".join(map(str, cycle)))


def levels(deps: Mapping[K, Collection[K]]) -> dict[K, int]:
    """Level of every node: 0 without dependencies, else one more than its deepest dependency.

    All nodes of one level depend only on lower levels, so each level can run concurrently. Every dependency
    must itself be a key of `deps`. The depth-first search is iterative, so deep chains cannot hit the
    recursion limit.
    """
    level: dict[K, int] = {}
    for root in deps:
        if root in level:
            continue
        path: list[K] = [root]
        on_path: set[K] = {root}
        pending = [iter(deps[root])]
        while pending:
            child = next(pending[-1], None)
            if child is None:
                node = path.pop()
                on_path.discard(node)
                pending.pop()
                level[node] = 1 + max((level[d] for d in deps[node]), default=-1)
            elif child in on_path:
                raise CycleError([*path[path.index(child) :], child])
            elif child not in level:
                path.append(child)
                on_path.add(child)
                pending.append(iter(deps[child]))
    return level
