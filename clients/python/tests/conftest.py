import itertools
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from servers import EngramServer  # noqa: E402

_names = itertools.count()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One server for the tests that do not restart or reconfigure it."""
    s = EngramServer(str(tmp_path_factory.mktemp("shared") / "data")).start()
    yield s
    s.stop()


@pytest.fixture
def space_name(request):
    base = "".join(ch if ch.isalnum() else "-" for ch in request.node.name.lower())[:48]
    return f"{base}-{next(_names)}".strip("-")
