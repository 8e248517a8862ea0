"""Named entities and description entities as a real flyteadmin v1.16.8 answers them (entries 68-76).

The rules behind the entries:
- named_entity_metadata.description is a varchar(300): a longer description reaches Postgres, which refuses
  it (UNKNOWN), counting characters, not bytes;
- ListNamedEntities pages over the distinct names (a subquery `entities`, sorted there) and then joins and
  filters; filters are checked against the NamedEntity model (alias `nen`; description/state are the
  metadata's, `nem`), and Postgres refuses what the subquery or the page does not have;
- a description entity is read back from its model's columns: the id, the short description, the long
  description and a source code with the link, the last two always present (so `source_code {}`);
- description entities are looked up by project, domain, name and version only, whatever the resource type
  (a missing one is gorm's "entry not found"), and listed by project, domain and name; the resource type only
  picks the model (task, workflow, launch plan) filters are checked against.
"""

from __future__ import annotations

import grpc
import pytest
from flyteidl.admin import common_pb2, description_entity_pb2
from google.protobuf import text_format

from tests.emulator.real.entities import register_scoring, register_task
from tests.emulator.real.support import Real, case

INVALID = grpc.StatusCode.INVALID_ARGUMENT
UNKNOWN = grpc.StatusCode.UNKNOWN
NOT_FOUND = grpc.StatusCode.NOT_FOUND
DB = "failed database operation with "
NAMES = 'project: "<P>" domain: "development" limit: 10'


@pytest.fixture
def described(real: Real) -> Real:
    """Tasks t.filt, ...normalize and ...square, workflow ...scoring, launch plan scoring_default."""
    register_task(real, "t.filt")
    register_task(real, "heldout_app.pipelines.square")
    register_scoring(real)
    return real


def _refused(real: Real, rpc: str, message_type: type, body: str) -> tuple[grpc.StatusCode, str]:
    failure = real.refused(rpc, real.parse(message_type, body))
    return failure.code, failure.message


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        case(
            68,
            "description 301 chars",
            "d" * 301,
            (UNKNOWN, DB + "value too long for type character varying(300)"),
        ),
        pytest.param("é" * 301, (UNKNOWN, DB + "value too long for type character varying(300)"), id="301 é"),
    ],
)
def test_update_named_entity_description_is_a_varchar_300(
    described: Real, description: str, expected: tuple[grpc.StatusCode, str]
) -> None:
    body = (
        'resource_type: TASK id { project: "<P>" domain: "development" name: "t.filt" }'
        f' metadata {{ description: "{description}" }}'
    )
    assert _refused(described, "UpdateNamedEntity", common_pb2.NamedEntityUpdateRequest, body) == expected


def test_a_description_of_300_characters_is_kept(described: Real) -> None:
    identifier = 'resource_type: TASK id { project: "<P>" domain: "development" name: "t.filt" }'
    update = f'{identifier} metadata {{ description: "{"é" * 300}" }}'
    described.call("UpdateNamedEntity", described.parse(common_pb2.NamedEntityUpdateRequest, update))
    got = described.call("GetNamedEntity", described.parse(common_pb2.NamedEntityGetRequest, identifier))
    assert got.metadata.description == "é" * 300


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        case(
            69,
            "bad filter field",
            f'resource_type: TASK {NAMES} filters: "eq(version,1)"',
            (INVALID, "'nen.version' is invalid filter"),
        ),
        pytest.param(
            f'resource_type: TASK {NAMES} filters: "eq(named_entity_metadata.version,1)"',
            (INVALID, "'nem.version' is invalid filter"),
            id="nem",
        ),
        pytest.param(
            f'resource_type: TASK {NAMES} filters: "eq(task.name,x)"',
            (INVALID, "'t' entity is not allowed in filters"),
            id="t",
        ),
        pytest.param(
            f'resource_type: TASK {NAMES} filters: "eq(resource_type,1)"',
            (UNKNOWN, DB + "column entities.resource_type does not exist"),
            id="the page has no type",
        ),
        pytest.param(
            f'resource_type: WORKFLOW {NAMES} filters: "eq(state,archived)"',
            (UNKNOWN, DB + 'invalid input syntax for type integer: "archived"'),
            id="state",
        ),
        pytest.param(
            f'resource_type: WORKFLOW {NAMES} filters: "contains(state,1)"',
            (UNKNOWN, DB + "operator does not exist: integer ~~ unknown"),
            id="LIKE on state",
        ),
        pytest.param(
            f'resource_type: TASK {NAMES} sort_by {{ key: "description" }}',
            (UNKNOWN, DB + 'column "description" does not exist'),
            id="sort by description",
        ),
        pytest.param(
            f'resource_type: LAUNCH_PLAN {NAMES} sort_by {{ key: "state" }}',
            (
                UNKNOWN,
                DB + 'column "launch_plans.state" must appear in the GROUP BY clause or be used in '
                "an aggregate function",
            ),
            id="sort by state of launch plans",
        ),
        pytest.param(
            f'resource_type: TASK {NAMES} sort_by {{ key: "version" }}',
            (INVALID, "invalid sort key 'version'"),
            id="sort by version",
        ),
        pytest.param(
            f'resource_type: TASK {NAMES} sort_by {{ key: "name" direction: 4 }}',
            (INVALID, 'invalid sort order specified: key:"name"  direction:4'),
            id="direction",
        ),
        pytest.param(
            f"resource_type: DATASET {NAMES}",
            (INVALID, "Cannot list entity names for resource type: DATASET"),
            id="dataset",
        ),
        pytest.param(
            f'resource_type: DATASET {NAMES} token: "x"',
            (INVALID, "invalid pagination token x for ListNamedEntities"),
            id="token before the type",
        ),
        pytest.param(
            'resource_type: TASK project: "<P>" domain: "development"',
            (INVALID, "invalid value for limit"),
            id="limit",
        ),
    ],
)
def test_list_named_entities_errors(
    described: Real, body: str, expected: tuple[grpc.StatusCode, str]
) -> None:
    assert _refused(described, "ListNamedEntities", common_pb2.NamedEntityListRequest, body) == expected


