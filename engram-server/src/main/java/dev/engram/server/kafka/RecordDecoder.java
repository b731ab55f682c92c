package dev.engram.server.kafka;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.engram.core.model.EngramException;
import dev.engram.core.model.Episode;
import dev.engram.core.model.Metric;
import dev.engram.core.model.SpaceConfig;
import dev.engram.core.model.SpaceId;
import dev.engram.server.grpc.ProtoMapper;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;

/**
 * Turns a record of the episode topic into what it asks for: an episode for a space, a space
 * definition (a control record), or the reason it cannot be read. Translation only: the episode
 * itself is validated by the engine's one accept path.
 *
 * <p>The record format (docs/scale-out.md): key = the memory space id (UTF-8); value = an {@code
 * engram.v1.Episode} in protobuf binary, or in protobuf JSON when the header {@code content-type}
 * is {@code application/json}. A record with the header {@code engram-op: create-space} defines the
 * space of its key instead: headers {@code dimension} and {@code metric} (cosine, dot or l2;
 * default cosine), value ignored. An episode without an id gets {@code
 * kafka/<topic>/<partition>/<offset>}, so a redelivered record is a duplicate.
 *
 * <p>Thread-safety: stateless.
 */
final class RecordDecoder {
  static final String CONTENT_TYPE = "content-type";
  static final String JSON = "application/json";
  static final String OP = "engram-op";
  static final String CREATE_SPACE = "create-space";

  private static final JsonFormat.Parser JSON_PARSER = JsonFormat.parser();

  private RecordDecoder() {}

  /** What one record asks for. */
  sealed interface Decoded {}

  /** An episode for {@code space}, its id set. */
  record Observation(SpaceId space, Episode episode) implements Decoded {}

  /** A control record: define {@code space}. */
  record CreateSpace(SpaceConfig space) implements Decoded {}

  /** A record that cannot be read; {@code reason} names the problem (dead-letter header). */
  record Malformed(String reason) implements Decoded {}

  static Decoded decode(ConsumerRecord<String, byte[]> record) {
    if (record.key() == null) {
      return new Malformed("the record has no key: the key must be the memory space id");
    }
    SpaceId space;
    try {
      space = SpaceId.of(record.key());
    } catch (EngramException | IllegalArgumentException e) {
      return new Malformed("key: " + e.getMessage());
    }
    if (CREATE_SPACE.equals(header(record, OP))) {
      return createSpace(space, record);
    }
    if (record.value() == null) {
      return new Malformed("the record has no value: send an engram.v1.Episode");
    }
    dev.engram.proto.v1.Episode proto;
    try {
      if (JSON.equals(header(record, CONTENT_TYPE))) {
        dev.engram.proto.v1.Episode.Builder b = dev.engram.proto.v1.Episode.newBuilder();
        JSON_PARSER.merge(new String(record.value(), StandardCharsets.UTF_8), b);
        proto = b.build();
      } else {
        proto = dev.engram.proto.v1.Episode.parseFrom(record.value());
      }
    } catch (InvalidProtocolBufferException e) {
      return new Malformed("value is not an engram.v1.Episode: " + e.getMessage());
    }
    Episode episode;
    try {
      episode = ProtoMapper.toModel(proto);
    } catch (EngramException e) {
      return new Malformed(e.getMessage());
    }
    if (episode.id().isEmpty()) {
      episode =
          new Episode(
              "kafka/%s/%d/%d".formatted(record.topic(), record.partition(), record.offset()),
              episode.embedding(),
              episode.content(),
              episode.observedAt(),
              episode.confidence(),
              episode.metadata());
    }
    return new Observation(space, episode);
  }

  private static Decoded createSpace(SpaceId space, ConsumerRecord<String, byte[]> record) {
    String dimension = header(record, "dimension");
    String metric = header(record, "metric");
    try {
      return new CreateSpace(
          new SpaceConfig(
              space,
              Integer.parseInt(dimension == null ? "" : dimension),
              metric == null ? Metric.COSINE : Metric.valueOf(metric.toUpperCase(Locale.ROOT))));
    } catch (IllegalArgumentException | EngramException e) {
      return new Malformed(
          "create-space needs headers dimension (a number) and metric (cosine, dot or l2): "
              + e.getMessage());
    }
  }

  /** The last value of header {@code name}, or null. */
  static String header(ConsumerRecord<String, byte[]> record, String name) {
    Header h = record.headers().lastHeader(name);
    return h == null || h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8);
  }
}
