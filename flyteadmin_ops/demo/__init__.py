"""The bundled sample package: what `pyflyte package` made of `tests/fixtures/sample_project` (`ops_demo`).

It ships inside the wheel so `flyteadmin-ops demo` runs with no flytekit installed. Regenerate it with
`python scripts/make_sample_package.py`; a test fails when it no longer matches the sources. The names below
are the contract between the sample project, the demo and the tests.
"""

from pathlib import Path

SAMPLE_PACKAGE_PATH = Path(__file__).resolve().with_name("sample-package.tgz")

SAMPLE_TASKS = (
    "ops_demo.tasks.add",
    "ops_demo.tasks.square",  # has a resource request; the test-only variant package changes it
    "ops_demo.tasks.greet",
    "ops_demo.tasks.stamp",
    "ops_demo.tasks.maybe_fail",  # raises when its input `fail` is True
    "ops_demo.tasks.report_failure",  # failure node of flaky_wf
)
# flytekit names the map task after a hash of the mapped task (stable for one flytekit version).
SAMPLE_MAP_TASK_PREFIX = "ops_demo.tasks.map_square_"
SAMPLE_WORKFLOWS = (
    "ops_demo.workflows.sub_wf",  # subworkflow of main_wf
    "ops_demo.workflows.greet_wf",  # launched from main_wf through ops_demo.greet_lp
    "ops_demo.workflows.main_wf",  # subworkflow node, launch plan node, conditional branch
    "ops_demo.workflows.fanout_wf",  # array node (map task over square)
    "ops_demo.workflows.flaky_wf",  # fails when input `fail` is True; has a failure node
)
# pyflyte also writes a default launch plan, named like its workflow, for every workflow.
SAMPLE_LAUNCH_PLANS = (*SAMPLE_WORKFLOWS, "ops_demo.greet_lp", "ops_demo.nightly")
# cron "0 2 * * *", kickoff_time_input_arg "kickoff_time", input `fail` fixed to False.
SCHEDULED_LAUNCH_PLAN = "ops_demo.nightly"
REFERENCED_LAUNCH_PLAN = "ops_demo.greet_lp"  # a launch plan node inside main_wf
# Launch its default launch plan with inputs {"fail": True} to get a failing execution.
FAILING_WORKFLOW = "ops_demo.workflows.flaky_wf"
