package dev.engram.server.grpc;

import dev.engram.core.EngramConfig;
import dev.engram.proto.v1.CreateSpaceRequest;
import dev.engram.proto.v1.MemoryServiceGrpc;
import dev.engram.proto.v1.Metric;
import dev.engram.server.EngramServer;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** A real server on a loopback port and a channel to it. */
final class LoopbackServer implements AutoCloseable {
  final EngramServer server;
  final ManagedChannel channel;
  final MemoryServiceGrpc.MemoryServiceBlockingStub blocking;

  LoopbackServer(Path dataDir, EngramConfig config) throws IOException {
    server = EngramServer.start(0, dataDir, config);
    channel =
        Grpc.newChannelBuilder(
                "localhost:" + server.grpcPort(), InsecureChannelCredentials.create())
            .build();
    blocking = MemoryServiceGrpc.newBlockingStub(channel);
  }

  LoopbackServer(Path dataDir) throws IOException {
    this(dataDir, EngramConfig.builder().workers(2).build());
  }

  void createSpace(String id, int dimension, Metric metric) {
    blocking.createSpace(
        CreateSpaceRequest.newBuilder()
            .setMemorySpaceId(id)
            .setDimension(dimension)
            .setMetric(metric)
            .build());
  }

  TestStream stream(String spaceId) {
    return new TestStream(channel, spaceId);
  }

  @Override
  public void close() {
    channel.shutdownNow();
    try {
      channel.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    server.shutdown();
  }
}
