"""What every fuzz test shares: the hypothesis profiles, a bound on each example, and the real inputs the
strategies start from.

Profiles (chosen with the `OPS_FUZZ_PROFILE` environment variable):

- `fuzz-ci` (default): few examples per test, no deadline (2 shared cores make timings meaningless) and
  `derandomize=True`, so a CI run tries the same inputs every time and a failure reproduces locally.
- `fuzz-deep`: many more examples, randomized, for a session spent hunting (`OPS_FUZZ_PROFILE=fuzz-deep
  pytest -m fuzz`). Keep what it finds under tests/fuzz/regressions/.

The profiles are applied per test with `@fuzz_settings(...)`, not loaded globally, so hypothesis tests in
other folders keep their own settings.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tarfile
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from hypothesis import HealthCheck, settings

from flyteadmin_ops.demo import SAMPLE_PACKAGE_PATH

PROFILE_VARIABLE = "OPS_FUZZ_PROFILE"
CI_PROFILE = "fuzz-ci"
DEEP_PROFILE = "fuzz-deep"

_SHARED = settings(
    deadline=None,
    suppress_health_check=(HealthCheck.too_slow, HealthCheck.data_too_large),
    print_blob=True,
)
settings.register_profile(CI_PROFILE, _SHARED, max_examples=80, derandomize=True, database=None)
settings.register_profile(DEEP_PROFILE, _SHARED, max_examples=2000)

PROFILE = os.environ.get(PROFILE_VARIABLE, CI_PROFILE)
if PROFILE not in (CI_PROFILE, DEEP_PROFILE):
    raise ValueError(f"{PROFILE_VARIABLE}={PROFILE!r}: choose {CI_PROFILE} or {DEEP_PROFILE}")


def fuzz_settings(share: float = 1.0) -> settings:
    """The chosen profile, with `share` of its examples: a test whose examples cost a server round trip
    takes a smaller share, so the whole folder stays within its minute in CI."""
    base = settings.get_profile(PROFILE)
    return settings(base, max_examples=max(5, int(base.max_examples * share)))


EXAMPLE_BOUND_SECONDS = 30
"""No single example may take longer: a parser that hangs on some input fails the test naming it, instead
of the whole run being killed by pytest-timeout without a word about the input. Generous on purpose: it is
a bound against hangs, not a timing assertion."""


class ExampleHung(Exception):
    """An example ran past EXAMPLE_BOUND_SECONDS: the parser hangs (or loops) on this input."""


@contextlib.contextmanager
def bounded(seconds: float = EXAMPLE_BOUND_SECONDS) -> Iterator[None]:
    """Raise ExampleHung in the body after `seconds` (SIGALRM: main thread only, as pytest runs tests)."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise ExampleHung(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def sample_members() -> dict[str, bytes]:
    """The members of the bundled `pyflyte package --fast` archive, by name: the seeds of every package
    strategy (real TaskSpec, WorkflowSpec and LaunchPlan bytes, and the fast source archive)."""
    with tarfile.open(SAMPLE_PACKAGE_PATH, "r:gz") as archive:
        members = {}
        for member in archive:
            handle = archive.extractfile(member)
            assert handle is not None
            members[member.name] = handle.read()
    return members


REPO = Path(__file__).resolve().parents[2]
REGRESSIONS = Path(__file__).resolve().parent / "regressions"
