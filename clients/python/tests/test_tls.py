"""The SDK over TLS and mutual TLS against a real `engram serve`, with pairs from `engram cert`."""

import os
import subprocess

import pytest

import engram
from servers import LAUNCHER, REPO, EngramServer


def _cert(out_dir, *hosts):
    args = [LAUNCHER, "cert", "--out", str(out_dir)]
    for h in hosts:
        args += ["--host", h]
    subprocess.run(args, cwd=REPO, check=True, capture_output=True, timeout=120)
    return str(out_dir / "cert.pem"), str(out_dir / "key.pem")


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    base = tmp_path_factory.mktemp("tls")
    return _cert(base / "server", "localhost", "127.0.0.1"), _cert(base / "client", "engram-client")


def test_tls_unaryAndStream_roundTrip(pairs, tmp_path):
    (cert, key), _ = pairs
    server = EngramServer(str(tmp_path / "data"), "--tls-cert", cert, "--tls-key", key).start()
    try:
        target = f"localhost:{server.port}"
        with engram.EngramClient(target, root_certificates=cert) as client:
            client.create_space("tls", 3)
            with client.stream("tls") as stream:
                stream.observe(engram.episode([1, 0, 0], "secret", id="a"))
            assert client.recall("tls", [1, 0, 0], k=1).memories[0].episode.content == "secret"
        # a plaintext client gets no answer from the TLS port
        with engram.EngramClient(target, timeout=5) as plain:
            with pytest.raises(engram.EngramError):
                plain.list_spaces()
    finally:
        server.stop()


def test_mutualTls_clientCertificateRequired(pairs, tmp_path):
    (cert, key), (client_cert, client_key) = pairs
    server = EngramServer(str(tmp_path / "data"), "--tls-cert", cert, "--tls-key", key,
                          "--tls-client-ca", client_cert).start()
    try:
        target = f"localhost:{server.port}"
        with open(client_key, "rb") as f:
            key_bytes = f.read()  # bytes work as well as paths
        with engram.EngramClient(target, root_certificates=cert, client_cert=client_cert,
                                 client_key=key_bytes) as client:
            assert client.list_spaces() == []
        with engram.EngramClient(target, root_certificates=cert, timeout=5) as anonymous:
            with pytest.raises(engram.EngramError):
                anonymous.list_spaces()
    finally:
        server.stop()


def test_tlsOptions_checked(tmp_path):
    with pytest.raises(ValueError, match="missing.pem"):
        engram.EngramClient("localhost:1", root_certificates=str(tmp_path / "missing.pem"))
    with pytest.raises(ValueError, match="go together"):
        engram.EngramClient("localhost:1", tls=True, client_cert=b"x")
