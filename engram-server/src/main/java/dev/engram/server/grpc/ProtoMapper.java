package dev.engram.server.grpc;

import com.google.protobuf.Timestamp;
import dev.engram.core.model.Episode;
import dev.engram.core.model.InvalidInputException;
import dev.engram.core.model.Memory;
import dev.engram.core.model.Metric;
import dev.engram.core.model.RecallMode;
import dev.engram.core.model.RecallQuery;
import dev.engram.core.model.RecallResult;
import dev.engram.core.model.SpaceInfo;
import dev.engram.core.session.SessionEvent;
import dev.engram.proto.v1.EpisodeBatch;
import dev.engram.proto.v1.ObservationAck;
import dev.engram.proto.v1.RecallRequest;
import dev.engram.proto.v1.RecallResponse;
import dev.engram.proto.v1.Rejection;
import dev.engram.proto.v1.Resend;
import dev.engram.proto.v1.ResendReason;
import dev.engram.proto.v1.Space;
import dev.engram.proto.v1.StreamCapabilities;
import dev.engram.proto.v1.StreamError;
import dev.engram.proto.v1.StreamInitAck;
import dev.engram.proto.v1.StreamResponse;
import dev.engram.proto.v1.StreamState;
import dev.engram.proto.v1.StreamStatus;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Translates between the wire contract ({@code engram.v1}) and the engine's model. Pure
 * translation: no defaults beyond "unset", no validation (that lives in the engine). Shared by
 * every transport that speaks the protobuf messages (gRPC, and WebSocket through the canonical JSON
 * mapping).
 *
 * <p>Thread-safety: stateless.
 */
public final class ProtoMapper {
  private ProtoMapper() {}

  public static Episode toModel(dev.engram.proto.v1.Episode e) {
    float[] embedding = new float[e.getEmbeddingCount()];
    for (int i = 0; i < embedding.length; i++) {
      embedding[i] = e.getEmbedding(i);
    }
    Instant at =
        e.hasObservedAt()
            ? Instant.ofEpochSecond(e.getObservedAt().getSeconds(), e.getObservedAt().getNanos())
            : Instant.EPOCH;
    return new Episode(
        e.getId(),
        embedding,
        e.getContent(),
        at,
        e.getConfidence(),
        e.getMetadataCount() == 0 ? Map.of() : Map.copyOf(e.getMetadataMap()));
  }

  public static List<Episode> toModel(EpisodeBatch batch) {
    return toModel(batch.getEpisodesList());
  }

  public static List<Episode> toModel(List<dev.engram.proto.v1.Episode> episodes) {
    List<Episode> out = new ArrayList<>(episodes.size());
    for (dev.engram.proto.v1.Episode e : episodes) {
      out.add(toModel(e));
    }
    return out;
  }

  public static dev.engram.proto.v1.Episode toProto(Episode e) {
    dev.engram.proto.v1.Episode.Builder b =
        dev.engram.proto.v1.Episode.newBuilder()
            .setId(e.id())
            .setContent(e.content())
            .setObservedAt(timestamp(e.observedAt()))
            .setConfidence(e.confidence())
            .putAllMetadata(e.metadata());
    for (float x : e.embedding()) {
      b.addEmbedding(x);
    }
    return b.build();
  }

  public static RecallQuery toModel(RecallRequest r) {
    float[] embedding = new float[r.getEmbeddingCount()];
    for (int i = 0; i < embedding.length; i++) {
      embedding[i] = r.getEmbedding(i);
    }
    RecallMode mode =
        r.getMode() == dev.engram.proto.v1.RecallMode.RECALL_MODE_ASSOCIATIVE
            ? RecallMode.ASSOCIATIVE
            : RecallMode.SIMILARITY;
    return new RecallQuery(
        r.getRequestId(),
        r.getMemorySpaceId(),
        embedding,
        r.getText(),
        r.getK(),
        r.getMinScore(),
        mode,
        r.getIncludeEmbeddings());
  }

  public static RecallResponse toProto(String requestId, RecallResult result) {
    RecallResponse.Builder b =
        RecallResponse.newBuilder()
            .setRequestId(requestId)
            .setIndexedThrough(result.indexedThrough())
            .setTookMicros(result.tookMicros());
    for (Memory m : result.memories()) {
      b.addMemories(
          dev.engram.proto.v1.Memory.newBuilder()
              .setEpisode(toProto(m.episode()))
              .setScore(m.score())
              .setConfidence(m.confidence()));
    }
    return b.build();
  }

