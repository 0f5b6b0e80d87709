"""Run labels against a real Prefect server: the flow run is renamed and gains the service tags,
keeping the tags it was created with."""

from __future__ import annotations

from uuid import UUID

import pytest
from prefect import flow, tags
from prefect.client.orchestration import get_client
from prefect.runtime import flow_run

from tasks.run_labels import label_flow_run, run_tags

pytestmark = pytest.mark.prefect


@flow(name="h2-label-probe")
def labelled_flow() -> str:
    label_flow_run(run_tags("h2-label-svc", "bisect"), "bisect h2-label-svc a..b")
    return str(flow_run.get_id())


def test_label_adds_service_tags_keeps_existing_and_renames(prefect_api_url: str) -> None:
    with tags("h2-created-with"):
        run_id = labelled_flow()
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(run_id))
    assert run.name == "bisect h2-label-svc a..b"
    assert set(run.tags) == {
        "h2-created-with",
        "service:h2-label-svc",
        "build-monitor:bisect",
    }
