package dev.engram.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.google.protobuf.Timestamp;
import dev.engram.proto.v1.CreateSpaceRequest;
import dev.engram.proto.v1.Episode;
import dev.engram.proto.v1.EpisodeBatch;
import dev.engram.proto.v1.GetSpaceRequest;
import dev.engram.proto.v1.Memory;
import dev.engram.proto.v1.MemoryServiceGrpc;
import dev.engram.proto.v1.Metric;
import dev.engram.proto.v1.ObservationAck;
import dev.engram.proto.v1.RecallMode;
import dev.engram.proto.v1.RecallRequest;
import dev.engram.proto.v1.StreamInit;
import dev.engram.proto.v1.StreamRequest;
import dev.engram.proto.v1.StreamResponse;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The third stage over real gRPC against a real server process: a stream's acks carry {@code
 * consolidated_through}; once it covers the episodes, their association edges, the merge of a
 * near-duplicate and the merged memory's confidence survive {@code kill -9} and a restart, and
 * {@code ASSOCIATIVE} recall finds the episode that came right after the answer (which vector
 * similarity alone ranks below unrelated episodes). Starts the server with {@link ServerProcess}.
 */
class ConsolidationKillNineTest {
  private static final String SPACE = "assoc9";
  private static final long T0 = 1_767_225_600L; // 2026-01-01T00:00:00Z

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
  void consolidatedThrough_advances_andEdgesAndConfidenceSurviveKillNine() throws Exception {
    int port = startServer();
    MemoryServiceGrpc.newBlockingStub(channel)
        .createSpace(
            CreateSpaceRequest.newBuilder()
                .setMemorySpaceId(SPACE)
                .setDimension(4)
                .setMetric(Metric.METRIC_COSINE)
                .build());

    BlockingQueue<StreamResponse> responses = new LinkedBlockingQueue<>();
    ManagedChannel streamChannel =
        ManagedChannelBuilder.forAddress("localhost", port).usePlaintext().build();
    StreamObserver<StreamRequest> requests =
        MemoryServiceGrpc.newStub(streamChannel).stream(
            new StreamObserver<>() {
              @Override
              public void onNext(StreamResponse r) {
                responses.add(r);
              }

              @Override
              public void onError(Throwable t) {}

              @Override
              public void onCompleted() {}
            });
    requests.onNext(
        StreamRequest.newBuilder()
            .setMemorySpaceId(SPACE)
            .setInit(StreamInit.newBuilder().setEnableBackpressure(true))
            .build());
    EpisodeBatch.Builder batch =
        EpisodeBatch.newBuilder()
            .addEpisodes(episode("A", "we booked the flight", 0, 0.5f, 1, 0, 0, 0))
            .addEpisodes(episode("B", "the hotel is near the beach", 1, 1f, 0, 1, 0, 0));
    for (int i = 0; i < 3; i++) {
      double angle = 0.3 * i;
      batch.addEpisodes(
          episode(
              "D" + i,
              "other " + i,
              86_400L * (i + 1),
              1f,
              0.2f,
              0,
              (float) (Math.sqrt(0.96) * Math.cos(angle)),
              (float) (Math.sqrt(0.96) * Math.sin(angle))));
    }
    batch.addEpisodes(episode("A2", "We booked the flight!", 2, 0.5f, 1, 0.001f, 0, 0));
    requests.onNext(StreamRequest.newBuilder().setSequenceNumber(1).setObservations(batch).build());

    ObservationAck ack = ObservationAck.getDefaultInstance();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (ack.getConsolidatedThrough() < 6 && System.nanoTime() < deadline) {
      StreamResponse r = responses.poll(100, TimeUnit.MILLISECONDS);
      if (r != null && r.hasAck()) {
        ack = r.getAck();
        assertThat(ack.getConsolidatedThrough()).isLessThanOrEqualTo(ack.getIndexedThrough());
      }
    }
    assertThat(ack.getConsolidatedThrough()).as("consolidated_through over gRPC").isEqualTo(6);
    assertThat(ack.getAcceptedThrough()).isEqualTo(6);
    streamChannel.shutdownNow();

    server.kill(); // kill -9: no final snapshot, no flush
    startServer();

    var blocking = MemoryServiceGrpc.newBlockingStub(channel);
    assertThat(
            blocking
                .getSpace(GetSpaceRequest.newBuilder().setMemorySpaceId(SPACE).build())
                .getConsolidatedCount())
        .isEqualTo(6);
    List<Memory> associative = recall(RecallMode.RECALL_MODE_ASSOCIATIVE);
    assertThat(associative.stream().map(m -> m.getEpisode().getId())).containsExactly("A", "B");
    Memory a = associative.get(0);
    assertThat(a.getAliasesList()).containsExactly("A2");
    assertThat(a.getConfidence()).isCloseTo(0.75f, within(1e-4f)); // 1 - (1 - .5)(1 - .5)
    Memory b = associative.get(1);
    assertThat(b.getExplanation().getHops()).isEqualTo(1);
    // The session edge (consecutive observations, 0.8) over one hop (x 0.5) from A (cosine 1).
    assertThat(b.getExplanation().getActivation()).isCloseTo(0.4f, within(1e-4f));
    assertThat(recall(RecallMode.RECALL_MODE_SIMILARITY).stream().map(m -> m.getEpisode().getId()))
        .containsExactly("A", "D0");
  }

  private List<Memory> recall(RecallMode mode) {
    return MemoryServiceGrpc.newBlockingStub(channel)
        .recall(
            RecallRequest.newBuilder()
                .setMemorySpaceId(SPACE)
                .addAllEmbedding(List.of(1f, 0f, 0f, 0f))
                .setK(2)
                .setMode(mode)
                .build())
        .getMemoriesList();
  }

  private static Episode episode(
      String id, String text, long secondsAfterT0, float confidence, float... v) {
    Episode.Builder e =
        Episode.newBuilder()
            .setId(id)
            .setContent(text)
            .setConfidence(confidence)
            .setObservedAt(Timestamp.newBuilder().setSeconds(T0 + secondsAfterT0));
    for (float x : v) {
      e.addEmbedding(x);
    }
    return e.build();
  }

  private int startServer() throws IOException {
    server =
        ServerProcess.start(
            dataDir,
            dataDir.resolveSibling(dataDir.getFileName() + "-stderr.log"),
            "512m",
            "--auth",
            "off");
    if (channel != null) {
      channel.shutdownNow();
    }
    channel =
        ManagedChannelBuilder.forAddress("localhost", server.grpcPort()).usePlaintext().build();
    return server.grpcPort();
  }
}
