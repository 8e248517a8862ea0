"""Projects as a real flyteadmin v1.16.8 answers them (entries 2-9 of the reference).

The rules behind the entries:
- project ids, label keys and label values are checked with Kubernetes' own validators
  (k8s.io/apimachinery v0.34.1 `IsDNS1123Label`, `IsQualifiedName`, `IsValidLabelValue`), whose message
  lists flyteadmin prints with Go's `%v` (`[msg msg]`); an id that is a valid DNS subdomain but no label
  "must not contain dots";
- `ValidateProject` checks the id, then the labels, then the id's form, then name and description lengths;
- UpdateProject first looks the project up (gorm drops an empty id, so "" finds a project), then validates:
  an empty id is "missing project_id";
- ListProjects parses filters against the `projects` model (alias `p`), checks the sort (an unknown
  direction is printed as Go prints the Sort), and lets Postgres cast values (`state` is an integer).
"""

from __future__ import annotations

import grpc
import pytest
from flyteidl.admin import project_pb2

from tests.emulator.real.support import Real, case

INVALID = grpc.StatusCode.INVALID_ARGUMENT
UNKNOWN = grpc.StatusCode.UNKNOWN
NAME_PART = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_VALUE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
DNS_LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        case(
            2,
            "bad id: dot",
            'project { id: "has.dot" name: "x" }',
            "invalid project id [has.dot]: [must not contain dots]",
        ),
        case(
            3,
            "bad label key",
            'project { id: "<P>-lab" name: "x" labels { values { key: "Bad Key!" value: "v" } } }',
            f"invalid label key [Bad Key!]: [{NAME_PART}]",
        ),
        case(
            4,
            "bad label value",
            'project { id: "<P>-labv" name: "x" labels { values { key: "k" value: "bad value!" } } }',
            f"invalid label value [bad value!]: [{LABEL_VALUE}]",
        ),
        # The same rules with other inputs: both id messages at once, a prefixed key, long keys and values.
        pytest.param(
            'project { id: "' + "A" * 64 + '" name: "x" }',
            f"invalid project id [{'A' * 64}]: [must be no more than 63 characters {DNS_LABEL}]",
            id="id too long and not a label",
        ),
        pytest.param(
            'project { id: "' + "a." * 40 + 'a" name: "x" }',
            f"invalid project id [{'a.' * 40}a]: [must be no more than 63 characters must not contain dots]",
            id="id too long with dots",
        ),
        pytest.param(
            'project { id: "-x" name: "x" }', f"invalid project id [-x]: [{DNS_LABEL}]", id="id starts with -"
        ),
        pytest.param(
            'project { id: "<P>-k" name: "x" labels { values { key: "Bad_Prefix/name" value: "v" } } }',
            f"invalid label key [Bad_Prefix/name]: [prefix part {SUBDOMAIN}]",
            id="label key with a bad prefix",
        ),
        pytest.param(
            'project { id: "<P>-k" name: "x" labels { values { key: "/name" value: "v" } } }',
            "invalid label key [/name]: [prefix part must be non-empty]",
            id="label key with an empty prefix",
        ),
        pytest.param(
            'project { id: "<P>-k" name: "x" labels { values { key: "a/b/c" value: "v" } } }',
            "invalid label key [a/b/c]: [a qualified name must consist of alphanumeric characters, '-', '_' "
            "or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  "
            "or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an "
            "optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')]",
            id="label key with two slashes",
        ),
        pytest.param(
            'project { id: "<P>-k" name: "x" labels { values { key: "' + "k" * 64 + '" value: "v" } } }',
            f"invalid label key [{'k' * 64}]: [name part must be no more than 63 characters]",
            id="label key too long",
        ),
        pytest.param(
            'project { id: "<P>-k" name: "x" labels { values { key: "example.com/" value: "v" } } }',
            f"invalid label key [example.com/]: [name part must be non-empty {NAME_PART}]",
            id="label key with an empty name",
        ),
        pytest.param(
            'project { id: "<P>-k" name: "x" labels { values { key: "k" value: "' + "v" * 64 + '" } } }',
            f"invalid label value [{'v' * 64}]: [must be no more than 63 characters]",
            id="label value too long",
        ),
        pytest.param(
            'project { id: "Bad.Id" name: "x" labels { values { key: "Bad Key!" value: "v" } } }',
            f"invalid label key [Bad Key!]: [{NAME_PART}]",
            id="labels are checked before the id",
        ),
    ],
)
def test_register_project_uses_kubernetes_validation_texts(real: Real, body: str, expected: str) -> None:
    failure = real.refused("RegisterProject", real.parse(project_pb2.ProjectRegisterRequest, body))
    assert (failure.code, failure.message) == (INVALID, expected)


