package dev.engram.server.grpc;

import com.google.protobuf.Timestamp;
import dev.engram.core.model.Episode;
import dev.engram.core.model.InvalidFieldException;
import dev.engram.core.model.Memory;
import dev.engram.core.model.Metric;
import dev.engram.core.model.RecallMode;
import dev.engram.core.model.RecallQuery;
import dev.engram.core.model.RecallResult;
import dev.engram.core.model.SpaceConfig;
import dev.engram.core.model.SpaceId;
import dev.engram.core.model.SpaceInfo;
import dev.engram.core.session.SessionEvent;
import dev.engram.proto.v1.CreateSpaceRequest;
import dev.engram.proto.v1.EpisodeBatch;
import dev.engram.proto.v1.FlowControl;
import dev.engram.proto.v1.ObservationAck;
import dev.engram.proto.v1.RecallFilter;
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
import java.time.Duration;
import java.time.Instant;
import java.util.AbstractList;
import java.util.List;
import java.util.Map;
import java.util.RandomAccess;

/**
 * Translates between the wire contract ({@code engram.v1}) and the engine's model. Pure
 * translation: no defaults beyond "unset", no validation (that lives in the engine). Shared by
 * every transport that speaks the protobuf messages (gRPC, and WebSocket through the canonical JSON
 * mapping).
 *
 * <p>Mapping errors: a field with no model value (a timestamp outside protobuf's range, an enum
 * value this server does not know) throws {@link InvalidFieldException} naming the field; the
 * engine answers it like any invalid input ({@code INVALID_ARGUMENT}). Episode lists decode lazily,
 * element by element as the engine reads them, so one undecodable episode is rejected alone where
 * the engine validates it.
 *
 * <p>Thread-safety: stateless.
 */
public final class ProtoMapper {
  private ProtoMapper() {}

  /** Smallest and largest seconds a protobuf Timestamp may hold: 0001-01-01 to 9999-12-31. */
  private static final long MIN_SECONDS = -62_135_596_800L;

  private static final long MAX_SECONDS = 253_402_300_799L;