  public static Metric toModel(dev.engram.proto.v1.Metric metric) {
    return switch (metric) {
      case METRIC_COSINE -> Metric.COSINE;
      case METRIC_DOT -> Metric.DOT;
      case METRIC_L2 -> Metric.L2;
      case METRIC_UNSPECIFIED, UNRECOGNIZED ->
          throw new InvalidInputException(
              "metric is required: METRIC_COSINE, METRIC_DOT or METRIC_L2");
    };
  }

  public static dev.engram.proto.v1.Metric toProto(Metric metric) {
    return switch (metric) {
      case COSINE -> dev.engram.proto.v1.Metric.METRIC_COSINE;
      case DOT -> dev.engram.proto.v1.Metric.METRIC_DOT;
      case L2 -> dev.engram.proto.v1.Metric.METRIC_L2;
    };
  }

  public static Space toProto(SpaceInfo info) {
    return Space.newBuilder()
        .setMemorySpaceId(info.config().id().value())
        .setDimension(info.config().dimension())
        .setMetric(toProto(info.config().metric()))
        .setEpisodeCount(info.episodeCount())
        .setIndexedCount(info.indexedCount())
        .build();
  }

  /** The stream frame for a session event, stamped with the session id and server time. */
  public static StreamResponse toProto(SessionEvent event, String sessionId, Instant now) {
    StreamResponse.Builder b =
        StreamResponse.newBuilder().setSessionId(sessionId).setServerTimestamp(timestamp(now));
    switch (event) {
      case SessionEvent.InitAck a ->
          b.setInitAck(
              StreamInitAck.newBuilder()
                  .setSessionId(a.sessionId())
                  .setNextSequence(a.nextSequence())
                  .setCapabilities(
                      StreamCapabilities.newBuilder()
                          .setMaxObservationsPerSecond(a.capabilities().maxObservationsPerSecond())
                          .setQueueCapacity(a.capabilities().queueCapacity())
                          .setSupportsBackpressure(true)
                          .setDimension(a.capabilities().dimension())
                          .setMaxMessageBytes(a.capabilities().maxMessageBytes())
                          .setMaxBatchSize(a.capabilities().maxBatchSize())));
      case SessionEvent.Ack a ->
          b.setAck(
                  ObservationAck.newBuilder()
                      .setAcceptedThrough(a.acceptedThrough())
                      .setIndexedThrough(a.indexedThrough()))
              .setSequenceNumber(a.acceptedThrough());
      case SessionEvent.Status s ->
          b.setStatus(
              StreamStatus.newBuilder()
                  .setState(toProto(s.state()))
                  .setMessage(s.message())
                  .setQueueDepth(s.queueDepth())
                  .setQueueCapacity(s.queueCapacity())
                  .setPressure(s.pressure())
                  .setSuggestedRate(s.suggestedRate()));
      case SessionEvent.RecallAnswer r -> b.setRecall(toProto(r.requestId(), r.result()));
      case SessionEvent.Resend r ->
          b.setResend(
                  Resend.newBuilder()
                      .setFromSequence(r.fromSequence())
                      .setReason(
                          r.reason() == SessionEvent.ResendReason.GAP
                              ? ResendReason.RESEND_REASON_GAP
                              : ResendReason.RESEND_REASON_OVERLOADED)
                      .setRetryAfterMs(r.retryAfterMillis()))
              .setSequenceNumber(r.fromSequence());
      case SessionEvent.Rejection r ->
          b.setRejection(
                  Rejection.newBuilder()
                      .setSequenceNumber(r.sequenceNumber())
                      .setCode(r.code().number())
                      .setMessage(r.message())
                      .setRequestId(r.requestId()))
              .setSequenceNumber(r.sequenceNumber());
      case SessionEvent.Error e ->
          b.setError(StreamError.newBuilder().setCode(e.code().number()).setMessage(e.message()));
    }
    return b.build();
  }

  private static StreamState toProto(SessionEvent.StreamState state) {
    return switch (state) {
      case ACTIVE -> StreamState.STREAM_STATE_ACTIVE;
      case BACKPRESSURE -> StreamState.STREAM_STATE_BACKPRESSURE;
      case OVERLOADED -> StreamState.STREAM_STATE_OVERLOADED;
      case DRAINING -> StreamState.STREAM_STATE_DRAINING;
      case CLOSED -> StreamState.STREAM_STATE_CLOSED;
    };
  }

  private static Timestamp timestamp(Instant t) {
    return Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build();
  }
}
