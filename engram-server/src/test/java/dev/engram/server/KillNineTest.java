package dev.engram.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.engram.proto.v1.CreateSpaceRequest;
import dev.engram.proto.v1.Episode;
import dev.engram.proto.v1.EpisodeBatch;
import dev.engram.proto.v1.GetSpaceRequest;
import dev.engram.proto.v1.MemoryServiceGrpc;
import dev.engram.proto.v1.Metric;
import dev.engram.proto.v1.RecallRequest;
import dev.engram.proto.v1.RecallResponse;
import dev.engram.proto.v1.StreamClose;
import dev.engram.proto.v1.StreamInit;
import dev.engram.proto.v1.StreamRequest;
import dev.engram.proto.v1.StreamResponse;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Regression test for "durable memory": the real server runs as a separate process, a client
 * streams as fast as it can, the server is killed with SIGKILL mid-stream, restarted on the same
 * data directory, and every acknowledged episode must be back, recallable and stored once; the
 * client resumes its session and completes without loss. Three kill points.
 *
 * <p>Mid-stream means it: the sender runs on its own thread and the kill comes from the client's
 * response thread the moment the ack for the kill point arrives, while the sender still has
 * episodes to send (each kill point is more than a window below the total).
 */
class KillNineTest {
  private static final String SPACE = "kill9";
  private static final int DIM = 32;
  private static final int BATCH = 50;
  private static final int WINDOW = 2_000;
  private static final long[] KILL_AT = {1_000, 2_000, 2_800};
  private static final long TOTAL = 5_000;

  @TempDir Path dataDir;

  private ServerProcess server;
  private ManagedChannel channel;

  @AfterEach
  void stop() {
    if (channel != null) {
      channel.shutdownNow();
    }
    if (server != null) {
      server.process().destroyForcibly();
    }
  }

  @Test
  void killNine_midStream_everyAckedEpisodeSurvives_andSessionResumes() throws Exception {
    int port = startServer();
    var blocking = MemoryServiceGrpc.newBlockingStub(channel);
    blocking.createSpace(
        CreateSpaceRequest.newBuilder()
            .setMemorySpaceId(SPACE)
            .setDimension(DIM)
            .setMetric(Metric.METRIC_L2)
            .build());
    String session = "";
    long next = 1;
    for (long killAt : KILL_AT) {
      Client client = new Client(port, session, next);
      session = client.sessionId.get(10, TimeUnit.SECONDS);
      Process victim = server.process();
      Thread sender =
          Thread.ofPlatform().name("kill9-sender").start(() -> client.sendUntilEnded(TOTAL));
      client.killWhenAcked(killAt, sender, victim::destroyForcibly);
      sender.join(TimeUnit.SECONDS.toMillis(120));
      assertThat(sender.isAlive()).as("sender stopped by the kill").isFalse();
      assertThat(client.killedAtSent.get()).as("killed at the kill point").isPositive();
      assertThat(client.senderAliveAtKill).as("sender still running at the kill").isTrue();
      assertThat(client.killedAtSent.get())
          .as("episodes left to send at the kill")
          .isLessThan(TOTAL);
      assertThat(client.ended.get()).as("the stream ended by the kill").isNotNull();
      victim.waitFor(10, TimeUnit.SECONDS);
      long acked = client.acked.get();
      assertThat(acked).isGreaterThanOrEqualTo(killAt);
      client.channel.shutdownNow();

      port = startServer();
      long stored = storedCount();
      assertThat(stored).as("every acked episode is stored").isGreaterThanOrEqualTo(acked);
      assertAllRecallable(session, acked);
      // Resume: next_sequence says where to continue; nothing is stored twice.
      Client probe = new Client(port, session, -1);
      next = probe.nextSequence.get(10, TimeUnit.SECONDS);
      probe.channel.shutdownNow();
      assertThat(next - 1).as("next_sequence vs stored episodes").isEqualTo(stored);
    }
    Client last = new Client(port, session, next);
    last.sessionId.get(10, TimeUnit.SECONDS);
    last.streamUntilAcked(TOTAL, TOTAL);
    last.closeAndAwait();
    assertThat(storedCount()).isEqualTo(TOTAL);
    assertAllRecallable(session, TOTAL);
  }

