"""The registration benchmark's package: a generated flytekit project of 1,000 tasks, 200 workflows and 400
launch plans (1,600 objects), serialized by the real `pyflyte package --copy all` (what `--fast` became).

Why generate it: the bundled sample package has 19 entities, too few for concurrency to matter, and a real
project of this size is not something we can ship. The sources are written from fixed rules (no clock, no
randomness), so every run writes the same files and pyflyte produces the same entities:

- 20 modules `tasks_NN.py` of 50 tasks each. Task `t0000`..`t0999` take an int and return one; every fifth
  also takes a `label: str`. The keyword arguments vary with the index as in real code: retries, a cache
  version, resource requests and limits, a timeout.
- 20 modules `workflows_NN.py` of 10 workflows each. Workflow `w000`..`w199` chains its own 5 tasks
  (workflow k calls tasks 5k..5k+4, so each task is used once). Every tenth workflow also calls, as a
  launch-plan node, the named launch plan of the workflow just before it, which gives the package the
  deeper dependency chain of a real project (task -> workflow -> launch plan -> calling workflow).
- Launch plans: pyflyte writes each workflow's default launch plan (200), and every workflow has one named
  launch plan `lp_k` (200): even k with `default_inputs`, odd k with `fixed_inputs`. No schedules: a
  scheduled launch plan needs activating, which neither side of the comparison does.

`package_path()` returns the archive, running pyflyte only when the cache has no archive for this generator
version and the installed flytekit version (under `~/.cache/flyteadmin-ops-bench/`, or
`$FLYTEADMIN_OPS_BENCH_CACHE`). pyflyte needs about 4 s of CPU for this project (5-16 s of wall time on
the shared 2-core machine); a cached rerun reads the archive (120 KB) and nothing else. The archive's
entities and source tarball are the same on every build. `python -m benchmarks.register_package` builds
it (or prints where it is) and counts what it holds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from importlib import metadata
from pathlib import Path

GENERATOR_VERSION = "3"
"""Bump when the generated sources or the pyflyte command line change: it is part of the cache key."""

PACKAGE_NAME = "bench_pkg"
IMAGE = "ghcr.io/flyteadmin-ops/register-bench:v1"
TASK_MODULES, TASKS_PER_MODULE = 20, 50
WORKFLOW_MODULES, WORKFLOWS_PER_MODULE = 20, 10
TASKS_PER_WORKFLOW = 5
LAUNCH_PLAN_NODE_EVERY = 10
"""Every tenth workflow also calls the previous workflow's named launch plan."""

EXPECTED = {"task": 1000, "workflow": 200, "launch_plan": 400}
PYFLYTE_TIMEOUT_SECONDS = 900


def task_name(index: int) -> str:
    return f"t{index:04d}"


def workflow_name(index: int) -> str:
    return f"w{index:03d}"


def takes_label(task_index: int) -> bool:
    return task_index % TASKS_PER_WORKFLOW == TASKS_PER_WORKFLOW - 1


def _task_decorator(index: int) -> str:
    """Keyword arguments that differ from task to task, the way they do in a real project."""
    options = []
    if index % 3 == 1:
        options.append(f"retries={index % 4 + 1}")
    if index % 7 == 2:
        options.append(f'cache=True, cache_version="{index % 5}"')
    if index % 4 == 3:
        cpu = 100 * (index % 8 + 1)
        options.append(f'requests=Resources(cpu="{cpu}m", mem="{64 * (index % 4 + 1)}Mi")')
        options.append(f'limits=Resources(cpu="{2 * cpu}m", mem="{128 * (index % 4 + 1)}Mi")')
    if index % 11 == 5:
        options.append(f"timeout=timedelta(minutes={index % 50 + 10})")
    return f"@task({', '.join(options)})" if options else "@task"


def task_module(module: int) -> str:
    lines = [
        f'"""Generated tasks {module * TASKS_PER_MODULE}..{(module + 1) * TASKS_PER_MODULE - 1}."""',
        "",
        "from datetime import timedelta",
        "",
        "from flytekit import Resources, task",
        "",
    ]
    for index in range(module * TASKS_PER_MODULE, (module + 1) * TASKS_PER_MODULE):
        signature = "x: int, label: str" if takes_label(index) else "x: int"
        body = f"return x + {index} + len(label)" if takes_label(index) else f"return x * {index % 9 + 2}"
        lines += [
            "",
            "",
            _task_decorator(index),
            f"def {task_name(index)}({signature}) -> int:",
            f"    {body}",
        ]
    return "\n".join(lines) + "\n"


def _task_module_of(task_index: int) -> int:
    return task_index // TASKS_PER_MODULE


