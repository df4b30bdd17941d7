"""A bounded fuzz pass over the REST API's OpenAPI document: no input, however odd, may
get a 500. Runs in-process against PostgreSQL (where NUL bytes and integer overflow bite)
with a valid API key, so the fuzzer gets past authentication."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from sqlalchemy.orm import Session

from reminders.db import make_engine
from reminders.web.app import create_app
from tests.web.conftest import RIVERSIDE_KEY, bearer, build_cast, web_settings

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def seeded_url(live_db_url: str) -> str:
    engine = make_engine(live_db_url)
    with Session(engine, expire_on_commit=False) as session:
        build_cast(session, datetime.now(UTC))
        session.commit()
    engine.dispose()
    return live_db_url


@pytest.fixture(scope="module")
def api_schema(seeded_url: str) -> Any:
    app = create_app(web_settings(seeded_url))
    return schemathesis.openapi.from_asgi("/openapi.json", app).include(path_regex="^/api/v1/")


def test_the_api_never_answers_500(api_schema: Any) -> None:
    """Each operation gets valid and invalid inputs (schemathesis' positive and negative
    modes); pytest 9 and schemathesis' lazy pytest loader disagree, so hypothesis drives it."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 7
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=25, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))  # fmt: skip
            def fuzz(case: Any) -> None:
                case.call_and_validate(headers=bearer(RIVERSIDE_KEY), checks=[not_a_server_error])

            fuzz()


def test_enrolment_payloads_near_the_valid_ones_never_answer_500(seeded_url: str) -> None:
    """The schema-driven pass rarely builds a valid phone or zone; this one starts from a
    valid enrolment and varies what reaches the database: text, times, ids, conditions."""
    from fastapi.testclient import TestClient
    from hypothesis import strategies as st

    from tests.conftest import alice_payload

    client = TestClient(create_app(web_settings(seeded_url)))
    zones = st.sampled_from(["America/Chicago", "Asia/Kolkata", "Australia/Lord_Howe", "UTC"])
    offsets = st.sampled_from(["+00:00", "-06:00", "+05:30", "+14:00", "-12:00"])
    moments = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2030, 1, 1))

    @given(name=st.text(min_size=1, max_size=120), mrn=st.one_of(st.none(), st.text(max_size=110)),
           zone=zones, performed=moments, offset=offsets,
           visit_days=st.one_of(st.none(), st.integers(-5, 4000)),
           conditions=st.lists(st.sampled_from(["diabetes", "anticoagulated", "x"]), max_size=3),
           channel=st.sampled_from(["sms", "email"]))  # fmt: skip
    @settings(max_examples=60, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def fuzz(name: str, mrn: str | None, zone: str, performed: datetime, offset: str,
             visit_days: int | None, conditions: list[str], channel: str) -> None:  # fmt: skip
        from datetime import timedelta

        payload: dict[str, Any] = alice_payload(channel=channel)
        payload["patient"] |= {"given_name": name, "external_id": mrn, "timezone": zone,
                               "conditions": conditions}  # fmt: skip
        at = performed.isoformat() + offset
        payload["procedure"] |= {"performed_at": at}
        payload["follow_up_at"] = (None if visit_days is None else
                                   (performed + timedelta(days=visit_days)).isoformat() + offset)
        response = client.post("/api/v1/enrollments", json=payload, headers=bearer(RIVERSIDE_KEY))
        assert response.status_code in (200, 201, 422), response.text

    fuzz()
