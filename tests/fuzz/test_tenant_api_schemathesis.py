"""schemathesis against the served OpenAPI schema of the tenant API (/t/<slug>/api/v1/,
issue 12): every operation, as an authenticated tenant (each request HMAC-signed as it is
sent), with a row of every kind in the database, through schemathesis' phases: coverage
(boundary values of every parameter and field), fuzzing (valid and invalid data) and
stateful (chains along the links it infers: create a contact, then read, change, delete it).

Asserted for every answer: no 5xx; the status code, content type, headers and body are
what the schema documents (a 4xx body is the ACS error shape); a created resource can be
read back and a deleted one is gone. Not asserted: that schema-valid data is accepted (the
server also checks what a schema cannot: phone numbers, zones, ownership of related ids),
or that every schema-invalid input is refused (DRF reads ISO 8601 times more liberally than
RFC 3339, and ignores unknown fields), and not the missing-authentication cases (the signer
signs everything; tests/callauto/test_hmac_auth.py covers those).

Bounded by counts, not time (a time budget makes schemathesis keep fuzzing until it is
spent): FUZZ_EXAMPLES examples per operation and mode (default 5) and at most 10 stateful
steps; the seed (FUZZ_SEED) is fixed by default so a run is repeatable. The totals are
printed at the end of the run.

Split so that xdist can spread it over its workers (as one test it was the suite's longest,
3-4 min, which bounded `make test`'s wall time): the coverage and fuzzing phases run in
SHARDS tests, each on the operations of every SHARDS-th collection (`/api/v1/<collection>`,
sorted; together every operation, each once), and the stateful phase, whose chains cross
collections, in a test of its own on the whole schema. A collection stays in one shard:
schemathesis fills path ids with those earlier answers of the run returned (a list, a
create), so a shard holding a resource's PUT without its POST or list only sees 404s.
"""

import os
from collections import Counter
from dataclasses import dataclass, field

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema

from tests.fuzz.harness import SignedWsgi, in_this_transaction
from tests.fuzz.seed import seed_tenant

pytestmark = pytest.mark.django_db

SCHEMA = "/t/acme/api/v1/schema?format=json"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
SEED = int(os.environ.get("FUZZ_SEED", "20261203"))
SHARDS = 8

CONFIG = {
    "seed": SEED,
    "workers": 1,
    "continue-on-failure": True,
    "parameters": {"tenant_slug": "acme"},
    "generation": {"mode": "all", "max-examples": EXAMPLES, "database": "none"},
    "phases": {
        # Boundary values of valid input; invalid input comes from the fuzzing phase.
        "coverage": {"generation": {"mode": "positive"}, "unexpected-methods": ["PUT"]},
        "stateful": {"max-steps": 10},
    },
    "checks": {
        "ignored_auth": {"enabled": False},
        "positive_data_acceptance": {"enabled": False},
        "negative_data_rejection": {"enabled": False},
    },
}


@dataclass
class Totals:
    operations: set[str] = field(default_factory=set)
    cases: Counter = field(default_factory=Counter)  # by phase
    statuses: Counter = field(default_factory=Counter)
    failures: dict[tuple[str, str], str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def line(self) -> str:
        phases = ", ".join(f"{phase.lower()} {n}" for phase, n in sorted(self.cases.items()))
        statuses = dict(sorted(self.statuses.items()))
        return (
            f"schemathesis: {len(self.operations)} operations, {sum(self.cases.values())} "
            f"cases ({phases}), {self.server_errors} 5xx; statuses {statuses}"
        )


def run(schema: schemathesis.schemas.BaseSchema) -> Totals:
    """Run every phase of schemathesis' engine on `schema`; what it saw and found."""
    totals = Totals()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            if event.phase.name != "STATEFUL_TESTING":
                totals.operations.add(event.recorder.label)
            totals.cases[event.phase.name] += len(event.recorder.cases)
            for interaction in event.recorder.interactions.values():
                if interaction.response is not None:
                    totals.statuses[interaction.response.status_code] += 1
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.failure_info is not None:
                        failure = check.failure_info.failure
                        key = (event.recorder.label, f"{check.name}: {failure.title}")
                        totals.failures.setdefault(
                            key, f"{failure.message}\n{check.failure_info.code_sample}"
                        )
        elif isinstance(event, events.NonFatalError | events.FatalError):
            totals.errors.append(str(getattr(event, "info", event)))
    return totals


def phases(*enabled: str) -> dict:
    """CONFIG with only the `enabled` phases of schemathesis on."""
    config = {**CONFIG, "phases": {name: dict(value) for name, value in CONFIG["phases"].items()}}
    for name in ("examples", "coverage", "fuzzing", "stateful"):
        config["phases"].setdefault(name, {})["enabled"] = name in enabled
    return config


def served_schema(tenant, config: dict) -> schemathesis.schemas.BaseSchema:
    return schemathesis.openapi.from_wsgi(
        SCHEMA, SignedWsgi(tenant), config=SchemathesisConfig.from_dict(config)
    )


def labels(schema: schemathesis.schemas.BaseSchema) -> list[str]:
    return sorted(op.ok().label for op in schema.get_all_operations())


def collection(label: str) -> str:
    return label.split("/api/v1/", 1)[1].split("/", 1)[0]


def shard_of(all_labels: list[str], shard: int) -> list[str]:
    collections = sorted({collection(label) for label in all_labels})
    mine = set(collections[shard::SHARDS])
    return [label for label in all_labels if collection(label) in mine]


def assert_clean(totals: Totals) -> None:
    assert not totals.errors, totals.errors
    found = "\n\n".join(
        f"{op} - {check}\n{detail}" for (op, check), detail in totals.failures.items()
    )
    assert not totals.failures, found
    assert totals.server_errors == 0


@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_operation_answers_generated_requests_as_its_schema_says(
    shard, tenant, gateway, callbacks, report_totals
):
    seed_tenant(tenant, gateway, callbacks.url)
    with in_this_transaction():
        whole = served_schema(tenant, phases("examples", "coverage", "fuzzing"))
        mine = shard_of(labels(whole), shard)
        totals = run(whole.include(name=mine))

    report_totals(f"shard {shard}: {totals.line()}")
    assert_clean(totals)
    assert mine
    assert sorted(totals.operations) == mine  # every operation of the shard ran
    assert totals.cases["COVERAGE"] > 0
    assert totals.cases["FUZZING"] > 0


def test_stateful_chains_across_operations_answer_as_the_schema_says(
    tenant, gateway, callbacks, report_totals
):
    seed_tenant(tenant, gateway, callbacks.url)
    with in_this_transaction():
        totals = run(served_schema(tenant, phases("stateful")))

    report_totals(f"stateful: {totals.line()}")
    assert_clean(totals)
    assert totals.cases["STATEFUL_TESTING"] > 0