def workflow_module(module: int) -> str:
    first = module * WORKFLOWS_PER_MODULE
    indices = range(first, first + WORKFLOWS_PER_MODULE)
    task_modules = sorted(
        {_task_module_of(k * TASKS_PER_WORKFLOW + j) for k in indices for j in range(TASKS_PER_WORKFLOW)}
    )
    lines = [
        f'"""Generated workflows {first}..{first + WORKFLOWS_PER_MODULE - 1} and their launch plans."""',
        "",
        "from flytekit import LaunchPlan, workflow",
        "",
        *(f"from {PACKAGE_NAME} import tasks_{m:02d}" for m in task_modules),
    ]
    for k in indices:
        lines += ["", ""]
        lines += _workflow(k)
        lines += ["", ""]
        lines += _launch_plan(k)
    return "\n".join(lines) + "\n"


def _workflow(k: int) -> list[str]:
    lines = ["@workflow", f'def {workflow_name(k)}(x: int = {k}, label: str = "{workflow_name(k)}") -> int:']
    value = "x"
    for j in range(TASKS_PER_WORKFLOW):
        index = k * TASKS_PER_WORKFLOW + j
        call = f"tasks_{_task_module_of(index):02d}.{task_name(index)}"
        arguments = f"x={value}, label=label" if takes_label(index) else f"x={value}"
        lines.append(f"    v{j} = {call}({arguments})")
        value = f"v{j}"
    if k % LAUNCH_PLAN_NODE_EVERY == LAUNCH_PLAN_NODE_EVERY - 1:
        lines.append(f"    lp_{k - 1:03d}(x={value})")  # even k-1: only defaults, so x may be passed
    lines.append(f"    return {value}")
    return lines


def _launch_plan(k: int) -> list[str]:
    inputs = f'fixed_inputs={{"label": "fixed-{k}"}}' if k % 2 else f'default_inputs={{"x": {k * 10}}}'
    return [
        f"lp_{k:03d} = LaunchPlan.get_or_create(",
        f'    workflow={workflow_name(k)}, name="{PACKAGE_NAME}.lp_{k:03d}", {inputs}',
        ")",
    ]


def write_sources(root: Path) -> Path:
    """Write the project under `root` (a folder holding the package folder); returns `root`."""
    package = root / PACKAGE_NAME
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text('"""Generated for the registration benchmark."""\n')
    for module in range(TASK_MODULES):
        (package / f"tasks_{module:02d}.py").write_text(task_module(module))
    for module in range(WORKFLOW_MODULES):
        (package / f"workflows_{module:02d}.py").write_text(workflow_module(module))
    return root


def pyflyte_command(output: Path) -> list[str]:
    """`pyflyte --pkgs bench_pkg package --copy all ...`, with this interpreter (the venv's flytekit)."""
    return [
        sys.executable,
        "-c",
        "import sys; from flytekit.clis.sdk_in_container.pyflyte import main; sys.exit(main())",
        "--pkgs",
        PACKAGE_NAME,
        "package",
        "--image",
        IMAGE,
        "--output",
        str(output),
        "--copy",
        "all",
        "--force",
    ]


def cache_root() -> Path:
    configured = os.environ.get("FLYTEADMIN_OPS_BENCH_CACHE", "")
    return Path(configured) if configured else Path.home() / ".cache" / "flyteadmin-ops-bench"


def cached_path() -> Path:
    """Where the archive of this generator version and this flytekit version lives (it may not exist)."""
    flytekit = metadata.version("flytekit")
    return cache_root() / f"register-package-g{GENERATOR_VERSION}-flytekit{flytekit}.tgz"


def build(output: Path) -> float:
    """Generate the sources in a temporary folder and run pyflyte there; returns pyflyte's wall seconds."""
    with tempfile.TemporaryDirectory(prefix="register-bench-src-") as scratch:
        root = write_sources(Path(scratch))
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        env.pop("FLYTECTL_CONFIG", None)
        start = time.perf_counter()
        proc = subprocess.run(
            pyflyte_command(output),
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=PYFLYTE_TIMEOUT_SECONDS,
            check=False,
        )
        seconds = time.perf_counter() - start
    if proc.returncode != 0 or not output.is_file():
        raise RuntimeError(f"pyflyte package failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return seconds


def package_path() -> Path:
    """The benchmark package, built once per generator and flytekit version. Concurrent builders each write
    a private file and rename it into place, so a reader never sees half an archive."""
    target = cached_path()
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix="building-") as scratch:
        built = Path(scratch) / target.name
        build(built)
        os.replace(built, target)
    return target


def counts(path: Path) -> Counter[str]:
    """How many entities of each kind the archive holds (kind names as in register's outcomes)."""
    from flyteadmin_ops.ops.package import LAUNCH_PLAN, TASK, WORKFLOW, load_package

    names = {TASK: "task", WORKFLOW: "workflow", LAUNCH_PLAN: "launch_plan"}
    return Counter(names[e.resource_type] for e in load_package(path))


def main() -> int:
    existed = cached_path().is_file()
    start = time.perf_counter()
    path = package_path()
    took = "cached" if existed else f"built in {time.perf_counter() - start:.1f} s"
    found = counts(path)
    print(f"{path} ({took}): {dict(found)}")
    return 0 if dict(found) == EXPECTED else 1


if __name__ == "__main__":
    raise SystemExit(main())
