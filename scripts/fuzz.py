"""Coverage-guided fuzzing of every input parser with atheris (libFuzzer for Python).

    pip install -e '.[fuzz]'                       # atheris: Linux wheels for CPython 3.10-3.13
    python scripts/fuzz.py --list                  # the targets
    python scripts/fuzz.py all -max_total_time=60  # each target in turn, as `tox -e fuzz` does
    python scripts/fuzz.py package -max_total_time=60 -timeout=10
    python scripts/fuzz.py argv -max_total_time=120 -rss_limit_mb=4096

One target per parser (`tests/fuzz/targets.py` holds the checks; the hypothesis tests in tests/fuzz/ reach
the same parsers with structured inputs): package archives, single `.pb` members, attribute files, our
config files (YAML and TOML), flytectl's config, filter strings, durations, timestamps and time windows,
and command lines run against an in-process emulator. Each run starts from a corpus seeded with real
inputs (the bundled `pyflyte package` archive and its members, the example config and attribute files,
documented filters and command lines) plus the kept findings of tests/fuzz/regressions/<target>/. Any
argument after TARGET goes to libFuzzer; a directory among them is used as the corpus instead.

A finding is an uncaught exception (a parser raised something other than its typed error, or a property
in the check failed): libFuzzer writes the input as `crash-<sha1>` in the working directory. Keep it as
tests/fuzz/regressions/<target>/<what-was-wrong>.<ext>, fix the parser, and `pytest -m fuzz` replays it.
The line `Done N runs in S second(s)` at the end is the execution count for RELIABILITY.md.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The modules whose code coverage guides the fuzzer: imported inside `instrument_imports`, so atheris adds
# its coverage callbacks to them (modules imported before would run uninstrumented).
PARSER_MODULES = (
    "flyteadmin_ops.ops.package",
    "flyteadmin_ops.ops.attribute_file",
    "flyteadmin_ops.ops.relaunch",
    "flyteadmin_ops.client.filters",
    "flyteadmin_ops.settings",
    "flyteadmin_ops.cli",
    "flyteadmin_ops.commands.common",
    "flyteadmin_ops.commands.admin_session",
    "flyteadmin_ops.commands.input_text",
    "flyteadmin_ops.commands.get",
    "flyteadmin_ops.commands.launch",
    "flyteadmin_ops.commands.relaunch_failed",
)

_FLYTECTL_SANDBOX = b"""admin:
  endpoint: dns:///localhost:30080
  authType: Pkce
  insecure: true
logger:
  show-source: true
  level: 0
"""
_FLYTECTL_CLIENT_SECRET = b"""admin:
  endpoint: dns:///flyte.example.com
  authType: ClientSecret
  clientId: ci-bot
  clientSecretEnvVar: FLYTE_SECRET
  scopes: [all]
  perRetryTimeout: 15s
  maxBackoffDelay: 1m30s
  maxRetries: 4
  pkceConfig:
    timeout: 2m
"""
_FLYTECTL_ATTRIBUTE_FILE = b"""domain: development
project: flytesnacks
type: task-resource-attribute
defaults:
  cpu: "1"
  memory: 150Mi
limits:
  cpu: "2"
  memory: 450Mi
