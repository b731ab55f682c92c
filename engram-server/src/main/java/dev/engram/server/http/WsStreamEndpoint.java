package dev.engram.server.http;

import dev.engram.core.Engram;
import dev.engram.core.model.Echo;
import dev.engram.core.model.Episode;
import dev.engram.core.model.InvalidFieldException;
import dev.engram.core.model.Limit;
import dev.engram.core.session.StreamConnection;
import dev.engram.core.telemetry.Door;
import dev.engram.proto.v1.StreamRequest;
import dev.engram.server.grpc.StreamDispatcher;
import java.nio.ByteBuffer;
import java.time.InstantSource;
import java.util.AbstractList;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;
import org.eclipse.jetty.websocket.api.StatusCode;

/**
 * The WebSocket door ({@code /v1/stream?space=ID}): one instance per socket. Each text frame is a
 * {@code StreamRequest} in protobuf's canonical JSON mapping and goes to the engine through the
 * same {@link StreamDispatcher} as a gRPC frame; answers go out through {@link WsStreamOutput}.
 * Reads are demand-driven (not auto-demanding): Jetty delivers the next frame only when the session
 * asks for more, so an overloaded session stops reading exactly as the gRPC door does.
 *
 * <p>A frame that is not valid JSON cannot be placed in the sequence, so it ends the stream with
 * {@code INVALID_ARGUMENT} naming the problem. A frame that is valid apart from an unknown field is
 * answered by what it was meant to be: observations get a {@code Rejection} per number (the numbers
 * are consumed), a recall a {@code Rejection} with its {@code request_id}, anything else ends the
 * stream, each naming the field.
 *
 * <p>The token comes from the upgrade request's {@code Authorization} header or the init frame's
 * {@code authorization} field, never from the query string (which ends up in access logs).
 *
 * <p>Public only because Jetty binds the listener methods by reflection.
 *
 * <p>Thread-safety: Jetty calls the listener methods of one socket one at a time (demand makes them
 * sequential); the output is thread-safe.
 */
public final class WsStreamEndpoint implements Session.Listener {
  private final Engram engine;
  private final InstantSource clock;
  private final HttpOptions options;
  private final WsStreams streams;
  private final String space;
  private final String authorization; // the upgrade request's header, or null
  private Session ws;
  private WsStreamOutput output;
  private StreamConnection connection;

  WsStreamEndpoint(
      Engram engine,
      InstantSource clock,
      HttpOptions options,
      WsStreams streams,
      String space,
      String authorization) {
    this.authorization = authorization;
    this.engine = engine;
    this.clock = clock;
    this.options = options;
    this.streams = streams;
    this.space = space == null ? "" : space;
  }

  @Override
  public void onWebSocketOpen(Session ws) {
    this.ws = ws;
    output = new WsStreamOutput(ws, clock, options.maxOutboundBytes(), streams);
    streams.opened(output);
    connection = engine.connect(Door.WEBSOCKET, output, authorization);
    output.requestMore(); // the init frame
  }

  @Override
  public void onWebSocketText(String text) {
    if (!output.received()) {
      return; // after the stream ended
    }
    StreamRequest request;
    try {
      request = JsonCodec.parse(text, StreamRequest.newBuilder()).build();
    } catch (InvalidFieldException problem) {
      malformed(text, problem);
      return;
    }
    if (request.hasInit()) {
      String named = request.getMemorySpaceId();
      if (!named.isEmpty() && !space.isEmpty() && !named.equals(space)) {
        connection.onMalformed(
            "memory_space_id '%s' differs from the socket's space '%s': leave it empty"
                .formatted(Echo.clip(named), Echo.clip(space)));
        return;
      }
      if (!space.isEmpty()) {
        request = request.toBuilder().setMemorySpaceId(space).build();
      }
    }
    StreamDispatcher.dispatch(connection, request);
  }

  @Override
  public void onWebSocketBinary(ByteBuffer payload, Callback callback) {
    callback.succeed();
    if (!output.received()) {
      return;
    }
    connection.onMalformed(
        "binary frames are not supported: send each StreamRequest as a JSON text frame");
  }

  @Override
  public void onWebSocketPing(ByteBuffer payload) {
    // With a ping handler of its own, Jetty leaves the pong to the endpoint.
    ws.sendPong(payload, Callback.NOOP);
    output.controlFrameReceived();
  }

  @Override
  public void onWebSocketPong(ByteBuffer payload) {
    output.controlFrameReceived();
  }

  @Override
  public void onWebSocketClose(int statusCode, String reason) {
    if (statusCode == StatusCode.MESSAGE_TOO_LARGE) {
      engine.limitRefused(Door.WEBSOCKET, Limit.MESSAGE_BYTES); // Jetty's check of the frame size
    }
    gone();
  }

  @Override
  public void onWebSocketError(Throwable cause) {
    gone();
  }

  private void gone() {
    if (output == null) {
      return;
    }
    output.closed();
    streams.closed(output);
    connection.onTransportClosed();
  }

  /** A frame the strict parser refused: see the class comment. */
  private void malformed(String text, InvalidFieldException problem) {
    StreamRequest.Builder meant = JsonCodec.parseLeniently(text, StreamRequest.newBuilder());
    if (meant == null || problem.field().equals("body")) {
      connection.onMalformed(problem.getMessage());
      return;
    }
    long sequence = meant.getSequenceNumber();
    switch (meant.getKindCase()) {
      case OBSERVATION, OBSERVATIONS -> {
        int count = meant.hasObservation() ? 1 : meant.getObservations().getEpisodesCount();
        connection.onObservations(
            meant.getMemorySpaceId(), sequence, new Unreadable(Math.max(1, count), problem));
      }
      case RECALL ->
          connection.onMalformedRecall(sequence, meant.getRecall().getRequestId(), problem);
      default -> connection.onMalformed(problem.getMessage());
    }
  }

  /** Episodes that could not be read: each {@code get} throws, so the session rejects each. */
  private static final class Unreadable extends AbstractList<Episode> {
    private final int size;
    private final InvalidFieldException problem;

    Unreadable(int size, InvalidFieldException problem) {
      this.size = size;
      this.problem = problem;
    }

    @Override
    public Episode get(int index) {
      throw problem;
    }

    @Override
    public int size() {
      return size;
    }
  }
}
