package dev.engram.server.grpc;

import dev.engram.core.model.EngramException;
import dev.engram.core.model.InvalidFieldException;
import dev.engram.core.session.StreamConnection;
import dev.engram.proto.v1.StreamRequest;
import java.util.List;

/**
 * Hands one {@code StreamRequest} to the engine's {@link StreamConnection}: the one translation of
 * stream frames, shared by every door that carries them (gRPC as protobuf, WebSocket as JSON).
 *
 * <p>Thread-safety: stateless; callers serialise the frames of one stream.
 */
public final class StreamDispatcher {
  private StreamDispatcher() {}

  /**
   * Translates one stream frame. Observations are decoded lazily, so the session rejects an
   * undecodable episode alone (see {@link ProtoMapper}); any other frame that cannot be mapped is
   * answered here, once: a recall with a {@code Rejection}, anything else by ending the stream with
   * {@code INVALID_ARGUMENT}, both naming the field.
   */
  public static void dispatch(StreamConnection connection, StreamRequest request) {
    String space = request.getMemorySpaceId();
    long sequence = request.getSequenceNumber();
    try {
      switch (request.getKindCase()) {
        case INIT ->
            connection.onInit(space, request.getSessionId(), request.getInit().getAuthorization());
        case OBSERVATION ->
            connection.onObservations(
                space, sequence, ProtoMapper.toModel(List.of(request.getObservation())));
        case OBSERVATIONS ->
            connection.onObservations(
                space, sequence, ProtoMapper.toModel(request.getObservations()));
        case RECALL -> connection.onRecall(sequence, ProtoMapper.toModel(request.getRecall()));
        case FLOW -> connection.onFlow(ProtoMapper.pauses(request.getFlow()));
        case CLOSE -> connection.onClose(request.getClose().getDrainQueue());
        case KIND_NOT_SET ->
            connection.onMalformed(
                "StreamRequest.kind is not set: send one of init, observation, observations,"
                    + " recall, flow, close");
      }
    } catch (InvalidFieldException e) {
      if (request.hasRecall()) {
        connection.onMalformedRecall(sequence, request.getRecall().getRequestId(), e);
      } else {
        connection.onMalformed(e.getMessage());
      }
    } catch (EngramException e) {
      connection.onRefused(e); // its own status, never the transport's UNKNOWN
    }
  }
}
