"""Go's `net/url` (Parse, ResolveReference, String), as far as flyteadmin's data proxy depends on it.

Why its own module: flyteadmin decides with `url.Parse` whether a `native_url` is acceptable
(`failed to parse native_url [...]`); flytestdlib's `DataReference.Split` takes the bucket and key of a
storage reference from the parsed URL's host and path; and `URLPathConstructor.ConstructReference` builds an
upload location by parsing the joined keys as a relative URL, resolving it against the bucket and printing
it back (so `?` starts a query, `..` climbs, a space prints as `%20`). Python's `urllib.parse` accepts,
splits and escapes differently (it never fails on a bad escape, keeps opaque paths), so the emulator follows
Go's rules here: the same input must be refused, split or rewritten exactly as the real server does.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, replace

_HOST_SAFE = frozenset("!$&'()*+,;=:[]<>\"-_.~")
_PATH_SAFE = frozenset("-_.~$&+,/:;=@")
_FRAGMENT_SAFE = _PATH_SAFE | frozenset("?!()*")
_VALID_ENCODED_EXTRA = frozenset("!$&'()*+,;=:@[]%")


class GoURLError(ValueError):
    """`url.Parse` failed; the text is Go's error (without the `parse "<url>": ` prefix)."""


@dataclass(frozen=True)
class GoURL:
    """A parsed URL: lower-cased scheme, unescaped host and path, and the raw forms Go keeps."""

    scheme: str = ""
    host: str = ""
    path: str = ""
    raw_path: str = ""  # the path as written, when it differs from Go's own escaping of `path`
    opaque: str = ""
    raw_query: str = ""
    force_query: bool = False
    fragment: str = ""
    raw_fragment: str = ""  # the fragment as written, when it differs from Go's own escaping

    def escaped_path(self) -> str:
        """`URL.EscapedPath`: the path as written when that is a valid encoding, else Go's escaping."""
        if self.raw_path and _valid_encoded(self.raw_path, _PATH_SAFE):
            try:
                if _unescape(self.raw_path, host=False) == self.path:
                    return self.raw_path
            except GoURLError:
                pass
        return "*" if self.path == "*" else _escape_path(self.path)

    def string(self) -> str:
        """`URL.String()` (without user info, which the data proxy never builds)."""
        out = f"{self.scheme}:" if self.scheme else ""
        if self.opaque:
            out += self.opaque
        else:
            path = self.escaped_path()
            if self.scheme or self.host:
                if self.host or self.path:
                    out += "//"
                out += _escape(self.host, _HOST_SAFE)
            if path and not path.startswith("/") and self.host:
                out += "/"
            out += path
        if self.force_query or self.raw_query:
            out += "?" + self.raw_query
        if self.fragment:
            out += "#" + self.escaped_fragment()
        return out

    def escaped_fragment(self) -> str:
        """`URL.EscapedFragment`: the fragment as written when that is a valid encoding, else escaped."""
        if self.raw_fragment and _valid_encoded(self.raw_fragment, _FRAGMENT_SAFE):
            try:
                if _unescape(self.raw_fragment, host=False) == self.fragment:
                    return self.raw_fragment
            except GoURLError:
                pass
        return _escape(self.fragment, _FRAGMENT_SAFE)


def parse(raw: str) -> GoURL:
    """`url.Parse(raw)`; raises GoURLError where Go returns an error."""
    without_fragment, _, fragment = raw.partition("#")
    parsed = _parse(without_fragment)
    if fragment:
        unescaped = _unescape(fragment, host=False)
        raw = "" if _escape(unescaped, _FRAGMENT_SAFE) == fragment else fragment
        parsed = replace(parsed, fragment=unescaped, raw_fragment=raw)
    return parsed


def split_reference(raw: str) -> tuple[str, str, str]:
    """flytestdlib's `DataReference.Split`: (scheme, container, key), the key trimmed of `/` at both ends."""
    parsed = parse(raw)
    return parsed.scheme, parsed.host, parsed.path.strip("/")


def construct_reference(base: str, *keys: str) -> str:
    """flytestdlib's `URLPathConstructor.ConstructReference(base, keys...)`: the keys, each trimmed of `/`,
    joined by `/`, parsed as a URL reference and resolved against `base` (given a trailing `/`)."""
    root = parse(base if base.endswith("/") else base + "/")
    ref = parse("/".join(key.strip("/") for key in keys))
    scheme = ref.scheme or root.scheme
    if ref.scheme or ref.host:
        resolved = replace(ref, scheme=scheme)
        return _with_path(resolved, _resolve_path(ref.escaped_path(), "")).string()
    if not ref.path and not ref.force_query and not ref.raw_query:
        ref = replace(ref, raw_query=root.raw_query)
    resolved = replace(ref, scheme=scheme, host=root.host)
    return _with_path(resolved, _resolve_path(root.escaped_path(), ref.escaped_path())).string()


