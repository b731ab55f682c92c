package dev.engram.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.engram.proto.v1.MemoryServiceGrpc;
import dev.engram.proto.v1.ObservationAck;
import dev.engram.proto.v1.Resend;
import dev.engram.proto.v1.ResendReason;
import dev.engram.proto.v1.StreamInitAck;
import dev.engram.proto.v1.StreamRequest;
import dev.engram.proto.v1.StreamResponse;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Go-back-N on a {@code Resend GAP}. A correct client never leaves a gap, so a real server cannot
 * be made to send one on demand; this scripted server (real gRPC, scripted answers) drops the first
 * observation message and asks for everything again from sequence 1, then follows the session rules
 * (duplicates re-acknowledged, later gaps dropped silently until the resend arrives).
 */
class ResendGapTest {
  private Server server;

  @AfterEach
  void tearDown() {
    if (server != null) {
      server.shutdownNow();
    }
  }

  @Test
  void resendGap_clientGoesBackAndEverythingIsAcknowledgedOnce() throws Exception {
    ScriptedService service = new ScriptedService();
    server =
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
            .addService(service)
            .build()
            .start();
    List<Long> resendFrom = new CopyOnWriteArrayList<>();
    int n = 1_000;
    Random random = new Random(2);
    try (EngramClient client =
        EngramClient.builder().target("127.0.0.1:" + server.getPort()).build()) {
      EngramStream stream =
          client.openStream(
              "gap",
              StreamOptions.builder()
                  .maxBatchSize(10)
                  .listener(
                      new StreamListener() {
                        @Override
                        public void onResend(long fromTicket, ResendReason reason, int retry) {
                          resendFrom.add(fromTicket);
                        }
                      })
                  .build());
      for (int i = 0; i < n; i++) {
        stream.observe(TestData.episode("g-" + i, TestData.unitVector(random, 4), ""));
      }
      assertThat(stream.close(Duration.ofSeconds(20))).isTrue();
      StreamStats stats = stream.stats();
      assertThat(stats.acked()).isEqualTo(n);
      assertThat(stats.resent()).isPositive();
    }
    assertThat(resendFrom).containsExactly(0L);
    // Sequence 1 was sent twice (first, and again after the Resend), and the stored numbers are
    // exactly 1..n with nothing processed twice.
    assertThat(service.firstSequences.stream().filter(s -> s == 1).count()).isEqualTo(2);
    assertThat(service.processed).isEqualTo(n);
  }

  /** Follows the session rules, except that it drops the first observation message as a gap. */
  private static final class ScriptedService extends MemoryServiceGrpc.MemoryServiceImplBase {
    final List<Long> firstSequences = new CopyOnWriteArrayList<>();
    volatile long processed;

    @Override
    public StreamObserver<StreamRequest> stream(StreamObserver<StreamResponse> responses) {
      return new StreamObserver<>() {
        long expected = 1;
        boolean gapSent;
        boolean resendPending;

        @Override
        public void onNext(StreamRequest r) {
          switch (r.getKindCase()) {
            case INIT ->
                responses.onNext(
                    StreamResponse.newBuilder()
                        .setInitAck(
                            StreamInitAck.newBuilder().setSessionId("s-1").setNextSequence(1))
                        .build());
            case OBSERVATION, OBSERVATIONS -> {
              long first = r.getSequenceNumber();
              int count = r.hasObservations() ? r.getObservations().getEpisodesCount() : 1;
              firstSequences.add(first);
              if (!gapSent) {
                gapSent = true;
                resendPending = true;
                responses.onNext(
                    StreamResponse.newBuilder()
                        .setResend(
                            Resend.newBuilder()
                                .setFromSequence(expected)
                                .setReason(ResendReason.RESEND_REASON_GAP))
                        .build());
                return;
              }
              if (first > expected) {
                return; // a gap while the resend is pending: dropped silently
              }
              resendPending = false;
              long last = first + count - 1;
              if (last >= expected) {
                processed += last - expected + 1;
                expected = last + 1;
              }
              ack();
            }
            case CLOSE -> {
              ack();
              responses.onCompleted();
            }
            default -> {}
          }
        }

        private void ack() {
          responses.onNext(
              StreamResponse.newBuilder()
                  .setAck(ObservationAck.newBuilder().setAcceptedThrough(expected - 1))
                  .build());
        }

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {}
      };
    }
  }
}
