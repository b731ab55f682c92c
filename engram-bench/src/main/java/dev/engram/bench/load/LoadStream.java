package dev.engram.bench.load;

import dev.engram.client.EngramStream;
import dev.engram.proto.v1.Episode;
import dev.engram.proto.v1.RecallResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * One observe-and-recall stream as the load generator drives it, whichever door it goes through:
 * the gRPC stream (through the Java SDK, {@link #grpc}) or the WebSocket stream ({@link
 * WsStreamClient}). Both report acks, statuses, resends and rejections to the {@link StreamMeter}
 * they were opened with, so the scenarios measure the two doors the same way.
 *
 * <p>Thread-safety: {@link #observe} from one producer thread; {@link #recall} from any thread.
 */
interface LoadStream {
  /** Buffers one observation for sending; blocks while the stream's window is full. */
  void observe(Episode episode);

  /** A recall on the stream; completes with the answer that carries its request id. */
  CompletableFuture<RecallResponse> recall(float[] embedding, int k);

  /** Observations sent again after a {@code Resend} (so far). */
  long resent();

  /** Observations the server rejected (so far). */
  long rejected();

  /**
   * Waits until everything observed is acknowledged, sends {@code close{drain_queue=true}} and
   * waits for the end of the stream; true if it all happened within the timeout.
   */
  boolean close(Duration timeout);

  /** The gRPC door: the SDK's stream. */
  static LoadStream grpc(EngramStream stream) {
    return new LoadStream() {
      @Override
      public void observe(Episode episode) {
        stream.observe(episode);
      }

      @Override
      public CompletableFuture<RecallResponse> recall(float[] embedding, int k) {
        return stream.recall(embedding, k);
      }

      @Override
      public long resent() {
        return stream.stats().resent();
      }

      @Override
      public long rejected() {
        return stream.stats().rejected();
      }

      @Override
      public boolean close(Duration timeout) {
        return stream.close(timeout);
      }
    };
  }
}
