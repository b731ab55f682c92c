"""An agent's memory over one connection: stream observations in, recall on the same stream.

    ./engram serve &                                  # gRPC on :50051; prints the admin token once
    ENGRAM_TOKEN=<admin token> python clients/python/examples/agent_memory.py [host:port]

Embeddings here are random stand-ins for a real embedding model's output (384-d).
"""

import os
import sys

import numpy as np

import engram

TARGET = sys.argv[1] if len(sys.argv) > 1 else "localhost:50051"
DIM = 384


def embed(text: str) -> np.ndarray:
    """A stand-in embedder: the same text always gives the same unit vector."""
    rng = np.random.default_rng(abs(hash(text)) % (2**32))
    v = rng.standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def main() -> None:
    with engram.EngramClient(TARGET, token=os.environ.get("ENGRAM_TOKEN")) as client:
        try:
            client.create_space("agent-1", DIM, "cosine")
        except engram.AlreadyExists:
            pass
        events = ["met Ana at the station", "Ana likes green tea", "the train was late",
                  "bought a ticket to Porto", "Ana works at the museum"]

        class Progress(engram.StreamListener):
            def on_status(self, status):
                print("server says:", engram.pb.StreamState.Name(status.state), "rate", status.suggested_rate)

        with client.stream("agent-1", listener=Progress()) as memory:
            for text in events:
                memory.observe(embed(text), text, metadata={"source": "chat"})  # buffered until acked
            hits = memory.recall(embed("Ana likes green tea"), k=3)  # sees the observations above
            for m in hits.memories:
                print(f"{m.score:.3f}  {m.episode.content}")
        # leaving the block drained the stream: every observation is acknowledged (durable)
        print(client.get_space("agent-1"))


if __name__ == "__main__":
    main()
