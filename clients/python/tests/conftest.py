import itertools
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from servers import EngramServer  # noqa: E402

_names = itertools.count()
# A queue large enough that indexing on a busy 2-core machine does not pace the big scenarios;
# the overload test runs its own server with a tiny queue.
BIG_QUEUE = ("--queue-capacity", "200000")


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One server for the tests that do not restart or reconfigure it."""
    s = EngramServer(str(tmp_path_factory.mktemp("shared") / "data"), *BIG_QUEUE).start()
    yield s
    s.stop()


@pytest.fixture
def space_name(request):
    base = "".join(ch if ch.isalnum() else "-" for ch in request.node.name.lower())[:48]
    return f"{base}-{next(_names)}".strip("-")
