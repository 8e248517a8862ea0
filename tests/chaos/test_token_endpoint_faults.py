"""The automations as Prefect flows while the OAuth2 token endpoint refuses 40 % of token requests (429 with
`Retry-After: 1` and 503, alternately, seeded).

Each task run opens its own client, so every task run of a flow fetches a token: the refusals land in the
middle of flow runs, not only at their start. The client treats a 429 or 5xx from the token endpoint as an
outage and retries it like UNAVAILABLE; gRPC itself has no faults here, so every transport retry logged is
a refused token request. Each flow must complete with the server as it should be: the launch plan
promoted (copied from staging), the attributes matching the file, each failure recovered once.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from flyteidl.admin.common_pb2 import NamedEntityIdentifier

from flyteadmin_ops import demo
from flyteadmin_ops.blocks import FlyteAdminConnection
from flyteadmin_ops.client import SynchronousFlyteClient
from flyteadmin_ops.ops.package import load_package
from flyteadmin_ops.ops.register import register_package
from tests.chaos.support import DOMAIN, PROJECT, connect, faulty_emulator, make_failures, recoveries

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.prefect,
    pytest.mark.usefixtures("prefect_server"),
    pytest.mark.timeout(150),
]

CLIENT_ID, CLIENT_SECRET = "ops-bot", "s3cret-for-tests"
TOKEN_FAULT_RATE = 0.4
SEED = 3
FAILURES = 6
SHIPPED = Path(__file__).resolve().parents[2] / "config" / "attributes.yaml"
RETRY_LOG = re.compile(r"retrying (\S+) after UNAVAILABLE")


class Recorded(logging.Handler):
    """The transport's retry lines, kept on the logger itself (Prefect reconfigures the root logger)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def transport_log() -> Iterator[Recorded]:
    logger = logging.getLogger("flyteadmin_ops.transport")
    recorded, level = Recorded(), logger.level
    logger.addHandler(recorded)
    logger.setLevel(logging.INFO)
    yield recorded
    logger.removeHandler(recorded)
    logger.setLevel(level)


def test_flows_complete_while_the_token_endpoint_refuses_requests(
    pyflyte_package: Path, transport_log: Recorded
) -> None:
    from flyteadmin_ops.flows.promote import promote_launch_plan
    from flyteadmin_ops.flows.relaunch_failed import relaunch_failed
    from flyteadmin_ops.flows.sync_attributes import sync_attributes

    def setup(client: SynchronousFlyteClient) -> None:
        make_failures(client, pyflyte_package, FAILURES)
        assert register_package(client, load_package(pyflyte_package), PROJECT, "staging", "v1").ok

    faults = ("--oauth-client", f"{CLIENT_ID}:{CLIENT_SECRET}", "--token-fault-rate", str(TOKEN_FAULT_RATE))
    with faulty_emulator(setup, *faults, seed=SEED) as emulator:
        connection = FlyteAdminConnection(
            endpoint=emulator.endpoint,
            insecure=True,
            auth_mode="client_credentials",
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
        )
        states = {
            "promote": promote_launch_plan(
                demo.SCHEDULED_LAUNCH_PLAN,
                "v1",
                PROJECT,
                "production",
                connection,
                "staging",
                return_state=True,
            ),
            "sync-attributes": sync_attributes(str(SHIPPED), connection, return_state=True),
            "relaunch-failed": relaunch_failed(PROJECT, DOMAIN, connection, batch_size=2, return_state=True),
        }
        for name, state in states.items():
            assert state.is_completed(), (name, state.message)

        with connect(
            emulator.endpoint,
            attempts=12,
            auth_mode="client_credentials",
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
        ) as eyes:
            active = eyes.get_active_launch_plan(
                NamedEntityIdentifier(project=PROJECT, domain="production", name=demo.SCHEDULED_LAUNCH_PLAN)
            )
            assert active.id.version == "v1"
            assert recoveries(eyes) == Counter({f"broken-{number}": 1 for number in range(FAILURES)})

    text = "\n".join(transport_log.lines)
    assert CLIENT_SECRET not in text
    refused = Counter(RETRY_LOG.findall(text))
    assert refused, "no token request was refused: the test proves nothing"
    results = {name: state.result().totals for name, state in states.items()}
    print(
        f"token endpoint faults (rate {TOKEN_FAULT_RATE}, seed {SEED}): {sum(refused.values())} refused "
        f"token requests retried ({dict(refused)}); results {results}"
    )