  private long storedCount() {
    return MemoryServiceGrpc.newBlockingStub(channel)
        .getSpace(GetSpaceRequest.newBuilder().setMemorySpaceId(SPACE).build())
        .getEpisodeCount();
  }

  /** Episodes 1..n of the session are each the top-1 recall of their own vector. */
  private void assertAllRecallable(String session, long n) {
    var stub = MemoryServiceGrpc.newBlockingStub(channel);
    int misses = 0;
    List<String> missed = new ArrayList<>();
    for (long seq = 1; seq <= n; seq++) {
      RecallRequest.Builder request =
          RecallRequest.newBuilder().setMemorySpaceId(SPACE).setK(1).setRequestId("r" + seq);
      for (float f : vector(seq)) {
        request.addEmbedding(f);
      }
      RecallResponse answer = stub.recall(request.build());
      assertThat(answer.getMemoriesCount()).isEqualTo(1);
      if (!answer.getMemories(0).getEpisode().getId().equals(session + "/" + seq)) {
        misses++;
        missed.add(
            seq
                + "->"
                + answer.getMemories(0).getEpisode().getId()
                + "@"
                + answer.getMemories(0).getScore());
      }
    }
    assertThat(misses).as("top-1 misses among " + n + ": " + missed).isZero();
  }

  private static float[] vector(long seq) {
    Random random = new Random(seq * 7919);
    float[] v = new float[DIM];
    for (int i = 0; i < DIM; i++) {
      v[i] = (float) random.nextGaussian();
    }
    return v;
  }

  private int startServer() throws IOException {
    server =
        ServerProcess.start(
            dataDir,
            dataDir.resolveSibling(dataDir.getFileName() + "-stderr.log"),
            "1g",
            "--snapshot-interval",
            "1",
            "--auth",
            "off");
    if (channel != null) {
      channel.shutdownNow();
    }
    channel =
        ManagedChannelBuilder.forAddress("localhost", server.grpcPort()).usePlaintext().build();
    return server.grpcPort();
  }

  /** One client stream: sends batches of unnamed episodes numbered by the session. */
  private static final class Client implements StreamObserver<StreamResponse> {
    final ManagedChannel channel;
    final CompletableFuture<String> sessionId = new CompletableFuture<>();
    final CompletableFuture<Long> nextSequence = new CompletableFuture<>();
    final AtomicLong acked = new AtomicLong();
    final AtomicLong resendFrom = new AtomicLong(-1);
    final AtomicReference<Throwable> ended = new AtomicReference<>();

    /** Released on every frame or failure from the server: the sender waits on it for news. */
    final Semaphore news = new Semaphore(0);

    final CountDownLatch done = new CountDownLatch(1);
    final StreamObserver<StreamRequest> requests;
    long next;

    /** Highest sequence number handed to the transport; read by the response thread at a kill. */
    final AtomicLong sentThrough = new AtomicLong();

    /** What {@link #sentThrough} was when the kill fired; 0 until it does. */
    final AtomicLong killedAtSent = new AtomicLong();

    volatile boolean senderAliveAtKill;
    private volatile long killAt = Long.MAX_VALUE;
    private volatile Thread sender;
    private volatile Runnable kill;

    /** {@code first < 0}: only init (to read next_sequence). */
    Client(int port, String resume, long first) {
      channel = ManagedChannelBuilder.forAddress("localhost", port).usePlaintext().build();
      requests = MemoryServiceGrpc.newStub(channel).stream(this);
      requests.onNext(
          StreamRequest.newBuilder()
              .setMemorySpaceId(SPACE)
              .setSessionId(resume)
              .setInit(StreamInit.newBuilder().setEnableBackpressure(true))
              .build());
      next = first;
    }

