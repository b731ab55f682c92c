package dev.engram.server.kafka;

import dev.engram.core.Engram;
import dev.engram.server.grpc.Router;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * One Engram node of a Kafka consumer group: consumes the episode topic into the engine, owns the
 * spaces of the partitions the group assigns it, and (with {@code --kafka-standby}) follows the
 * other partitions so a takeover needs no replay.
 *
 * <p>Design: one <em>owner</em> thread runs the group consumer. Per partition it keeps the records
 * polled but not yet handled (at most one poll's worth: a partition with records left over is
 * paused, so nothing more is fetched for it, and resumed once they are handled). Handling goes
 * through {@link RecordApplier} (the engine's one accept path). After each pass the node advances
 * {@link LocalOffsets} to the first unhandled record of each partition and commits that offset to
 * the group: offsets are committed only for records durable in Engram (or in the dead-letter
 * topic), and the highest contiguous handled offset is what counts.
 *
 * <p>Ownership: on assignment the owner seeks each partition to what its <em>own</em> store holds
 * ({@link LocalOffsets}; the earliest retained offset if nothing), so a new owner rebuilds the
 * partition's spaces from the topic; the partition is <em>ready</em> once it has handled everything
 * up to the end offset seen at assignment (logged, with the time it took). On revocation it handles
 * what it already polled where it can, commits, and lets go.
 *
 * <p>Standby: a second consumer without a group ({@code assign}) follows every partition this node
 * does not own, through a follower {@link RecordApplier} (no dead-lettering: the owner does that),
 * advancing the same {@link LocalOffsets}. Both may briefly apply the same record around a
 * rebalance; the second is a duplicate by id.
 *
 * <p>Thread-safety: {@link #start} and {@link #close} from any thread; everything else runs on the
 * node's own threads. The owned set is published through a volatile field.
 */
public final class KafkaNode implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(KafkaNode.class.getName());
  // Kafka's clients log every configuration at INFO; warnings and errors are what an operator
  // needs.
  private static final Logger KAFKA_CLIENT_LOGS = Logger.getLogger("org.apache.kafka");

  private static final long MIN_RETRY_MILLIS = 20;

  private final KafkaOptions options;
  private final LocalOffsets offsets;
  private final KafkaStats stats = new KafkaStats();
  private final DeadLetters deadLetters;
  private final Members members;
  private final MemberTable memberTable;
  private final Forwarder forwarder;
  private final RecordApplier ownerApplier;
  private final RecordApplier followerApplier;
  private final Thread owner;
  private final Thread follower; // null without --kafka-standby
  private final Map<Integer, Long> readyAt = new ConcurrentHashMap<>(); // end offset at assignment
  private volatile Set<Integer> owned = Set.of();
  private volatile boolean running = true;
  private volatile KafkaConsumer<String, byte[]> ownerConsumer;

  private final KafkaMetrics metrics;

  private KafkaNode(KafkaOptions options, Engram engine, Path dataDir, MeterRegistry registry) {
    this.options = options;
    this.offsets = LocalOffsets.load(dataDir, options.topic());
    this.deadLetters = new DeadLetters(options);
    this.members = new Members(options);
    this.memberTable = new MemberTable(options);
    this.forwarder = new Forwarder(options.nodeId(), memberTable, registry);
    this.ownerApplier = new RecordApplier(engine, options, deadLetters, stats);
    this.followerApplier = new RecordApplier(engine, options, null, stats);
    this.metrics = new KafkaMetrics(registry, stats, this);
    this.owner = Thread.ofPlatform().name("engram-kafka-owner").unstarted(this::ownerLoop);
    this.follower =
        options.standby()
            ? Thread.ofPlatform().name("engram-kafka-standby").unstarted(this::followerLoop)
            : null;
  }

  /**
   * Joins the group and starts consuming; returns at once. Meters go to {@code registry} (null:
   * none).
   */
  public static KafkaNode start(
      KafkaOptions options, Engram engine, Path dataDir, MeterRegistry registry) {
    if (KAFKA_CLIENT_LOGS.getLevel() == null) {
      KAFKA_CLIENT_LOGS.setLevel(Level.WARNING);
    }
    KafkaNode node = new KafkaNode(options, engine, dataDir, registry);
    node.owner.start();
    if (node.follower != null) {
      node.follower.start();
    }
    return node;
  }

  public KafkaStats stats() {
    return stats;
  }

  /**
   * Where recalls and {@code GetSpace} for spaces other nodes own go: the door consults it before
   * answering ({@code EngramServer.route}).
   */
  public Router router() {
    return forwarder;
  }

  /** The partitions this node owns now. */
  public Set<Integer> owned() {
    return owned;
  }

  private Properties consumerProperties(boolean group) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, options.bootstrap());
    p.put(ConsumerConfig.CLIENT_ID_CONFIG, options.nodeId() + (group ? "" : "-standby"));
    if (group) {
      p.put(ConsumerConfig.GROUP_ID_CONFIG, options.group());
      p.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, options.nodeId());
      p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, options.sessionTimeoutMs());
      p.put(
          ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG,
          Math.max(500, options.sessionTimeoutMs() / 5));
    }
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 2000);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    return p;
  }

  // ---- the owner ----

  private void ownerLoop() {
    Map<TopicPartition, ArrayDeque<ConsumerRecord<String, byte[]>>> pending = new HashMap<>();
    try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(consumerProperties(true))) {
      ownerConsumer = consumer;
      consumer.subscribe(List.of(options.topic()), new Rebalance(consumer, pending));
      long wait = 200;
      while (running) {
        try {
          ConsumerRecords<String, byte[]> polled = consumer.poll(Duration.ofMillis(wait));
          for (TopicPartition p : polled.partitions()) {
            pending.computeIfAbsent(p, k -> new ArrayDeque<>()).addAll(polled.records(p));
          }
          wait = handle(consumer, pending, pending.keySet());
          commit(consumer, owned, false);
          for (TopicPartition p : consumer.assignment()) {
            OptionalLong lag = consumer.currentLag(p);
            if (lag.isPresent()) {
              metrics.lag(p.partition(), lag.getAsLong() + pendingCount(pending, p));
            }
          }
        } catch (WakeupException e) {
          break;
        } catch (RuntimeException e) {
          // A broker or rebalance error: nothing uncommitted is lost (it is polled again), so keep
          // consuming after a pause rather than stop the node's ingest.
          LOG.log(Level.WARNING, "kafka: consuming failed; retrying in 1 s", e);
          wait = 1000;
        }
      }
      handle(consumer, pending, pending.keySet());
      commit(consumer, owned, true);
      consumer.close(
          CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
              .withTimeout(Duration.ofSeconds(5)));
    } catch (RuntimeException e) {
      LOG.log(Level.SEVERE, "kafka: the consumer stopped", e);
    } finally {
      ownerConsumer = null;
    }
  }

  /**
   * Handles the pending records of {@code partitions}; pauses a partition with records left and
   * resumes one without. Returns how long the next poll may wait.
   */
  private long handle(
      KafkaConsumer<String, byte[]> consumer,
      Map<TopicPartition, ArrayDeque<ConsumerRecord<String, byte[]>>> pending,
      Collection<TopicPartition> partitions) {
    long wait = 200;
    List<TopicPartition> toPause = new ArrayList<>();
    List<TopicPartition> toResume = new ArrayList<>();
    for (TopicPartition p : List.copyOf(partitions)) {
      ArrayDeque<ConsumerRecord<String, byte[]>> queue = pending.get(p);
      if (queue == null) {
        continue;
      }
      if (!queue.isEmpty()) {
        RecordApplier.Applied applied = ownerApplier.apply(List.copyOf(queue));
        long next = -1;
        for (int i = 0; i < applied.handled(); i++) {
          next = queue.removeFirst().offset() + 1;
        }
        if (next >= 0) {
          offsets.advance(p.partition(), next);
          checkReady(p.partition(), next);
        }
        if (applied.retryAfterMillis() > 0) {
          // at least 20 ms: retrying sooner only takes CPU from the index workers it waits for
          wait = Math.min(wait, Math.max(MIN_RETRY_MILLIS, applied.retryAfterMillis()));
        }
      }
      if (queue.isEmpty()) {
        pending.remove(p);
        toResume.add(p);
      } else {
        toPause.add(p);
      }
    }
    Set<TopicPartition> assigned = consumer.assignment();
    toPause.retainAll(assigned);
    toResume.retainAll(assigned);
    toResume.retainAll(consumer.paused());
    consumer.pause(toPause);
    consumer.resume(toResume);
    offsets.save();
    return wait;
  }

  private static long pendingCount(
      Map<TopicPartition, ArrayDeque<ConsumerRecord<String, byte[]>>> pending, TopicPartition p) {
    ArrayDeque<ConsumerRecord<String, byte[]>> queue = pending.get(p);
    return queue == null ? 0 : queue.size();
  }

  private void checkReady(int partition, long next) {
    Long target = readyAt.get(partition);
    if (target != null) {
      metrics.rebuildRemaining(partition, Math.max(0, target - next));
    }
    if (target != null && next >= target && readyAt.remove(partition) != null) {
      LOG.info(() -> "kafka: partition %d ready at offset %d".formatted(partition, next));
      System.out.printf("Kafka partition %d ready at offset %d%n", partition, next);
      System.out.flush();
    }
  }

  /** Commits, for {@code partitions}, the next offset after the last durable record. */
  private void commit(
      KafkaConsumer<String, byte[]> consumer, Set<Integer> partitions, boolean sync) {
    Map<TopicPartition, OffsetAndMetadata> commit = new HashMap<>();
    for (int p : partitions) {
      long next = offsets.next(p);
      if (next >= 0) {
        commit.put(new TopicPartition(options.topic(), p), new OffsetAndMetadata(next));
      }
    }
    if (commit.isEmpty()) {
      return;
    }
    try {
      if (sync) {
        consumer.commitSync(commit, Duration.ofSeconds(10));
      } else {
        consumer.commitAsync(
            commit,
            (done, e) -> {
              if (e != null) {
                LOG.log(Level.FINE, "kafka: commit failed (the next one covers it)", e);
              }
            });
      }
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "kafka: commit failed", e);
    }
  }

  /** Assignment decides ownership: rebuild on assignment, finish and commit on revocation. */
  private final class Rebalance implements ConsumerRebalanceListener {
    private final KafkaConsumer<String, byte[]> consumer;
    private final Map<TopicPartition, ArrayDeque<ConsumerRecord<String, byte[]>>> pending;

    Rebalance(
        KafkaConsumer<String, byte[]> consumer,
        Map<TopicPartition, ArrayDeque<ConsumerRecord<String, byte[]>>> pending) {
      this.consumer = consumer;
      this.pending = pending;
    }

    @Override
    public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
      handle(consumer, pending, partitions);
      Set<Integer> revoked = new HashSet<>();
      for (TopicPartition p : partitions) {
        revoked.add(p.partition());
        metrics.lag(p.partition(), 0);
        pending.remove(p);
        readyAt.remove(p.partition());
      }
      commit(consumer, revoked, true);
      Set<Integer> now = new HashSet<>(owned);
      now.removeAll(revoked);
      owned = Set.copyOf(now);
      members.publish(owned);
      LOG.info(() -> "kafka: partitions revoked " + revoked);
    }

    @Override
    public void onPartitionsLost(Collection<TopicPartition> partitions) {
      Set<Integer> lost = new HashSet<>();
      for (TopicPartition p : partitions) {
        lost.add(p.partition());
        metrics.lag(p.partition(), 0);
        pending.remove(p);
        readyAt.remove(p.partition());
      }
      Set<Integer> now = new HashSet<>(owned);
      now.removeAll(lost);
      owned = Set.copyOf(now);
      members.publish(owned);
      LOG.warning(() -> "kafka: partitions lost " + lost);
    }

    @Override
    public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
      if (partitions.isEmpty()) {
        members.publish(owned);
        return;
      }
      Map<TopicPartition, Long> ends;
      try {
        ends = consumer.endOffsets(partitions, Duration.ofSeconds(10));
      } catch (RuntimeException e) {
        LOG.log(
            Level.WARNING, "kafka: no end offsets for " + partitions + "; readiness unknown", e);
        ends = Map.of();
      }
      Set<Integer> now = new HashSet<>(owned);
      List<String> from = new ArrayList<>();
      Set<Integer> ready = new HashSet<>();
      for (TopicPartition p : partitions) {
        long next = offsets.next(p.partition());
        if (next >= 0) {
          consumer.seek(p, next);
        } else {
          consumer.seekToBeginning(List.of(p));
        }
        now.add(p.partition());
        Long known = ends.get(p);
        if (known == null) {
          from.add("%d from %s to unknown".formatted(p.partition(), next < 0 ? "earliest" : next));
          continue;
        }
        long end = known;
        from.add("%d from %s to %d".formatted(p.partition(), next < 0 ? "earliest" : next, end));
        metrics.rebuildRemaining(p.partition(), Math.max(0, end - Math.max(next, 0)));
        if (Math.max(next, 0) >= end) {
          ready.add(p.partition());
        } else {
          readyAt.put(p.partition(), end);
        }
      }
      owned = Set.copyOf(now);
      members.publish(owned);
      System.out.println("Kafka partitions assigned: " + String.join(", ", from));
      for (TopicPartition p : partitions) {
        if (ready.contains(p.partition())) {
          System.out.printf(
              "Kafka partition %d ready at offset %d%n", p.partition(), ends.getOrDefault(p, 0L));
        }
      }
      System.out.flush();
    }
  }

  // ---- the standby follower ----

  private void followerLoop() {
    Map<TopicPartition, ArrayDeque<ConsumerRecord<String, byte[]>>> pending = new HashMap<>();
    try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(consumerProperties(false))) {
      Set<Integer> all = Set.of();
      Set<TopicPartition> following = Set.of();
      while (running) {
        if (all.isEmpty()) {
          List<PartitionInfo> infos =
              consumer.partitionsFor(options.topic(), Duration.ofSeconds(5));
          Set<Integer> found = new HashSet<>();
          for (PartitionInfo info : infos == null ? List.<PartitionInfo>of() : infos) {
            found.add(info.partition());
          }
          all = Set.copyOf(found);
          if (all.isEmpty()) {
            Thread.sleep(200);
            continue;
          }
        }
        Set<TopicPartition> wanted = new HashSet<>();
        Set<Integer> mine = owned;
        for (int p : all) {
          if (!mine.contains(p)) {
            wanted.add(new TopicPartition(options.topic(), p));
          }
        }
        if (!wanted.equals(following)) {
          Set<TopicPartition> added = new HashSet<>(wanted);
          added.removeAll(following);
          pending.keySet().retainAll(wanted);
          consumer.assign(wanted);
          for (TopicPartition p : added) {
            long next = offsets.next(p.partition());
            if (next >= 0) {
              consumer.seek(p, next);
            } else {
              consumer.seekToBeginning(List.of(p));
            }
          }
          following = Set.copyOf(wanted);
        }
        if (following.isEmpty()) {
          Thread.sleep(100);
          continue;
        }
        ConsumerRecords<String, byte[]> polled = consumer.poll(Duration.ofMillis(200));
        for (TopicPartition p : polled.partitions()) {
          pending.computeIfAbsent(p, k -> new ArrayDeque<>()).addAll(polled.records(p));
        }
        List<TopicPartition> toPause = new ArrayList<>();
        List<TopicPartition> toResume = new ArrayList<>();
        for (TopicPartition p : List.copyOf(pending.keySet())) {
          ArrayDeque<ConsumerRecord<String, byte[]>> queue = pending.get(p);
          RecordApplier.Applied applied = followerApplier.apply(List.copyOf(queue));
          long next = -1;
          for (int i = 0; i < applied.handled(); i++) {
            next = queue.removeFirst().offset() + 1;
          }
          if (next >= 0) {
            offsets.advance(p.partition(), next);
          }
          if (queue.isEmpty()) {
            pending.remove(p);
            toResume.add(p);
          } else {
            toPause.add(p);
          }
        }
        consumer.pause(toPause);
        consumer.resume(toResume);
        offsets.save();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      LOG.log(Level.SEVERE, "kafka: the standby follower stopped", e);
    }
  }

  /**
   * Stops consuming: the owner handles what it polled where it can, commits, and leaves the group
   * (its partitions go to the other nodes at once). Call before the engine shuts down.
   */
  @Override
  public void close() {
    running = false;
    KafkaConsumer<String, byte[]> c = ownerConsumer;
    if (c != null) {
      c.wakeup();
    }
    try {
      owner.join(20_000);
      if (follower != null) {
        follower.join(10_000);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    deadLetters.close();
    members.close();
    memberTable.close();
    forwarder.close();
    offsets.save();
  }
}
