"""A task, workflow and launch plans with one input of every kind, serialized by flytekit itself.

The value tests launch them with Python values: the interfaces (union tags, enum values, blob and
structured-dataset types, struct metadata) are exactly what flytekit registers, not our idea of them.
Every output has the name and type of an input, so the emulator's simulated engine echoes the inputs back
as outputs, and a round trip through a real launch shows both directions of the conversion.
Imported lazily by the tests (importing flytekit takes about a second).
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from flytekit import LaunchPlan, task, workflow
from flytekit.configuration import ImageConfig, SerializationSettings
from flytekit.models.admin.workflow import WorkflowSpec
from flytekit.models.launch_plan import LaunchPlan as LaunchPlanModel
from flytekit.models.task import TaskSpec
from flytekit.tools.translator import get_serializable
from flytekit.types.directory import FlyteDirectory
from flytekit.types.file import FlyteFile
from flytekit.types.structured import StructuredDataset

TASK_NAME = f"{__name__}.echo_everything"
LAUNCH_PLAN = "values_everything"
"""Defaults: rate=0.5, note=None; fixed: label="fixed-label"."""
FAILING_LAUNCH_PLAN = "values_everything_fails"
"""The same, under a name the simulated engine fails (it ends with `_fails`)."""


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Everything(NamedTuple):
    count: int
    rate: float
    flag: bool
    when: datetime
    span: timedelta
    counts: list[int]
    weights: dict[str, float]
    config: dict
    color: Color
    note: str | None
    choice: int | str
    report: FlyteFile
    folder: FlyteDirectory
    frame: StructuredDataset
    label: str
    nested: list[dict[str, int | None]]


@task
def echo_everything(
    count: int,
    rate: float,
    flag: bool,
    when: datetime,
    span: timedelta,
    counts: list[int],
    weights: dict[str, float],
    config: dict,
    color: Color,
    note: str | None,
    choice: int | str,
    report: FlyteFile,
    folder: FlyteDirectory,
    frame: StructuredDataset,
    label: str,
    nested: list[dict[str, int | None]],
) -> Everything:
    return Everything(
        count,
        rate,
        flag,
        when,
        span,
        counts,
        weights,
        config,
        color,
        note,
        choice,
        report,
        folder,
        frame,
        label,
        nested,
    )


@workflow
def everything_wf(
    count: int,
    rate: float,
    flag: bool,
    when: datetime,
    span: timedelta,
    counts: list[int],
    weights: dict[str, float],
    config: dict,
    color: Color,
    note: str | None,
    choice: int | str,
    report: FlyteFile,
    folder: FlyteDirectory,
    frame: StructuredDataset,
    label: str,
    nested: list[dict[str, int | None]],
) -> Everything:
    return echo_everything(
        count=count,
        rate=rate,
        flag=flag,
        when=when,
        span=span,
        counts=counts,
        weights=weights,
        config=config,
        color=color,
        note=note,
        choice=choice,
        report=report,
        folder=folder,
        frame=frame,
        label=label,
        nested=nested,
    )


everything_lp = LaunchPlan.get_or_create(
    everything_wf,
    name=LAUNCH_PLAN,
    default_inputs={"rate": 0.5, "note": None},
    fixed_inputs={"label": "fixed-label"},
)
everything_fails_lp = LaunchPlan.get_or_create(
    everything_wf,
    name=FAILING_LAUNCH_PLAN,
    default_inputs={"rate": 0.5, "note": None},
    fixed_inputs={"label": "fixed-label"},
)


def register(client: Any, project: str, domain: str, version: str) -> None:
    """Register the task, the workflow and the launch plan, dependencies first (as flytekit orders them)."""
    settings = SerializationSettings(
        image_config=ImageConfig.auto_default_image(), project=project, domain=domain, version=version
    )
    entities: OrderedDict[Any, Any] = OrderedDict()
    get_serializable(entities, settings, everything_lp)
    get_serializable(entities, settings, everything_fails_lp)
    for model in entities.values():
        if isinstance(model, TaskSpec):
            client.create_task(model.template.id, model)
        elif isinstance(model, WorkflowSpec):
            client.create_workflow(model.template.id, model)
        elif isinstance(model, LaunchPlanModel):
            client.create_launch_plan(model.id, model.spec)