    /** Sends (never past {@code cap}) until {@code target} is acknowledged. */
    void streamUntilAcked(long target, long cap) throws InterruptedException {
      next = Math.max(next, nextSequence.join());
      acked.accumulateAndGet(next - 1, Math::max);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      while (acked.get() < target) {
        assertThat(System.nanoTime()).as("streaming timed out").isLessThan(deadline);
        assertThat(ended.get()).as("stream ended early").isNull();
        long resend = resendFrom.getAndSet(-1);
        if (resend > 0) {
          next = resend;
        }
        if (next - acked.get() > WINDOW || next > cap) {
          news.tryAcquire(100, TimeUnit.MILLISECONDS); // wait for an ack, a resend or the end
          continue;
        }
        int n = (int) Math.min(BATCH, cap - next + 1);
        requests.onNext(
            StreamRequest.newBuilder()
                .setSequenceNumber(next)
                .setObservations(batch(next, n))
                .build());
        next += n;
      }
    }

    /**
     * Arms the kill: the response thread runs {@code kill} as soon as an ack covers {@code target},
     * recording how far {@code sender} had got.
     */
    void killWhenAcked(long target, Thread sender, Runnable kill) {
      this.sender = sender;
      this.kill = kill;
      this.killAt = target;
      maybeKill(); // the ack may already be here
    }

    private synchronized void maybeKill() {
      Runnable k = kill;
      if (k != null && acked.get() >= killAt && killedAtSent.get() == 0) {
        kill = null;
        senderAliveAtKill = sender.isAlive();
        killedAtSent.set(Math.max(1, sentThrough.get()));
        k.run(); // SIGKILL while the sender is still sending
      }
    }

    /** Sends (never past {@code cap}, within the window) until the stream ends. */
    void sendUntilEnded(long cap) {
      next = Math.max(next, nextSequence.join());
      acked.accumulateAndGet(next - 1, Math::max);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      try {
        while (ended.get() == null && System.nanoTime() < deadline) {
          long resend = resendFrom.getAndSet(-1);
          if (resend > 0) {
            next = resend;
          }
          if (next - acked.get() > WINDOW || next > cap) {
            news.tryAcquire(100, TimeUnit.MILLISECONDS);
            continue;
          }
          int n = (int) Math.min(BATCH, cap - next + 1);
          requests.onNext(
              StreamRequest.newBuilder()
                  .setSequenceNumber(next)
                  .setObservations(batch(next, n))
                  .build());
          next += n;
          sentThrough.set(next - 1);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (RuntimeException e) {
        ended.compareAndSet(null, e); // the transport failed under the sender: the kill
      }
    }

    private static EpisodeBatch batch(long first, int n) {
      EpisodeBatch.Builder batch = EpisodeBatch.newBuilder();
      for (int i = 0; i < n; i++) {
        Episode.Builder e = Episode.newBuilder().setContent("episode " + (first + i));
        for (float f : vector(first + i)) {
          e.addEmbedding(f);
        }
        batch.addEpisodes(e);
      }
      return batch.build();
    }

    void closeAndAwait() throws InterruptedException {
      requests.onNext(
          StreamRequest.newBuilder()
              .setClose(StreamClose.newBuilder().setDrainQueue(true).setLastSequence(next - 1))
              .build());
      requests.onCompleted();
      assertThat(done.await(30, TimeUnit.SECONDS)).isTrue();
      channel.shutdownNow();
    }

    @Override
    public void onNext(StreamResponse r) {
      switch (r.getKindCase()) {
        case INIT_ACK -> {
          nextSequence.complete(r.getInitAck().getNextSequence());
          sessionId.complete(r.getInitAck().getSessionId());
        }
        case ACK -> {
          acked.accumulateAndGet(r.getAck().getAcceptedThrough(), Math::max);
          maybeKill();
        }
        case RESEND -> resendFrom.set(r.getResend().getFromSequence());
        case ERROR -> ended.set(new AssertionError("stream error: " + r.getError()));
        default -> {}
      }
      news.release();
    }

    @Override
    public void onError(Throwable t) {
      ended.compareAndSet(null, t);
      news.release();
      sessionId.completeExceptionally(t);
      nextSequence.completeExceptionally(t);
      done.countDown();
    }

    @Override
    public void onCompleted() {
      done.countDown();
    }
  }
}
