package dev.engram.server.kafka;

import dev.engram.proto.v1.GetSpaceRequest;
import dev.engram.proto.v1.MemoryServiceGrpc;
import dev.engram.proto.v1.RecallRequest;
import dev.engram.proto.v1.RecallResponse;
import dev.engram.proto.v1.Space;
import dev.engram.server.grpc.AuthInterceptor;
import dev.engram.server.grpc.Router;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * "Any node answers any call": a recall or {@code GetSpace} for a space whose partition another
 * node owns (per {@link MemberTable}) is sent to that node over gRPC, one hop, with a deadline. The
 * forwarded call carries the caller's own {@code authorization} metadata, so the owner authorises
 * it exactly as if it were called directly, and {@link AuthInterceptor#FORWARDED_BY}, so it is
 * answered there and never forwarded again. A failure of the owner (including unreachable or past
 * the deadline) is the caller's answer; nothing is answered from a copy that may be stale.
 *
 * <p>Meters: {@code engram_kafka_forwarded_total{call=recall|get_space,outcome=ok|error}}.
 *
 * <p>Channels to the other nodes are plaintext and kept per address (nodes serving with TLS do not
 * forward yet: docs/scale-out.md).
 *
 * <p>Thread-safety: safe from any thread.
 */
final class Forwarder implements Router, AutoCloseable {
  /** How long a forwarded call may take, at most (less when the caller's deadline is sooner). */
  static final long DEADLINE_MILLIS = 5_000;

  private final String nodeId;
  private final MemberTable table;
  private final MeterRegistry registry; // null: no meters
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  private final Map<String, Counter> counters = new ConcurrentHashMap<>();

  Forwarder(String nodeId, MemberTable table, MeterRegistry registry) {
    this.nodeId = nodeId;
    this.table = table;
    this.registry = registry;
  }

  @Override
  public String owner(String spaceId) {
    MemberTable.Member m = table.owner(spaceId);
    return m == null ? "" : m.node();
  }

  @Override
  public RecallResponse recall(RecallRequest request, String authorization) {
    return forward("recall", request.getMemorySpaceId(), authorization, s -> s.recall(request));
  }

  @Override
  public Space getSpace(GetSpaceRequest request, String authorization) {
    return forward(
        "get_space", request.getMemorySpaceId(), authorization, s -> s.getSpace(request));
  }

  private <T> T forward(
      String call,
      String space,
      String authorization,
      Function<MemoryServiceGrpc.MemoryServiceBlockingStub, T> send) {
    MemberTable.Member owner = table.owner(space);
    if (owner == null || owner.node().equals(nodeId)) {
      return null; // ours, or nobody known: answer here
    }
    Metadata headers = new Metadata();
    headers.put(AuthInterceptor.FORWARDED_BY, nodeId);
    if (authorization != null) {
      headers.put(AuthInterceptor.AUTHORIZATION, authorization);
    }
    MemoryServiceGrpc.MemoryServiceBlockingStub stub =
        MemoryServiceGrpc.newBlockingStub(channel(owner.address()))
            .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
            .withDeadlineAfter(DEADLINE_MILLIS, TimeUnit.MILLISECONDS);
    try {
      T answer = send.apply(stub);
      count(call, "ok");
      return answer;
    } catch (StatusRuntimeException e) {
      count(call, "error");
      if (e.getStatus().getCode() == Status.Code.UNAVAILABLE
          || e.getStatus().getCode() == Status.Code.DEADLINE_EXCEEDED) {
        throw e.getStatus()
            .withDescription(
                "memory space '%s' is owned by node %s at %s, which did not answer: %s"
                    .formatted(
                        space, owner.node(), owner.address(), e.getStatus().getDescription()))
            .asRuntimeException(e.getTrailers());
      }
      throw e; // the owner's own answer (e.g. NOT_FOUND, UNAUTHENTICATED), as it gave it
    }
  }

  private ManagedChannel channel(String address) {
    return channels.computeIfAbsent(
        address, a -> ManagedChannelBuilder.forTarget(a).usePlaintext().build());
  }

  private void count(String call, String outcome) {
    if (registry == null) {
      return;
    }
    counters
        .computeIfAbsent(
            call + "/" + outcome,
            k ->
                Counter.builder("engram.kafka.forwarded")
                    .description("Calls forwarded to the node that owns the space, by outcome")
                    .tag("call", call)
                    .tag("outcome", outcome)
                    .register(registry))
        .increment();
  }

  @Override
  public void close() {
    for (ManagedChannel c : channels.values()) {
      c.shutdownNow();
    }
  }
}
