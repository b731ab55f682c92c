package dev.engram.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.engram.proto.v1.Episode;
import dev.engram.proto.v1.EpisodeBatch;
import dev.engram.proto.v1.MemoryServiceGrpc;
import dev.engram.proto.v1.RecallRequest;
import dev.engram.proto.v1.StreamClose;
import dev.engram.proto.v1.StreamInit;
import dev.engram.proto.v1.StreamRequest;
import dev.engram.proto.v1.StreamResponse;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A raw protocol client for tests: sends frames exactly as given (no SDK logic) and records every
 * response, so tests can assert on what the server said and in which order.
 */
final class TestStream implements AutoCloseable {
  final List<StreamResponse> responses = new CopyOnWriteArrayList<>();
  final CompletableFuture<Status> ended = new CompletableFuture<>();
  private final StreamObserver<StreamRequest> requests;
  private final Object lock = new Object();
  private final String spaceId;

  TestStream(ManagedChannel channel, String spaceId) {
    this.spaceId = spaceId;
    this.requests =
        MemoryServiceGrpc.newStub(channel).stream(
            new StreamObserver<>() {
              @Override
              public void onNext(StreamResponse value) {
                responses.add(value);
                synchronized (lock) {
                  lock.notifyAll();
                }
              }

              @Override
              public void onError(Throwable t) {
                ended.complete(Status.fromThrowable(t));
              }

              @Override
              public void onCompleted() {
                ended.complete(Status.OK);
              }
            });
  }

  /** Sends init and waits for the init ack. */
  StreamResponse init(String resumeSessionId) {
    send(
        StreamRequest.newBuilder()
            .setMemorySpaceId(spaceId)
            .setSessionId(resumeSessionId)
            .setInit(StreamInit.newBuilder().setEnableBackpressure(true))
            .build());
    return await(StreamResponse::hasInitAck);
  }

  StreamResponse init() {
    return init("");
  }

  void observe(long sequence, Episode episode) {
    send(
        StreamRequest.newBuilder()
            .setMemorySpaceId(spaceId)
            .setSequenceNumber(sequence)
            .setObservation(episode)
            .build());
  }

  void observeBatch(long firstSequence, List<Episode> episodes) {
    send(
        StreamRequest.newBuilder()
            .setMemorySpaceId(spaceId)
            .setSequenceNumber(firstSequence)
            .setObservations(EpisodeBatch.newBuilder().addAllEpisodes(episodes))
            .build());
  }

  void recall(String requestId, float[] cue, int k) {
    RecallRequest.Builder r = RecallRequest.newBuilder().setRequestId(requestId).setK(k);
    for (float x : cue) {
      r.addEmbedding(x);
    }
    send(StreamRequest.newBuilder().setMemorySpaceId(spaceId).setRecall(r).build());
  }

  void closeStream(boolean drain) {
    send(
        StreamRequest.newBuilder()
            .setMemorySpaceId(spaceId)
            .setClose(StreamClose.newBuilder().setDrainQueue(drain))
            .build());
  }

  void send(StreamRequest request) {
    synchronized (requests) {
      requests.onNext(request);
    }
  }

  /** Waits for the first response (from the start) that matches. */
  StreamResponse await(Predicate<StreamResponse> match) {
    return await(match, Duration.ofSeconds(20));
  }

  StreamResponse await(Predicate<StreamResponse> match, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (lock) {
      while (true) {
        for (StreamResponse r : responses) {
          if (match.test(r)) {
            return r;
          }
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new AssertionError("no matching response within " + timeout + "; got " + summary());
        }
        try {
          lock.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new AssertionError(e);
        }
      }
    }
  }

  /** Waits until an ack covers {@code sequence}. */
  StreamResponse awaitAccepted(long sequence) {
    return await(r -> r.hasAck() && r.getAck().getAcceptedThrough() >= sequence);
  }

  /** Waits until the stream ended and returns its status. */
  Status awaitEnd() {
    try {
      return ended.get(20, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError("stream did not end; got " + summary(), e);
    }
  }

  List<StreamResponse> matching(Predicate<StreamResponse> match) {
    List<StreamResponse> out = new ArrayList<>();
    for (StreamResponse r : responses) {
      if (match.test(r)) {
        out.add(r);
      }
    }
    return out;
  }

  String sessionId() {
    StreamResponse ack = await(StreamResponse::hasInitAck);
    assertThat(ack.getInitAck().getSessionId()).isNotEmpty();
    return ack.getInitAck().getSessionId();
  }

  String summary() {
    StringBuilder s = new StringBuilder();
    int n = 0;
    for (StreamResponse r : responses) {
      if (n++ > 40) {
        s.append(" ...");
        break;
      }
      s.append(' ').append(r.getKindCase());
      switch (r.getKindCase()) {
        case ACK -> s.append(r.getAck().getAcceptedThrough());
        case RESEND -> s.append(r.getResend().getFromSequence()).append(r.getResend().getReason());
        case REJECTION -> s.append(r.getRejection().getSequenceNumber());
        case ERROR -> s.append(r.getError().getMessage());
        default -> {}
      }
    }
    return s.toString();
  }

  @Override
  public void close() {
    synchronized (requests) {
      try {
        requests.onCompleted();
      } catch (IllegalStateException ignored) {
        // already closed
      }
    }
  }
}
