"""Recording tests: the engine's gateway, callback and support-call fixtures (from
tests/calls), recording files in a temporary directory."""

import pytest

from tests.calls.conftest import (  # noqa: F401  (fixtures and the support call's ids)
    AGENT,
    CUSTOMER,
    EXPERT,
    OUR_NUMBER,
    _tasks_run_inline,
    callbacks,
    gateway,
    grid_receiver,
    p2p,
)
from tests.recordings.storage import temporary_recordings_storage


@pytest.fixture(autouse=True)
def recordings_dir(tmp_path, settings, live_server):
    """Files go to a fresh directory; *Location URLs point at the live server."""
    settings.PUBLIC_BASE_URL = live_server.url
    settings.MEDIA_CACHE_DIR = tmp_path / "media-cache"
    with temporary_recordings_storage(tmp_path / "recordings") as directory:
        yield directory
