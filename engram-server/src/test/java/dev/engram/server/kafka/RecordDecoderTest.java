package dev.engram.server.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import dev.engram.core.model.Metric;
import dev.engram.proto.v1.Episode;
import dev.engram.server.kafka.RecordDecoder.CreateSpace;
import dev.engram.server.kafka.RecordDecoder.Malformed;
import dev.engram.server.kafka.RecordDecoder.Observation;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.api.Test;

class RecordDecoderTest {

  private static ConsumerRecord<String, byte[]> record(
      String key, byte[] value, String... headers) {
    RecordHeaders h = new RecordHeaders();
    for (int i = 0; i < headers.length; i += 2) {
      h.add(headers[i], headers[i + 1].getBytes(StandardCharsets.UTF_8));
    }
    return new ConsumerRecord<>(
        "t", 3, 41, 0L, TimestampType.CREATE_TIME, -1, -1, key, value, h, Optional.empty());
  }

  @Test
  void protobuf_withoutId_getsTopicPartitionOffset() {
    byte[] value = Episode.newBuilder().addEmbedding(1).addEmbedding(2).build().toByteArray();
    var decoded = (Observation) RecordDecoder.decode(record("s1", value));
    assertThat(decoded.space().value()).isEqualTo("s1");
    assertThat(decoded.episode().id()).isEqualTo("kafka/t/3/41");
    assertThat(decoded.episode().embedding()).containsExactly(1f, 2f);
  }

  @Test
  void json_whenTheHeaderSaysSo_keepsItsId() {
    byte[] value = "{\"id\":\"e1\",\"content\":\"hi\"}".getBytes(StandardCharsets.UTF_8);
    var decoded =
        (Observation) RecordDecoder.decode(record("s1", value, "content-type", "application/json"));
    assertThat(decoded.episode().id()).isEqualTo("e1");
    assertThat(decoded.episode().content()).isEqualTo("hi");
  }

  @Test
  void controlRecord_definesTheSpaceOfItsKey() {
    var decoded =
        (CreateSpace)
            RecordDecoder.decode(
                record("s1", null, "engram-op", "create-space", "dimension", "8", "metric", "l2"));
    assertThat(decoded.space().dimension()).isEqualTo(8);
    assertThat(decoded.space().metric()).isEqualTo(Metric.L2);
    assertThat(
            RecordDecoder.decode(record("s1", null, "engram-op", "create-space"))
                    instanceof Malformed m
                ? m.reason()
                : "")
        .contains("create-space needs headers dimension");
  }

  @Test
  void malformed_namesTheProblem() {
    assertThat(((Malformed) RecordDecoder.decode(record(null, new byte[0]))).reason())
        .contains("no key");
    assertThat(((Malformed) RecordDecoder.decode(record("Bad Space", new byte[0]))).reason())
        .startsWith("key: ");
    assertThat(((Malformed) RecordDecoder.decode(record("s1", new byte[] {(byte) 0xff}))).reason())
        .contains("not an engram.v1.Episode");
    assertThat(
            ((Malformed)
                    RecordDecoder.decode(
                        record(
                            "s1",
                            "{".getBytes(StandardCharsets.UTF_8),
                            "content-type",
                            "application/json")))
                .reason())
        .contains("not an engram.v1.Episode");
  }
}