def test_get_named_entity_of_a_dataset_names_the_type(described: Real) -> None:
    body = 'resource_type: DATASET id { project: "<P>" domain: "development" name: "t.filt" }'
    expected = (INVALID, "Cannot get NamedEntityMetadata for resource type: DATASET")
    assert _refused(described, "GetNamedEntity", common_pb2.NamedEntityGetRequest, body) == expected


def test_named_entity_filters_apply_to_the_page_of_names(described: Real) -> None:
    """The page of names is taken first (sorted by name here), then filtered: a filter can empty a page."""
    sort = 'sort_by { key: "name" direction: ASCENDING }'

    def names(extra: str) -> list[str]:
        body = f"resource_type: TASK {NAMES.replace('limit: 10', 'limit: 1')} {sort} {extra}"
        found = described.call("ListNamedEntities", described.parse(common_pb2.NamedEntityListRequest, body))
        return [e.id.name for e in found.entities]

    assert names("") == ["heldout_app.pipelines.normalize"]
    assert names('filters: "eq(name,t.filt)"') == []  # t.filt is on a later page of names
    assert names('filters: "eq(name,t.filt)" token: "2"') == ["t.filt"]
    assert names('filters: "eq(state,0)"') == ["heldout_app.pipelines.normalize"]  # no metadata: ACTIVE


DESCRIBED = 'project: "<P>" domain: "development" name: "{name}" version: "{version}"'


def _full(real: Real, body: str) -> str:
    return text_format.MessageToString(body).replace(real.project, "<P>")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("resource_type", "name"),
    [
        case(70, "task heldout_app.pipelines.normalize", "TASK", "heldout_app.pipelines.normalize"),
        case(71, "task heldout_app.pipelines.square", "TASK", "heldout_app.pipelines.square"),
        case(72, "workflow", "WORKFLOW", "heldout_app.pipelines.scoring"),
    ],
)
def test_description_entities_carry_a_source_code(described: Real, resource_type: str, name: str) -> None:
    body = f"id {{ resource_type: {resource_type} {DESCRIBED.format(name=name, version='v1')} }}"
    got = described.call("GetDescriptionEntity", described.parse(common_pb2.ObjectGetRequest, body))
    expected = (
        f'id {{\n  resource_type: {resource_type}\n  project: "<P>"\n  domain: "development"\n'
        f'  name: "{name}"\n  version: "v1"\n}}\n'
        "long_description {\n  format: DESCRIPTION_FORMAT_RST\n}\nsource_code {\n}\n"
    )
    assert _full(described, got) == expected