"""
_COMMAND_LINES = [
    ["get", "launch-plans", "-p", "flytesnacks", "-d", "development"],
    [
        "get",
        "executions",
        "-p",
        "flytesnacks",
        "-d",
        "development",
        "--filter",
        "eq(phase,FAILED)",
        "-o",
        "json",
    ],
    ["relaunch-failed", "-p", "flytesnacks", "-d", "development", "--since", "24h", "--dry-run"],
    ["relaunch-failed", "-p", "flytesnacks", "-d", "development", "--from", "2024-05-01T00:00:00Z"],
    ["promote", "ops_demo.nightly", "-p", "flytesnacks", "-d", "development", "--version", "v1", "--dry-run"],
    ["launch", "ops_demo.nightly", "-p", "flytesnacks", "-d", "development", "--input", "fail=false"],
    ["wait", "abc", "-p", "flytesnacks", "-d", "development", "--timeout", "5"],
    [
        "register",
        str(ROOT / "flyteadmin_ops" / "demo" / "sample-package.tgz"),
        "-p",
        "flytesnacks",
        "-d",
        "development",
        "--version",
        "v2",
        "--dry-run",
    ],
    ["sync-attributes", str(ROOT / "flyteadmin_ops" / "demo" / "attributes.yaml"), "--dry-run"],
    ["completion", "bash"],
]


def seeds(target: str) -> list[bytes]:
    """Real inputs of the target's kind, to start from."""
    from tests.fuzz.targets import PB_MEMBERS

    demo = ROOT / "flyteadmin_ops" / "demo"
    found: list[bytes] = []
    if target == "package":
        found.append((demo / "sample-package.tgz").read_bytes())
    elif target == "pb":
        found += [bytes([i]) + data for i, (_, data) in enumerate(PB_MEMBERS)]
    elif target == "attributes":
        found += [(demo / "attributes.yaml").read_bytes(), (ROOT / "config" / "attributes.yaml").read_bytes()]
        found.append(_FLYTECTL_ATTRIBUTE_FILE)
    elif target == "flytectl-config":
        found += [_FLYTECTL_SANDBOX, _FLYTECTL_CLIENT_SECRET]
    elif target == "config-yaml":
        found.append((ROOT / "config" / "admin.example.yaml").read_bytes())
    elif target == "config-toml":
        found.append((ROOT / "config" / "admin.example.toml").read_bytes())
    elif target == "filter":
        found += [
            b"eq(phase,FAILED)",
            b"eq(phase,FAILED)+gte(duration,60s)",
            b"value_in(mode,1;2)+gte(execution_created_at,2024-01-01T00:00:00Z)",
            b"contains(launch_plan.name,nightly)+not_like(name,rc-%)",
        ]
    elif target == "duration":
        found += [b"24h", b"30m", b"7d", b"1w", b"90s", b"1h30m", b"250ms", b"PT1H", b"1.5"]
    elif target == "timestamp":
        found += [b"2024-05-01T00:00:00Z", b"2024-05-01T00:00:00+02:00\n2024-05-02T00:00:00Z"]
    elif target == "argv":
        found += ["\0".join(line).encode() for line in _COMMAND_LINES]
    kept = ROOT / "tests" / "fuzz" / "regressions" / target
    if kept.is_dir():
        found += [path.read_bytes() for path in sorted(kept.iterdir()) if path.is_file()]
    return found


def main(argv: list[str]) -> int:
    from tests.fuzz.targets import TARGETS

    if len(argv) < 2 or argv[1] in ("-h", "--help", "--list"):
        print(__doc__)
        print("targets:", ", ".join(TARGETS))
        return 0 if len(argv) >= 2 else 2
    target, fuzzer_args = argv[1], argv[2:]
    if target == "all":  # each target in a process of its own (libFuzzer ends the process it runs in)
        import subprocess

        failed = [
            t for t in TARGETS if subprocess.run([sys.executable, __file__, t, *fuzzer_args]).returncode
        ]
        print(
            f"fuzz.py: {len(TARGETS) - len(failed)} of {len(TARGETS)} targets without findings",
            file=sys.stderr,
        )
        if failed:
            print(f"fuzz.py: findings in {', '.join(failed)}", file=sys.stderr)
        return 1 if failed else 0
    if target not in TARGETS:
        print(f"fuzz.py: unknown target {target!r}; one of {', '.join(TARGETS)}", file=sys.stderr)
        return 2
    try:
        import atheris
    except ImportError:
        print("fuzz.py: atheris is not installed: pip install -e '.[fuzz]' (Linux only)", file=sys.stderr)
        return 2

    with atheris.instrument_imports(include=["flyteadmin_ops"]):
        for module in PARSER_MODULES:
            __import__(module)
    check = TARGETS[target]
    if target == "argv":
        from tests.fuzz.targets import start_argv_emulator

        start_argv_emulator()  # before the fuzzer forks workers or counts time

    if not any(os.path.isdir(arg) for arg in fuzzer_args):
        # kept between runs (what one run learned, the next starts from), reseeded every time
        corpus = Path(tempfile.gettempdir()) / "flyteadmin-ops-fuzz" / target
        corpus.mkdir(parents=True, exist_ok=True)
        for i, seed in enumerate(seeds(target)):
            (corpus / f"seed-{i:03d}").write_bytes(seed)
        fuzzer_args = [*fuzzer_args, str(corpus)]
    atheris.Setup([argv[0], *fuzzer_args], check)
    atheris.Fuzz()  # libFuzzer ends the process itself
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