def _with_path(url: GoURL, escaped: str) -> GoURL:
    """`URL.setPath`."""
    path = _unescape(escaped, host=False)
    return replace(url, path=path, raw_path="" if _escape_path(path) == escaped else escaped)


def _parse(raw: str) -> GoURL:
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in raw):
        raise GoURLError("net/url: invalid control character in URL")
    if raw == "*":
        return GoURL(path="*")
    scheme, rest = _scheme(raw)
    scheme = scheme.lower()
    force_query = rest.endswith("?") and rest.count("?") == 1
    if force_query:
        rest, query = rest[:-1], ""
    else:
        rest, _, query = rest.partition("?")
    if not rest.startswith("/"):
        if scheme:
            return GoURL(scheme, opaque=rest, raw_query=query, force_query=force_query)
        if ":" in rest.partition("/")[0]:
            raise GoURLError("first path segment in URL cannot contain colon")
    host = ""
    if (scheme or not rest.startswith("///")) and rest.startswith("//"):
        authority, slash, path = rest[2:].partition("/")
        rest = slash + path
        host = _authority(authority)
    url = GoURL(scheme, host, raw_query=query, force_query=force_query)
    return _with_path(url, rest)


def _scheme(raw: str) -> tuple[str, str]:
    for index, char in enumerate(raw):
        if char.isascii() and char.isalpha():
            continue
        if char.isascii() and (char.isdigit() or char in "+-."):
            if index == 0:
                return "", raw
            continue
        if char == ":":
            if index == 0:
                raise GoURLError("missing protocol scheme")
            return raw[:index], raw[index + 1 :]
        return "", raw
    return "", raw


def _authority(authority: str) -> str:
    at = authority.rfind("@")
    host = _host(authority[at + 1 :] if at >= 0 else authority)
    if at >= 0:
        userinfo = authority[:at]
        if any(not ((c.isascii() and c.isalnum()) or c in "-._:~!$&'()*+,;=%@") for c in userinfo):
            raise GoURLError("net/url: invalid userinfo")
        _unescape(userinfo, host=False)
    return host


def _host(host: str) -> str:
    if host.startswith("["):
        close = host.rfind("]")
        if close < 0:
            raise GoURLError("missing ']' in host")
        _check_port(host[close + 1 :])
    elif ":" in host:
        _check_port(host[host.rfind(":") :])
    return _unescape(host, host=True)


def _check_port(colon_port: str) -> None:
    if colon_port and (colon_port[0] != ":" or not all(c in "0123456789" for c in colon_port[1:])):
        raise GoURLError(f'invalid port "{colon_port}" after host')


def _unescape(text: str, *, host: bool) -> str:
    index = 0
    while index < len(text):
        char = text[index]
        if char == "%":
            escape = text[index : index + 3]
            if len(escape) < 3 or not _is_hex(escape[1]) or not _is_hex(escape[2]):
                raise GoURLError(f'invalid URL escape "{escape}"')
            if host and int(escape[1], 16) < 8 and escape != "%25":
                raise GoURLError(f'invalid URL escape "{escape}"')
            index += 3
            continue
        if host and char.isascii() and not char.isalnum() and char not in _HOST_SAFE:
            raise GoURLError(f'invalid character "{char}" in host name')
        index += 1
    return urllib.parse.unquote(text, errors="surrogateescape")


def _is_hex(char: str) -> bool:
    return char in "0123456789abcdefABCDEF"


def _escape(text: str, safe: frozenset[str] | set[str]) -> str:
    """Go's `escape`: every UTF-8 byte outside the alphanumerics and `safe` as `%XX` (upper-case hex)."""
    out: list[str] = []
    for char in text:
        if char.isascii() and (char.isalnum() or char in safe):
            out.append(char)
        else:
            raw = char.encode("utf-8", errors="surrogateescape")
            out.extend(f"%{byte:02X}" for byte in raw)
    return "".join(out)


def _escape_path(path: str) -> str:
    return _escape(path, _PATH_SAFE)


def _valid_encoded(text: str, safe: frozenset[str]) -> bool:
    """`validEncoded`: only characters that part may carry unescaped (or `%`)."""
    return all((c.isascii() and c.isalnum()) or c in safe or c in _VALID_ENCODED_EXTRA for c in text)


def _resolve_path(base: str, ref: str) -> str:
    """Go's `resolvePath` (RFC 3986 merge and dot-segment removal)."""
    if not ref:
        full = base
    elif not ref.startswith("/"):
        full = base[: base.rfind("/") + 1] + ref
    else:
        full = ref
    if not full:
        return ""
    out = "/"
    first = True
    elements = full.split("/")
    for element in elements:
        if element == ".":
            first = False
            continue
        if element == "..":
            current = out[1:]
            cut = current.rfind("/")
            out = "/"
            if cut == -1:
                first = True
            else:
                out += current[:cut]
        else:
            if not first:
                out += "/"
            out += element
            first = False
    if elements[-1] in (".", ".."):
        out += "/"
    if len(out) > 1 and out[1] == "/":
        out = out[1:]
    return out
