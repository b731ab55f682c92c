package dev.engram.server.kafka;

import java.nio.charset.StandardCharsets;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The dead-letter topic {@code <topic>.dlq}: a record Engram cannot take (malformed, invalid, for
 * an unknown space) is copied there with its key, value and headers plus {@code engram-dlq-reason},
 * {@code engram-dlq-topic}, {@code engram-dlq-partition} and {@code engram-dlq-offset}, and counts
 * as handled once the broker has it (idempotent producer, {@code acks=all}).
 *
 * <p>Thread-safety: safe from any thread (KafkaProducer is).
 */
final class DeadLetters implements AutoCloseable {
  static final String REASON = "engram-dlq-reason";
  static final String TOPIC = "engram-dlq-topic";
  static final String PARTITION = "engram-dlq-partition";
  static final String OFFSET = "engram-dlq-offset";

  private final String topic;
  private final KafkaProducer<String, byte[]> producer;

  DeadLetters(KafkaOptions options) {
    this.topic = options.deadLetterTopic();
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, options.bootstrap());
    p.put(ProducerConfig.CLIENT_ID_CONFIG, options.nodeId() + "-dlq");
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    this.producer = new KafkaProducer<>(p);
  }

  /**
   * Copies {@code record} to the dead-letter topic with {@code reason}; returns once the broker has
   * it.
   *
   * @throws DeliveryFailedException if it could not be written (the record is not handled: it is
   *     tried again, so nothing is lost)
   */
  void send(ConsumerRecord<String, byte[]> record, String reason) {
    ProducerRecord<String, byte[]> out =
        new ProducerRecord<>(topic, null, record.key(), record.value(), record.headers());
    out.headers().add(REASON, utf8(reason));
    out.headers().add(TOPIC, utf8(record.topic()));
    out.headers().add(PARTITION, utf8(Integer.toString(record.partition())));
    out.headers().add(OFFSET, utf8(Long.toString(record.offset())));
    try {
      producer.send(out).get(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DeliveryFailedException("interrupted while dead-lettering", e);
    } catch (ExecutionException | TimeoutException e) {
      throw new DeliveryFailedException("cannot write to " + topic + ": " + e.getMessage(), e);
    }
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public void close() {
    producer.close();
  }

  /** A record could not be written to the dead-letter topic; it will be tried again. */
  static final class DeliveryFailedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    DeliveryFailedException(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
