package dev.engram.server.grpc;

import static dev.engram.server.grpc.Episodes.episode;
import static dev.engram.server.grpc.Episodes.vector;
import static org.assertj.core.api.Assertions.assertThat;

import dev.engram.core.EngramConfig;
import dev.engram.core.model.Memory;
import dev.engram.core.model.RecallMode;
import dev.engram.core.model.RecallQuery;
import dev.engram.core.model.SpaceId;
import dev.engram.proto.v1.Episode;
import dev.engram.proto.v1.Metric;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * 8 concurrent sessions on 4 spaces stream 200K observations with interleaved recalls. Invariants:
 * every session reads its own writes in every recall; afterwards the server holds exactly what was
 * acknowledged (each space's count is what its sessions sent, and every sent id is stored with the
 * content sent under it, so nothing is stored twice or in the wrong space) and every episode is
 * recallable by its own vector (top-1).
 */
class ConcurrentSessionsTest {
  private static final int SESSIONS = 8;
  private static final int SPACES = 4;
  private static final int PER_SESSION = 25_000;
  private static final int DIM = 16;
  @TempDir Path dir;

  @Test
  void eightSessionsFourSpaces_everyAckedEpisodeRecallableOnce() throws Exception {
    try (LoopbackServer server =
        new LoopbackServer(dir, EngramConfig.builder().workers(2).efSearch(100).build())) {
      for (int s = 0; s < SPACES; s++) {
        server.createSpace("space-" + s, DIM, Metric.METRIC_COSINE);
      }
      List<List<Episode>> perSession = new ArrayList<>();
      for (int s = 0; s < SESSIONS; s++) {
        SplittableRandom random = new SplittableRandom(1000 + s);
        List<Episode> episodes = new ArrayList<>(PER_SESSION);
        for (int i = 0; i < PER_SESSION; i++) {
          episodes.add(episode("s" + s + "-" + i, vector(random, DIM)));
        }
        perSession.add(episodes);
      }

      ConcurrentLinkedQueue<String> violations = new ConcurrentLinkedQueue<>();
      AtomicInteger recallsChecked = new AtomicInteger();
      List<GoBackNClient> clients = new ArrayList<>();
      ExecutorService pool = Executors.newFixedThreadPool(SESSIONS);
      List<Future<?>> runs = new ArrayList<>();
      for (int s = 0; s < SESSIONS; s++) {
        List<Episode> episodes = perSession.get(s);
        GoBackNClient client =
            new GoBackNClient(server.channel, "space-" + (s % SPACES), episodes, 100, 2_000);
        clients.add(client);
        int session = s;
        runs.add(
            pool.submit(
                () -> {
                  AtomicInteger batches = new AtomicInteger();
                  client.run(
                      Duration.ofMinutes(3),
                      lastSent -> {
                        if (batches.incrementAndGet() % 5 != 0) {
                          return;
                        }
                        // Read-your-writes: recall the episode just sent, before any ack.
                        Episode mine = episodes.get((int) lastSent - 1);
                        client.recall(
                            "s" + session + "-q" + lastSent,
                            Episodes.embedding(mine),
                            1,
                            (requestId, answer) -> {
                              // Responses arrive in stream order, so if the batch was accepted
                              // its ack came before this answer; a refused batch (overload) is
                              // not a write the session may expect to read.
                              if (client.accepted() < lastSent) {
                                return;
                              }
                              recallsChecked.incrementAndGet();
                              if (!answer.hasRecall()
                                  || answer.getRecall().getMemoriesCount() == 0
                                  || !answer
                                      .getRecall()
                                      .getMemories(0)
                                      .getEpisode()
                                      .getId()
                                      .equals(mine.getId())) {
                                violations.add(requestId + " did not see " + mine.getId());
                              }
                            });
                      });
                  return null;
                }));
      }
      for (Future<?> run : runs) {
        run.get();
      }
      pool.shutdown();

      assertThat(violations).isEmpty();
      assertThat(recallsChecked.get()).isGreaterThan(SESSIONS * 40);
      for (GoBackNClient client : clients) {
        assertThat(client.accepted()).isEqualTo(PER_SESSION);
        assertThat(client.rejections).isEmpty();
        client.close();
      }

      // What the server stored: per space, exactly the episodes its sessions sent, each once.
      var engine = server.server.engine();
      for (int sp = 0; sp < SPACES; sp++) {
        assertThat(engine.getSpace(SpaceId.of("space-" + sp)).episodeCount())
            .isEqualTo(2L * PER_SESSION);
      }
      List<String> notStored = new ArrayList<>();
      List<String> misses = new ArrayList<>();
      for (int s = 0; s < SESSIONS; s++) {
        SpaceId space = SpaceId.of("space-" + (s % SPACES));
        for (Episode e : perSession.get(s)) {
          dev.engram.core.model.Episode stored = engine.episode(space, e.getId());
          if (stored == null || !stored.content().equals(e.getContent())) {
            notStored.add(e.getId() + (stored == null ? " missing" : " has other content"));
          }
          List<Memory> top =
              engine
                  .recall(
                      space,
                      new RecallQuery(
                          "", "", Episodes.embedding(e), "", 1, 0f, RecallMode.SIMILARITY))
                  .memories();
          if (top.isEmpty() || !top.getFirst().episode().id().equals(e.getId())) {
            misses.add(e.getId());
          }
        }
      }
      assertThat(notStored).as("sent episodes the server does not hold as sent").isEmpty();
      assertThat(misses).as("episodes not recallable by their own vector").isEmpty();
    }
  }
}
