package dev.engram.core.telemetry;

/**
 * The way a request reached the engine, as metrics label it ({@code door="grpc"}). Every door
 * reports through the same {@link EngineEvents} hook, so the counters of one outcome add up across
 * doors.
 *
 * <p>Thread-safety: an enum, immutable.
 */
public enum Door {
  /** The gRPC stream and unary calls. */
  GRPC("grpc"),
  /** The WebSocket stream. */
  WEBSOCKET("ws"),
  /** The REST (JSON over HTTP) calls. */
  REST("rest"),
  /** Records consumed from a Kafka topic (scale-out, {@code serve --kafka-bootstrap}). */
  KAFKA("kafka"),
  /** In-process calls on {@link dev.engram.core.Engram} that name no door (embedding, tests). */
  EMBEDDED("embedded");

  private final String label;

  Door(String label) {
    this.label = label;
  }

  /** The value of the {@code door} label. */
  public String label() {
    return label;
  }
}