def test_valid_kubernetes_names_register(real: Real) -> None:
    body = (
        'project { id: "<P>-ok" name: "x" labels { values { key: "example.com/Team_1.x" value: "" }'
        ' values { key: "k" value: "My-value_1.2" } } }'
    )
    real.call("RegisterProject", real.parse(project_pb2.ProjectRegisterRequest, body))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        case(
            8,
            "bad label",
            'id: "<P>-b" name: "x" labels { values { key: "Bad Key!" value: "v" } }',
            f"invalid label key [Bad Key!]: [{NAME_PART}]",
        ),
        case(9, "empty id", 'name: "x"', "missing project_id"),
        pytest.param(
            'id: "<P>-b" labels { values { key: "k" value: "bad value!" } }',
            f"invalid label value [bad value!]: [{LABEL_VALUE}]",
            id="bad label value",
        ),
    ],
)
def test_update_project_validates_after_finding_the_project(real: Real, body: str, expected: str) -> None:
    real.register_project(f"{real.project}-b", name="b")
    failure = real.refused("UpdateProject", real.parse(project_pb2.Project, body))
    assert (failure.code, failure.message) == (INVALID, expected)


def test_update_of_a_missing_project_is_not_found_before_validation(real: Real) -> None:
    body = 'id: "<P>-none" labels { values { key: "Bad Key!" value: "v" } }'
    failure = real.refused("UpdateProject", real.parse(project_pb2.Project, body))
    assert (failure.code, failure.message) == (grpc.StatusCode.NOT_FOUND, "project [<P>-none] not found")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        case(
            5,
            "bad direction",
            'limit: 10 filters: "contains(identifier,<P>)" sort_by { key: "name" direction: 7 }',
            (INVALID, 'invalid sort order specified: key:"name"  direction:7'),
        ),
        case(
            6,
            "bad filter eq(bogus,1)",
            'limit: 10 filters: "eq(bogus,1)"',
            (INVALID, "'p.bogus' is invalid filter"),
        ),
        case(
            7,
            "bad filter eq(state,notanumber)",
            'limit: 10 filters: "eq(state,notanumber)"',
            (UNKNOWN, 'failed database operation with invalid input syntax for type integer: "notanumber"'),
        ),
        pytest.param(
            'limit: 10 filters: "eq(task.name,x)"',
            (INVALID, "'t' entity is not allowed in filters"),
            id="join",
        ),
        pytest.param(
            'limit: 10 filters: "gt(id,1.5)"',
            (UNKNOWN, 'failed database operation with invalid input syntax for type bigint: "1.5"'),
            id="id is a bigint",
        ),
        pytest.param(
            'limit: 10 filters: "lt(updated_at,soon)"',
            (
                UNKNOWN,
                "failed database operation with invalid input syntax for type timestamp with time zone: "
                '"soon"',
            ),
            id="updated_at is a timestamp",
        ),
        pytest.param(
            'limit: 10 filters: "contains(state,1)"',
            (UNKNOWN, "failed database operation with operator does not exist: integer ~~ unknown"),
            id="LIKE on an integer",
        ),
        pytest.param(
            'limit: 10 filters: "eq(state,99999999999)"',
            (UNKNOWN, 'failed database operation with value "99999999999" is out of range for type integer'),
            id="integer out of range",
        ),
        pytest.param(
            'limit: 10 filters: "eq(state,x)" sort_by { key: "bogus" }',
            (INVALID, "invalid sort key 'bogus'"),
            id="the sort is checked before the database",
        ),
        pytest.param(
            'limit: 10 filters: "eq(state,x)" token: "-1"',
            (INVALID, "invalid pagination token -1 for ListProjects"),
            id="the token is checked before the database",
        ),
    ],
)
def test_list_projects_filters_and_sort(real: Real, body: str, expected: tuple[grpc.StatusCode, str]) -> None:
    failure = real.refused("ListProjects", real.parse(project_pb2.ProjectListRequest, body))
    assert (failure.code, failure.message) == expected


def test_list_projects_values_postgres_accepts(real: Real) -> None:
    """Values Postgres casts are fine: integers with blanks or a sign, special and free-form timestamps."""
    for filters in (
        "eq(state, 0 )",
        "eq(state,-0)",
        "gte(created_at,yesterday)",
        "lt(created_at,Jan 5 2999)",
    ):
        listed = real.call(
            "ListProjects", real.parse(project_pb2.ProjectListRequest, f'filters: "{filters}"')
        )
        assert real.project in [p.id for p in listed.projects], filters