  /**
   * @throws InvalidFieldException if {@code observed_at} is outside protobuf's timestamp range
   */
  public static Episode toModel(dev.engram.proto.v1.Episode e) {
    float[] embedding = new float[e.getEmbeddingCount()];
    for (int i = 0; i < embedding.length; i++) {
      embedding[i] = e.getEmbedding(i);
    }
    Instant at = e.hasObservedAt() ? instant(e.getObservedAt(), "observed_at") : Instant.EPOCH;
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

  /**
   * The episodes, decoded on access: {@code get(i)} maps element {@code i} each time it is called
   * and throws {@link InvalidFieldException} if it cannot be mapped.
   */
  public static List<Episode> toModel(List<dev.engram.proto.v1.Episode> episodes) {
    return new LazyEpisodes(episodes);
  }

  /** See {@link #toModel(List)}. */
  private static final class LazyEpisodes extends AbstractList<Episode> implements RandomAccess {
    private final List<dev.engram.proto.v1.Episode> episodes;

    LazyEpisodes(List<dev.engram.proto.v1.Episode> episodes) {
      this.episodes = episodes;
    }

    @Override
    public Episode get(int index) {
      return toModel(episodes.get(index));
    }

    @Override
    public int size() {
      return episodes.size();
    }
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

  /**
   * @throws InvalidFieldException for an unknown {@code mode} (unset means similarity)
   */
  public static RecallQuery toModel(RecallRequest r) {
    float[] embedding = new float[r.getEmbeddingCount()];
    for (int i = 0; i < embedding.length; i++) {
      embedding[i] = r.getEmbedding(i);
    }
    RecallMode mode =
        switch (r.getMode()) {
          case RECALL_MODE_UNSPECIFIED, RECALL_MODE_SIMILARITY -> RecallMode.SIMILARITY;
          case RECALL_MODE_ASSOCIATIVE -> RecallMode.ASSOCIATIVE;
          case RECALL_MODE_HYBRID -> RecallMode.HYBRID;
          case UNRECOGNIZED ->
              throw unknownEnum(
                  "mode",
                  r.getModeValue(),
                  "RECALL_MODE_SIMILARITY, RECALL_MODE_HYBRID or RECALL_MODE_ASSOCIATIVE");
        };
    return new RecallQuery(
        r.getRequestId(),
        r.getMemorySpaceId(),
        embedding,
        r.getText(),
        r.getK(),
        r.getMinScore(),
        mode,
        r.getIncludeEmbeddings(),
        r.hasFilter() ? toModel(r.getFilter()) : null);
  }

  /**
   * @throws InvalidFieldException for a bound outside the supported time range
   */
  public static dev.engram.core.model.RecallFilter toModel(RecallFilter f) {
    return new dev.engram.core.model.RecallFilter(
        f.getMetadataMap(),
        f.hasObservedAfter() ? instant(f.getObservedAfter(), "filter.observed_after") : null,
        f.hasObservedBefore() ? instant(f.getObservedBefore(), "filter.observed_before") : null,
        f.getSessionId());
  }

  public static RecallResponse toProto(String requestId, RecallResult result) {
    RecallResponse.Builder b =
        RecallResponse.newBuilder()
            .setRequestId(requestId)
            .setIndexedThrough(result.indexedThrough())
            .setTookMicros(result.tookMicros());
    for (Memory m : result.memories()) {
      dev.engram.proto.v1.Memory.Builder memory =
          dev.engram.proto.v1.Memory.newBuilder()
              .setEpisode(toProto(m.episode()))
              .setScore(m.score())
              .setConfidence(m.confidence())
              .addAllAliases(m.aliases())
              .setSessionId(m.episode().sessionId());
      if (m.explanation() != null) {
        var e = m.explanation();
        memory.setExplanation(
            dev.engram.proto.v1.Explanation.newBuilder()
                .setSeedRank(e.seedRank())
                .setSeedScore(e.seedScore())
                .setActivation(e.activation())
                .setHops(e.hops())
                .setConfidence(e.confidence())
                .setRecency(e.recency()));
      }
      b.addMemories(memory);
    }
    return b.build();
  }

  /**
   * The space a create request defines.
   *
   * @throws InvalidFieldException if {@code metric} is unset or unknown, or {@code
   *     half_life_seconds} is out of range
   */
  public static SpaceConfig toSpaceConfig(CreateSpaceRequest request) {
    long halfLife = request.getHalfLifeSeconds();
    if (halfLife < 0 || halfLife > SpaceConfig.MAX_HALF_LIFE.toSeconds()) {
      throw new InvalidFieldException(
          "half_life_seconds",
          "%s is out of range: use 0 (no decay) to %d"
              .formatted(Long.toUnsignedString(halfLife), SpaceConfig.MAX_HALF_LIFE.toSeconds()));
    }
    return new SpaceConfig(
        SpaceId.of(request.getMemorySpaceId()),
        request.getDimension(),
        toModel(request),
        Duration.ofSeconds(halfLife),
        request.getEmbedder());
  }

  /**
   * @throws InvalidFieldException if {@code metric} is unset or unknown
   */
  public static Metric toModel(CreateSpaceRequest request) {
    return switch (request.getMetric()) {
      case METRIC_COSINE -> Metric.COSINE;
      case METRIC_DOT -> Metric.DOT;
      case METRIC_L2 -> Metric.L2;
      case METRIC_UNSPECIFIED ->
          throw new InvalidFieldException(
              "metric", "is required: METRIC_COSINE, METRIC_DOT or METRIC_L2");
      case UNRECOGNIZED ->
          throw unknownEnum(
              "metric", request.getMetricValue(), "METRIC_COSINE, METRIC_DOT or METRIC_L2");
    };
  }

  /**
   * Whether a flow frame pauses (true) or resumes (false) the server's pushes.
   *
   * @throws InvalidFieldException if the action is unset or unknown
   */
  public static boolean pauses(FlowControl flow) {
    return switch (flow.getAction()) {
      case FLOW_ACTION_PAUSE -> true;
      case FLOW_ACTION_RESUME -> false;
      case FLOW_ACTION_UNSPECIFIED ->
          throw new InvalidFieldException(
              "flow.action", "is required: FLOW_ACTION_PAUSE or FLOW_ACTION_RESUME");
      case UNRECOGNIZED ->
          throw unknownEnum(
              "flow.action", flow.getActionValue(), "FLOW_ACTION_PAUSE or FLOW_ACTION_RESUME");
    };
  }

  private static InvalidFieldException unknownEnum(String field, int value, String known) {
    return new InvalidFieldException(
        field, "unknown value %d: this server knows %s".formatted(value, known));
  }

  /** A protobuf Timestamp as an instant, if it is within the range protobuf allows. */
  private static Instant instant(Timestamp t, String field) {
    if (t.getSeconds() < MIN_SECONDS
        || t.getSeconds() > MAX_SECONDS
        || t.getNanos() < 0
        || t.getNanos() > 999_999_999) {
      throw new InvalidFieldException(
          field,
          "seconds %d, nanos %d is not a valid timestamp: use 0001-01-01 to 9999-12-31 UTC with"
                  .formatted(t.getSeconds(), t.getNanos())
              + " nanos 0-999999999");
    }
    return Instant.ofEpochSecond(t.getSeconds(), t.getNanos());
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
        .setEmbedder(info.config().embedder())
        .setHalfLifeSeconds(info.config().halfLife().toSeconds())
        .setConsolidatedCount(info.consolidatedCount())
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
                      .setIndexedThrough(a.indexedThrough())
                      .setConsolidatedThrough(a.consolidatedThrough()))
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
