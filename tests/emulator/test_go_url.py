"""Go's `net/url` rules as the data proxy uses them; every expectation here was printed by Go itself
(`url.Parse`, `DataReference.Split`'s host and trimmed path, and flytestdlib's ConstructReference)."""

from __future__ import annotations

import pytest

from flyteadmin_ops.emulator.go_url import GoURLError, construct_reference, split_reference

ROOT = "s3://my-s3-bucket/proj/development/root/"


@pytest.mark.parametrize(
    ("raw", "split"),
    [
        ("", ("", "", "")),
        ("not a url", ("", "", "not a url")),
        ("s3://my-s3-bucket/a/b/", ("s3", "my-s3-bucket", "a/b")),
        ("s3:bucket/key", ("s3", "", "")),  # opaque: neither host nor path
        ("a:b/c", ("a", "", "")),
        ("S3://B/K", ("s3", "B", "K")),
        ("a%20b c", ("", "", "a b c")),
        ("a?b", ("", "", "a")),
        ("a#%41", ("", "", "a")),
    ],
)
def test_split(raw: str, split: tuple[str, str, str]) -> None:
    assert split_reference(raw) == split


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("s3://b:xx/k", 'invalid port ":xx" after host'),
        ("s3://My Bucket/k", 'invalid character " " in host name'),
        (":foo", "missing protocol scheme"),
        ("s3://b/%zz", 'invalid URL escape "%zz"'),
        ("s3://b/k#%zz", 'invalid URL escape "%zz"'),
        ("x\x01y", "net/url: invalid control character in URL"),
        ("a:b:c", None),  # a scheme `a`, opaque `b:c`: fine
        ("b:c/d:e", None),
        ("1a:b", "first path segment in URL cannot contain colon"),
    ],
)
def test_parse_errors(raw: str, error: str | None) -> None:
    if error is None:
        split_reference(raw)
        return
    with pytest.raises(GoURLError) as caught:
        split_reference(raw)
    assert str(caught.value) == error


@pytest.mark.parametrize(
    ("filename", "joined"),
    [
        ("", ROOT),
        ("not a url", ROOT + "not%20a%20url"),
        ("my file.txt", ROOT + "my%20file.txt"),
        ("a?b", ROOT + "a?b"),
        ("a/../../b", "s3://my-s3-bucket/proj/development/b"),
        ("f!(x).txt", ROOT + "f!(x).txt"),
        ("ünï.txt", ROOT + "%C3%BCn%C3%AF.txt"),
        ("a%20b c", ROOT + "a%20b%20c"),
        ("a#%41", ROOT + "a#%41"),
        ("s3://b:xx/k", ROOT + "s3://b:xx/k"),
    ],
)
def test_construct_reference(filename: str, joined: str) -> None:
    assert construct_reference("s3://my-s3-bucket", "", "proj", "development", "root", filename) == joined
