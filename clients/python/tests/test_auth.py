"""Authentication against a real server process: the admin token from --admin-token-file creates a
space and issues a space token; the SDK's ``token=`` carries it; no token and a read-only token are
refused."""
import pytest

import engram
from engram.errors import PermissionDenied
from servers import EngramServer

ADMIN = "python-sdk-admin-token-0123456789"


@pytest.fixture
def auth_server(tmp_path):
    token_file = tmp_path / "admin-token"
    token_file.write_text(ADMIN + "\n")
    s = EngramServer(str(tmp_path / "data"), "--auth", "on", "--admin-token-file", str(token_file)).start()
    yield s
    s.stop()


def test_token_roundtrip_and_refusals(auth_server):
    with engram.EngramClient(auth_server.target, token=ADMIN) as admin:
        admin.create_space("notes", 3, "cosine")
        writer = admin.issue_token("notes", ["read", "write"], name="agent")
        reader = admin.issue_token("notes", ["read"], ttl_seconds=3600)
        assert writer.secret.startswith("egt_")
        assert {t.id for t in admin.list_tokens()} >= {writer.token.id, reader.token.id}
        assert all(not hasattr(t, "secret") for t in admin.list_tokens())

    with engram.EngramClient(auth_server.target, token=writer.secret) as w:
        w.remember("notes", engram.episode([1.0, 0.0, 0.0], "hello", id="e1"))
        assert [m.episode.id for m in w.recall("notes", [1.0, 0.0, 0.0], k=1).memories] == ["e1"]

    with engram.EngramClient(auth_server.target) as anonymous:
        with pytest.raises(PermissionDenied):
            anonymous.list_spaces()

    with engram.EngramClient(auth_server.target, token=reader.secret) as r:
        assert [s.memory_space_id for s in r.list_spaces()] == ["notes"]
        with pytest.raises(PermissionDenied):
            r.remember("notes", engram.episode([0.0, 1.0, 0.0], "nope", id="e2"))

    with engram.EngramClient(auth_server.target, token=ADMIN) as admin:
        admin.revoke_token(writer.token.id)
    with engram.EngramClient(auth_server.target, token=writer.secret) as w:
        with pytest.raises(PermissionDenied):
            w.recall("notes", [1.0, 0.0, 0.0], k=1)
