"""Paging over flyteadmin's list RPCs, written once for every entity.

flyteadmin's page token is a decimal offset, and it returns a next token only when a page is full, so the
last page may be empty (one extra call when the final page is exactly full). Offsets also mean rows inserted
while paging can repeat or be skipped; a deterministic sort at least keeps the order stable, which is why
the iterators always send one (flyteadmin has no default order).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from flyteadmin_ops.client.sorting import sort_by as make_sort

T = TypeVar("T")


@functools.cache
def _items_field(descriptor: Descriptor) -> str:
    repeated = [f.name for f in descriptor.fields if f.type == FieldDescriptor.TYPE_MESSAGE and f.is_repeated]
    if len(repeated) != 1:
        raise TypeError(
            f"{descriptor.full_name} is not a page: it has {len(repeated)} repeated message fields"
        )
    return repeated[0]


def page_of(response: Message) -> tuple[list[Any], str]:
    """`(items, next_token)` of any list response (TaskList, ExecutionList, Projects, ...)."""
    items = list(getattr(response, _items_field(response.DESCRIPTOR)))
    return items, getattr(response, "token", "")


def walk(fetch: Callable[[str], tuple[list[T], str]]) -> Iterator[T]:
    """Yield the items of every page, lazily, until the server stops returning a next token."""
    token: str | None = ""
    while token is not None:
        items, next_token = fetch(token)
        yield from items
        token = _following(token, next_token)


async def walk_async(fetch: Callable[[str], Awaitable[tuple[list[T], str]]]) -> AsyncIterator[T]:
    """`walk` for coroutines: `async for` over every page."""
    token: str | None = ""
    while token is not None:
        items, next_token = await fetch(token)
        for item in items:
            yield item
        token = _following(token, next_token)


def _following(token: str, next_token: str) -> str | None:
    """The token of the page after `token`, or None after the last page."""
    if not next_token:
        return None
    if next_token == token:
        raise RuntimeError(f"the server returned the same page token {token!r} twice; stopping")
    return next_token


def iterator_of(
    paginated: str, default_sort_key: str, walker: Callable[[Callable[[str], Any]], Any] = walk
) -> Callable[..., Any]:
    """An `iter_*` method that walks every page of the `*_paginated` method named `paginated`.

    It takes the same arguments minus `limit`/`token`, plus `page_size` (default: the settings' page_size),
    and sends `sort_by(default_sort_key)` ascending when the caller gives no sort. The key differs by entity
    because flyteadmin validates it against that entity's columns (id lists group by name, projects sort by
    identifier). `walker` is `walk`, or `walk_async` for a client whose methods are coroutines.
    """

    def iterate(self: Any, *args: Any, page_size: int | None = None, **kwargs: Any) -> Any:
        method = getattr(self, paginated)
        if kwargs.get("sort_by") is None:
            kwargs["sort_by"] = make_sort(default_sort_key)
        limit = page_size or self.settings.page_size
        return walker(lambda token: method(*args, limit=limit, token=token, **kwargs))

    name = "iter_" + paginated.removeprefix("list_").removesuffix("_paginated")
    iterate.__name__ = iterate.__qualname__ = name
    iterate.__doc__ = (
        f"Every item `{paginated}` would return, across all pages, fetched lazily `page_size` at a time.\n\n"
        f"Sorted by `{default_sort_key}` ascending unless `sort_by` is given."
    )
    iterate._paginated = paginated  # type: ignore[attr-defined]
    iterate._default_sort_key = default_sort_key  # type: ignore[attr-defined]
    return iterate


def bind_signature(cls: type, iterate: Callable[..., Any], returns: str = "Iterator[Any]") -> None:
    """Give an `iter_*` method its paginated method's signature, minus limit/token, plus `page_size`."""
    source = inspect.signature(getattr(cls, iterate._paginated))  # type: ignore[attr-defined]
    params = [p for name, p in source.parameters.items() if name not in ("limit", "token")]
    params.append(inspect.Parameter("page_size", inspect.Parameter.KEYWORD_ONLY, default=None))
    iterate.__qualname__ = f"{cls.__name__}.{iterate.__name__}"
    iterate.__signature__ = source.replace(  # type: ignore[attr-defined]
        parameters=params, return_annotation=returns
    )
