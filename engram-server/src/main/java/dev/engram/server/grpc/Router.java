package dev.engram.server.grpc;

import dev.engram.proto.v1.GetSpaceRequest;
import dev.engram.proto.v1.RecallRequest;
import dev.engram.proto.v1.RecallResponse;
import dev.engram.proto.v1.Space;

/**
 * What the gRPC door consults before answering a recall or {@code GetSpace} itself: in a cluster
 * (docs/scale-out.md) a space may be owned by another node, which then answers. The door only asks;
 * where a call goes and how is the router's business ({@code server.kafka}).
 *
 * <p>Thread-safety: implementations are called from many call threads at once.
 */
public interface Router {
  /** The id of the node that owns {@code spaceId}, or empty when unknown (or no cluster). */
  String owner(String spaceId);

  /**
   * The owner's answer when another node owns the space, or null to answer here. Failures of the
   * forwarded call come back as {@link io.grpc.StatusRuntimeException}.
   *
   * @param authorization the caller's own {@code authorization} metadata (null: none), sent on
   */
  RecallResponse recall(RecallRequest request, String authorization);

  /** As {@link #recall}, for {@code GetSpace}. */
  Space getSpace(GetSpaceRequest request, String authorization);
}
