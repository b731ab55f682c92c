package dev.engram.server.kafka;

import dev.engram.core.model.Metric;
import dev.engram.core.model.SpaceConfig;
import dev.engram.core.model.SpaceId;
import java.util.Locale;

/**
 * The {@code serve --kafka-*} options: which topic a node consumes, in which group, and how it
 * treats records for spaces it does not know.
 *
 * @param bootstrap Kafka bootstrap servers, {@code HOST:PORT[,HOST:PORT...]}
 * @param topic the episode topic; {@code topic.dlq} is its dead-letter topic
 * @param group the consumer group the nodes share
 * @param nodeId this node's name in the group (its client id)
 * @param advertise the address other nodes and clients reach this node's gRPC door at
 * @param autoCreate null: a record for an unknown space is dead-lettered; otherwise the space is
 *     created with this dimension and metric
 * @param standby also follow the partitions this node does not own, so a takeover needs no replay
 * @param sessionTimeoutMs how long the group waits for a silent node before its partitions move (a
 *     node that stops cleanly leaves at once)
 */
public record KafkaOptions(
    String bootstrap,
    String topic,
    String group,
    String nodeId,
    String advertise,
    AutoCreate autoCreate,
    boolean standby,
    int sessionTimeoutMs) {

  public KafkaOptions {
    if (bootstrap == null || bootstrap.isBlank()) {
      throw new IllegalArgumentException("--kafka-bootstrap needs HOST:PORT");
    }
    if (topic == null || !topic.matches("[a-zA-Z0-9._-]{1,200}")) {
      throw new IllegalArgumentException(
          "--kafka-topic must be 1-200 of [a-zA-Z0-9._-], got '" + topic + "'");
    }
    if (group == null || group.isBlank()) {
      throw new IllegalArgumentException("--kafka-group must not be empty");
    }
    if (nodeId == null || !nodeId.matches("[a-zA-Z0-9._-]{1,100}")) {
      throw new IllegalArgumentException(
          "--node-id must be 1-100 of [a-zA-Z0-9._-], got '" + nodeId + "'");
    }
    if (sessionTimeoutMs < 1000 || sessionTimeoutMs > 300_000) {
      throw new IllegalArgumentException(
          "--kafka-session-timeout-ms must be 1000-300000, got " + sessionTimeoutMs);
    }
  }

  /** {@code --kafka-auto-create DIM[:METRIC]}: the definition an unknown space gets. */
  public record AutoCreate(int dimension, Metric metric) {
    public AutoCreate {
      if (dimension < 1 || dimension > SpaceConfig.MAX_DIMENSION) {
        throw new IllegalArgumentException(
            "--kafka-auto-create dimension must be 1-%d, got %d"
                .formatted(SpaceConfig.MAX_DIMENSION, dimension));
      }
    }

    /**
     * Parses {@code DIM[:METRIC]} (metric cosine, the default, dot or l2).
     *
     * @throws IllegalArgumentException naming the bad part
     */
    public static AutoCreate parse(String value) {
      String[] parts = value.split(":", 2);
      int dimension;
      try {
        dimension = Integer.parseInt(parts[0]);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            "--kafka-auto-create needs DIM[:METRIC], got '" + value + "'");
      }
      Metric metric = Metric.COSINE;
      if (parts.length == 2) {
        try {
          metric = Metric.valueOf(parts[1].toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException(
              "--kafka-auto-create metric must be cosine, dot or l2, got '" + parts[1] + "'");
        }
      }
      return new AutoCreate(dimension, metric);
    }
  }

  /** Default {@link #sessionTimeoutMs}. */
  public static final int DEFAULT_SESSION_TIMEOUT_MS = 10_000;

  /** The same options with the node id and address settled once the server listens. */
  public KafkaOptions withNode(String nodeId, String advertise) {
    return new KafkaOptions(
        bootstrap, topic, group, nodeId, advertise, autoCreate, standby, sessionTimeoutMs);
  }

  /** The dead-letter topic: {@code <topic>.dlq}. */
  public String deadLetterTopic() {
    return topic + ".dlq";
  }

  /** The definition an unknown space gets, or null when unknown spaces are dead-lettered. */
  SpaceConfig definitionFor(SpaceId space) {
    return autoCreate == null
        ? null
        : new SpaceConfig(space, autoCreate.dimension(), autoCreate.metric());
  }
}
