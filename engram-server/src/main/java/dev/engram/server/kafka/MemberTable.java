package dev.engram.server.kafka;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.utils.Utils;

/**
 * The routing table: follows the members topic {@code <topic>.members} from its start (what {@link
 * Members} publishes) and answers which node owns the partition of a space. A space's partition is
 * Kafka's default partitioner on its key, {@code toPositive(murmur2(utf8(space))) % partitions}.
 *
 * <p>When two entries claim a partition (a node killed without its tombstone, then a rebalance),
 * the claim published later wins: a rebalance always republishes the new owner's set.
 *
 * <p>Thread-safety: one reader thread writes; {@link #owner} reads an immutable snapshot from any
 * thread.
 */
final class MemberTable implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(MemberTable.class.getName());
  private static final Pattern NODE = Pattern.compile("\"node\":\"([^\"]*)\"");
  private static final Pattern ADDRESS = Pattern.compile("\"address\":\"([^\"]*)\"");
  private static final Pattern PARTITIONS = Pattern.compile("\"partitions\":\\[([0-9,]*)\\]");

  /** A node as the members topic names it. */
  record Member(String node, String address) {}

  private record Claim(Member member, long offset) {}

  private final KafkaOptions options;
  private final Thread reader;
  private volatile boolean running = true;
  private volatile KafkaConsumer<String, byte[]> consumer;
  private volatile int partitions; // of the episode topic; 0 until known
  private volatile Map<Integer, Member> owners = Map.of();

  MemberTable(KafkaOptions options) {
    this.options = options;
    this.reader = Thread.ofPlatform().name("engram-kafka-members").daemon().unstarted(this::read);
    reader.start();
  }

  /** The member that owns {@code space}'s partition, or null when not (yet) known. */
  Member owner(String space) {
    int p = partitions;
    if (p <= 0) {
      return null;
    }
    return owners.get(partitionOf(space, p));
  }

  /** Kafka's default partitioner for a record keyed by {@code space}. */
  static int partitionOf(String space, int partitions) {
    return Utils.toPositive(Utils.murmur2(space.getBytes(StandardCharsets.UTF_8))) % partitions;
  }

  private void read() {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, options.bootstrap());
    p.put(ConsumerConfig.CLIENT_ID_CONFIG, options.nodeId() + "-members-reader");
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    Map<String, Claim> latest = new HashMap<>(); // node id -> its latest publication
    Map<String, List<Integer>> claimed = new HashMap<>();
    try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(p)) {
      consumer = c;
      TopicPartition members = new TopicPartition(options.topic() + ".members", 0);
      c.assign(List.of(members));
      c.seekToBeginning(List.of(members));
      while (running) {
        ConsumerRecords<String, byte[]> polled;
        try {
          if (partitions <= 0) {
            List<PartitionInfo> infos = c.partitionsFor(options.topic(), Duration.ofSeconds(5));
            partitions = infos == null ? 0 : infos.size();
          }
          polled = c.poll(Duration.ofMillis(500));
        } catch (WakeupException e) {
          throw e;
        } catch (RuntimeException e) {
          // a broker hiccup: the table keeps its last state (calls go where it says) and retries
          LOG.log(Level.WARNING, "kafka: reading " + members + " failed; retrying in 1 s", e);
          Thread.sleep(1000);
          continue;
        }
        boolean changed = false;
        for (ConsumerRecord<String, byte[]> r : polled) {
          if (r.key() == null) {
            continue;
          }
          changed = true;
          if (r.value() == null) {
            latest.remove(r.key());
            claimed.remove(r.key());
            continue;
          }
          String json = new String(r.value(), StandardCharsets.UTF_8);
          Matcher node = NODE.matcher(json);
          Matcher address = ADDRESS.matcher(json);
          Matcher parts = PARTITIONS.matcher(json);
          if (!node.find() || !address.find() || !parts.find()) {
            LOG.warning(() -> "kafka: ignoring a members record I cannot read: " + json);
            continue;
          }
          latest.put(r.key(), new Claim(new Member(node.group(1), address.group(1)), r.offset()));
          claimed.put(
              r.key(),
              parts.group(1).isEmpty()
                  ? List.of()
                  : java.util.Arrays.stream(parts.group(1).split(","))
                      .map(Integer::valueOf)
                      .toList());
        }
        if (changed) {
          owners = resolve(latest, claimed);
        }
      }
    } catch (WakeupException e) {
      // closing
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      LOG.log(Level.SEVERE, "kafka: the members reader stopped; forwarding stops with it", e);
    } finally {
      consumer = null;
    }
  }

  private static Map<Integer, Member> resolve(
      Map<String, Claim> latest, Map<String, List<Integer>> claimed) {
    Map<Integer, Claim> best = new HashMap<>();
    for (Map.Entry<String, Claim> e : latest.entrySet()) {
      for (int partition : claimed.getOrDefault(e.getKey(), List.of())) {
        Claim now = best.get(partition);
        if (now == null || now.offset() < e.getValue().offset()) {
          best.put(partition, e.getValue());
        }
      }
    }
    Map<Integer, Member> owners = new HashMap<>();
    best.forEach((partition, claim) -> owners.put(partition, claim.member()));
    return Map.copyOf(owners);
  }

  @Override
  public void close() {
    running = false;
    KafkaConsumer<String, byte[]> c = consumer;
    if (c != null) {
      c.wakeup();
    }
    try {
      reader.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
