package dev.engram.server.kafka;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The Kafka consumer's meters, with the engine's conventions ({@code engram_} prefix, {@code
 * _total} for counters): {@code
 * engram_kafka_records_total{outcome=stored|duplicate|dead_lettered}}, {@code
 * engram_kafka_pauses_total}, {@code engram_kafka_owned_partitions}, and per owned partition {@code
 * engram_kafka_consumer_lag{partition}} (records in the topic not yet durable here) and {@code
 * engram_kafka_rebuild_remaining{partition}} (records left before a newly assigned partition is
 * ready; 0 once it is).
 *
 * <p>Thread-safety: {@link #lag} and {@link #rebuildRemaining} are called by the owner thread, the
 * gauges read from the scrape thread through atomics.
 */
final class KafkaMetrics {
  private final MeterRegistry registry; // null: no metrics
  private final Map<Integer, AtomicLong> lag = new ConcurrentHashMap<>();
  private final Map<Integer, AtomicLong> rebuild = new ConcurrentHashMap<>();

  KafkaMetrics(MeterRegistry registry, KafkaStats stats, KafkaNode node) {
    this.registry = registry;
    if (registry == null) {
      return;
    }
    FunctionCounter.builder("engram.kafka.records", stats, KafkaStats::stored)
        .description("Kafka records handled, by outcome")
        .tag("outcome", "stored")
        .register(registry);
    FunctionCounter.builder("engram.kafka.records", stats, KafkaStats::duplicates)
        .description("Kafka records handled, by outcome")
        .tag("outcome", "duplicate")
        .register(registry);
    FunctionCounter.builder("engram.kafka.records", stats, KafkaStats::deadLetteredCount)
        .description("Kafka records handled, by outcome")
        .tag("outcome", "dead_lettered")
        .register(registry);
    FunctionCounter.builder("engram.kafka.pauses", stats, KafkaStats::pauses)
        .description("Times a partition was paused because the ingest queue was full")
        .register(registry);
    Gauge.builder("engram.kafka.owned.partitions", node, n -> n.owned().size())
        .description("Partitions of the episode topic this node owns")
        .register(registry);
  }

  /** Sets the lag of {@code partition} (records in the topic after the last durable one here). */
  void lag(int partition, long records) {
    gauge(lag, "engram.kafka.consumer.lag", "Records not yet durable here", partition).set(records);
  }

  /** Sets how many records {@code partition} still has to replay before it is ready. */
  void rebuildRemaining(int partition, long records) {
    gauge(
            rebuild,
            "engram.kafka.rebuild.remaining",
            "Records a newly assigned partition replays before it is ready",
            partition)
        .set(records);
  }

  private AtomicLong gauge(Map<Integer, AtomicLong> gauges, String name, String help, int p) {
    return gauges.computeIfAbsent(
        p,
        k -> {
          AtomicLong value = new AtomicLong();
          if (registry != null) {
            Gauge.builder(name, value, AtomicLong::get)
                .description(help)
                .tag("partition", Integer.toString(k))
                .register(registry);
          }
          return value;
        });
  }
}
