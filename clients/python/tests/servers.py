"""Test helpers: a real Engram server process (the launcher's `serve`) and a chaos TCP proxy."""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import threading
import time

REPO = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
LAUNCHER = os.path.join(REPO, "engram")


class EngramServer:
    """`./engram serve --grpc-port N --no-http --data-dir DIR [args]`; port 0 picks a free one at
    first start. HTTP is off: its default port (7432) may be taken on the machine."""

    def __init__(self, data_dir: str, *args: str, port: int = 0):
        self.data_dir = data_dir
        self.args = list(args)
        self.port = port
        self.proc: subprocess.Popen | None = None
        self.log_path = os.path.join(os.path.dirname(data_dir), f"server-{os.path.basename(data_dir)}.log")

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> "EngramServer":
        log = open(self.log_path, "ab")
        deadline = time.monotonic() + timeout
        while True:
            self.proc = subprocess.Popen(
                [LAUNCHER, "serve", "--grpc-port", str(self.port), "--no-http", "--data-dir", self.data_dir, *self.args,
                 *([] if "--auth" in self.args else ["--auth", "off"])],
                stdout=subprocess.PIPE, stderr=log, cwd=REPO, start_new_session=True)
            line = self.proc.stdout.readline().decode("utf-8", "replace")
            m = re.search(r"gRPC on port (\d+)", line)
            if m:
                self.port = int(m.group(1))
                threading.Thread(target=self._drain, args=(self.proc,), daemon=True).start()
                return self
            self.proc.wait(10)
            if time.monotonic() > deadline:
                with open(self.log_path, "rb") as f:
                    tail = f.read()[-3000:].decode("utf-8", "replace")
                raise RuntimeError(f"engram serve did not start (port {self.port}): {line!r}\n{tail}")
            time.sleep(0.2)  # the port of a just-killed server may still be held for a moment

    @staticmethod
    def _drain(proc):
        for _ in proc.stdout:
            pass

    def stop(self, sig=signal.SIGTERM, timeout: float = 30.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


class ChaosProxy:
    """A loopback TCP proxy that can cut every connection (``cut``), cut at random points
    (``start_chaos``) or hold all bytes (``pause`` / ``resume``)."""

    def __init__(self, upstream_port: int):
        self.upstream = ("127.0.0.1", upstream_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.cuts = 0
        self.flowing = threading.Event()
        self.flowing.set()
        self.closed = False
        self._chaos_stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self.pairs.append((client, server))
            threading.Thread(target=self._pipe, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client), daemon=True).start()

    def _pipe(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                self.flowing.wait()
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> int:
        """Closes every open connection abruptly; returns how many."""
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for a, b in pairs:
            for s in (a, b):
                try:
                    # shutdown wakes the pipe thread blocked in recv (close alone would not).
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                try:
                    s.close()
                except OSError:
                    pass
        if pairs:
            self.cuts += 1
        return len(pairs)

    def start_chaos(self, min_interval: float, max_interval: float, seed: int = 7) -> None:
        rnd = random.Random(seed)

        def run():
            while not self._chaos_stop.wait(rnd.uniform(min_interval, max_interval)):
                self.cut()

        threading.Thread(target=run, daemon=True).start()

    def stop_chaos(self) -> None:
        self._chaos_stop.set()

    def pause(self) -> None:
        self.flowing.clear()

    def resume(self) -> None:
        self.flowing.set()

    def close(self) -> None:
        self.closed = True
        self.stop_chaos()
        self.flowing.set()
        self.listener.close()
        self.cut()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
