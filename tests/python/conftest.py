"""The servers under test: scripts/test starts the local server once per store and names
them in ALTA_TEST_SERVERS ("memory=http://127.0.0.1:PORT,dynamodb=http://127.0.0.1:PORT")."""

import os

import pytest


def _servers():
    raw = os.environ.get("ALTA_TEST_SERVERS", "")
    pairs = [item.split("=", 1) for item in raw.split(",") if "=" in item]
    if not pairs:
        raise RuntimeError("ALTA_TEST_SERVERS is not set: run these tests through scripts/test")
    return pairs


@pytest.fixture(params=_servers(), ids=lambda pair: pair[0])
def base_url(request):
    return request.param[1]


@pytest.fixture
def anyio_backend():
    return "asyncio"