@pytest.mark.parametrize(
    ("resource_type", "name", "version", "expected"),
    [
        case(
            73,
            "missing version",
            "WORKFLOW",
            "heldout_app.pipelines.scoring",
            "nope",
            (NOT_FOUND, "entry not found"),
        ),
        case(74, "launch plan id", "LAUNCH_PLAN", "scoring_default", "v1", (NOT_FOUND, "entry not found")),
        pytest.param(
            "UNSPECIFIED",
            "heldout_app.pipelines.scoring",
            "v1",
            (INVALID, "invalid value for resource_type"),
            id="no type",
        ),
        pytest.param(
            "TASK", "heldout_app.pipelines.scoring", "", (INVALID, "missing version"), id="no version"
        ),
    ],
)
def test_get_description_entity_refusals(
    described: Real, resource_type: str, name: str, version: str, expected: tuple[grpc.StatusCode, str]
) -> None:
    body = f"id {{ resource_type: {resource_type} {DESCRIBED.format(name=name, version=version)} }}"
    assert _refused(described, "GetDescriptionEntity", common_pb2.ObjectGetRequest, body) == expected


def test_any_resource_type_finds_the_description_of_that_name(described: Real) -> None:
    """The repository looks up by project, domain, name and version: a launch-plan id with a workflow's
    name gets the workflow's description, whose id says WORKFLOW."""
    name = "heldout_app.pipelines.scoring"
    body = f"id {{ resource_type: LAUNCH_PLAN {DESCRIBED.format(name=name, version='v1')} }}"
    got = described.call("GetDescriptionEntity", described.parse(common_pb2.ObjectGetRequest, body))
    assert (got.id.resource_type, got.id.name) == (2, name)


LISTED = 'id {{ project: "<P>" domain: "development" name: "{name}" }} limit: 10'


@pytest.mark.parametrize(
    ("resource_type", "name", "expected"),
    [
        case(75, "workflow name", "WORKFLOW", "heldout_app.pipelines.scoring", [("WORKFLOW", "v1")]),
        case(76, "lp", "LAUNCH_PLAN", "scoring_default", []),
        pytest.param(
            "LAUNCH_PLAN", "heldout_app.pipelines.scoring", [("WORKFLOW", "v1")], id="lp, workflow name"
        ),
        pytest.param("UNSPECIFIED", "heldout_app.pipelines.normalize", [("TASK", "v1")], id="no type"),
    ],
)
def test_list_description_entities_by_name(
    described: Real, resource_type: str, name: str, expected: list[tuple[str, str]]
) -> None:
    body = f"resource_type: {resource_type} {LISTED.format(name=name)}"
    found = described.call(
        "ListDescriptionEntities", described.parse(description_entity_pb2.DescriptionEntityListRequest, body)
    )
    kinds = [(("", "TASK", "WORKFLOW")[e.id.resource_type], e.id.version) for e in found.descriptionEntities]
    assert kinds == expected
    if expected:
        assert _full(described, found).endswith(
            '  version: "v1"\n  }\n  long_description {\n    format: DESCRIPTION_FORMAT_RST\n  }\n'
            "  source_code {\n  }\n}\n"
        )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            'resource_type: TASK {} filters: "eq(type,python-task)"',
            (UNKNOWN, DB + 'column "type" does not exist'),
            id="task column absent from descriptions",
        ),
        pytest.param(
            'resource_type: TASK {} filters: "eq(link,x)"',
            (INVALID, "'t.link' is invalid filter"),
            id="filters follow the task model",
        ),
        pytest.param(
            'resource_type: LAUNCH_PLAN {} filters: "eq(workflow.typed_interface,x)"',
            (UNKNOWN, DB + 'column "typed_interface" does not exist'),
            id="launch plans join workflows",
        ),
        pytest.param(
            'resource_type: WORKFLOW {} filters: "eq(version,v1)" token: "x"',
            (INVALID, "invalid pagination token x for ListWorkflows"),
            id="token names ListWorkflows",
        ),
        pytest.param(
            'resource_type: DATASET {} filters: "eq(version,v1)"',
            (grpc.StatusCode.INTERNAL, "unsupported entity ''"),
            id="dataset filters",
        ),
        pytest.param(
            'resource_type: TASK {} sort_by {{ key: "type" }}',
            (INVALID, "invalid sort key 'type'"),
            id="sort keys are the description's",
        ),
    ],
)
def test_list_description_entities_errors(
    described: Real, body: str, expected: tuple[grpc.StatusCode, str]
) -> None:
    request = (
        body.replace("{}", LISTED.format(name="heldout_app.pipelines.normalize"))
        .replace("{{", "{")
        .replace("}}", "}")
    )
    result = _refused(
        described, "ListDescriptionEntities", description_entity_pb2.DescriptionEntityListRequest, request
    )
    assert result == expected
