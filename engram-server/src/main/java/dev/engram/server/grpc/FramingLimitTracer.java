package dev.engram.server.grpc;

import dev.engram.core.Engram;
import dev.engram.core.model.Limit;
import dev.engram.core.telemetry.Door;
import io.grpc.Metadata;
import io.grpc.ServerStreamTracer;
import io.grpc.Status;

/**
 * Counts the refusals gRPC's own framing makes: a message over {@code maxInboundMessageSize} ends
 * its call with {@code RESOURCE_EXHAUSTED} inside the transport, before any handler sees it, so the
 * stream's tracer is the one place that learns of it.
 *
 * <p>Thread-safety: stateless; the engine's events are thread-safe.
 */
public final class FramingLimitTracer extends ServerStreamTracer.Factory {
  private final Engram engine;

  public FramingLimitTracer(Engram engine) {
    this.engine = engine;
  }

  @Override
  public ServerStreamTracer newServerStreamTracer(String fullMethodName, Metadata headers) {
    return new ServerStreamTracer() {
      @Override
      public void streamClosed(Status status) {
        if (isFramingLimit(status)) {
          engine.limitRefused(Door.GRPC, Limit.MESSAGE_BYTES);
        }
      }
    };
  }

  /** grpc-java's deframer's refusal: "gRPC message exceeds maximum size N: M". */
  static boolean isFramingLimit(Status status) {
    return status.getCode() == Status.Code.RESOURCE_EXHAUSTED
        && status.getDescription() != null
        && status.getDescription().contains("exceeds maximum size");
  }
}
