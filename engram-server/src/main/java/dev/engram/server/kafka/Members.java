package dev.engram.server.kafka;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The members table: on every rebalance a node publishes {@code {"node", "address", "partitions"}}
 * under its node id to the compacted topic {@code <topic>.members} (created if absent), and a
 * tombstone when it stops. Reading the topic from the start gives every node's latest ownership:
 * the routing table for forwarding ({@link MemberTable}).
 *
 * <p>Thread-safety: safe from any thread (KafkaProducer is); publishing never blocks.
 */
final class Members implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(Members.class.getName());

  private final KafkaOptions options;
  private final String topic;
  private final KafkaProducer<String, byte[]> producer;

  Members(KafkaOptions options) {
    this.options = options;
    this.topic = options.topic() + ".members";
    createTopic();
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, options.bootstrap());
    p.put(ProducerConfig.CLIENT_ID_CONFIG, options.nodeId() + "-members");
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    this.producer = new KafkaProducer<>(p);
  }

  private void createTopic() {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, options.bootstrap());
    try (Admin admin = Admin.create(p)) {
      admin
          .createTopics(
              List.of(
                  new NewTopic(topic, Optional.of(1), Optional.empty())
                      .configs(Map.of("cleanup.policy", "compact"))))
          .all()
          .get(10, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      if (!(e.getCause() instanceof TopicExistsException)) {
        LOG.log(Level.WARNING, "kafka: cannot create " + topic, e.getCause());
      }
    } catch (TimeoutException e) {
      LOG.log(Level.WARNING, "kafka: cannot create " + topic + " (timed out)", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Publishes that this node owns {@code partitions} now. */
  void publish(Set<Integer> partitions) {
    StringBuilder json = new StringBuilder();
    json.append("{\"node\":\"")
        .append(options.nodeId())
        .append("\",\"address\":\"")
        .append(options.advertise())
        .append("\",\"partitions\":[");
    String sep = "";
    for (int p : new TreeSet<>(partitions)) {
      json.append(sep).append(p);
      sep = ",";
    }
    json.append("]}");
    send(json.toString().getBytes(StandardCharsets.UTF_8));
  }

  private void send(byte[] value) {
    producer.send(
        new ProducerRecord<>(topic, options.nodeId(), value),
        (metadata, e) -> {
          if (e != null) {
            LOG.log(Level.WARNING, "kafka: cannot publish membership to " + topic, e);
          }
        });
  }

  /** Publishes a tombstone (this node owns nothing and is gone) and closes the producer. */
  @Override
  public void close() {
    send(null);
    producer.close();
  }
}
