package dev.engram.client;

import dev.engram.proto.v1.CreateSpaceRequest;
import dev.engram.proto.v1.DeleteSpaceRequest;
import dev.engram.proto.v1.Episode;
import dev.engram.proto.v1.ForgetRequest;
import dev.engram.proto.v1.GetSpaceRequest;
import dev.engram.proto.v1.IssueTokenRequest;
import dev.engram.proto.v1.IssueTokenResponse;
import dev.engram.proto.v1.ListSpacesRequest;
import dev.engram.proto.v1.ListTokensRequest;
import dev.engram.proto.v1.MemoryServiceGrpc;
import dev.engram.proto.v1.Metric;
import dev.engram.proto.v1.RecallMode;
import dev.engram.proto.v1.RecallRequest;
import dev.engram.proto.v1.RecallResponse;
import dev.engram.proto.v1.RememberRequest;
import dev.engram.proto.v1.RememberResponse;
import dev.engram.proto.v1.RevokeTokenRequest;
import dev.engram.proto.v1.Space;
import dev.engram.proto.v1.TokenInfo;
import dev.engram.proto.v1.TokenRight;
import io.grpc.ChannelCredentials;
import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.TlsChannelCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The Java client for an Engram server: typed unary calls (spaces, remember, recall, forget) and
 * {@link #openStream streams} that buffer, batch, pace and resume on their own.
 *
 * <pre>{@code
 * try (EngramClient engram = EngramClient.builder().target("localhost:50051").build()) {
 *   engram.createSpace("agent-1", 384, Metric.METRIC_COSINE);
 *   try (EngramStream stream = engram.openStream("agent-1")) {
 *     stream.observe(episode);                       // fast path: buffered, batched, resent
 *     RecallResponse hits = stream.recall(cue, 5).join();
 *   }                                                // close() drains: every observation acked
 * }
 * }</pre>
 *
 * <p>Unary calls throw gRPC's {@link io.grpc.StatusRuntimeException} on failure; an overloaded
 * server answers {@code RESOURCE_EXHAUSTED} with a {@code retry-after-ms} trailer.
 *
 * <p>Thread-safety: safe from any thread; share one client per server.
 */
public final class EngramClient implements AutoCloseable {
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final ManagedChannel channel;
  private final boolean ownsChannel;
  private final Duration callTimeout;
  private final Executor executor;
  private final ExecutorService ownedExecutor;
  private final ScheduledExecutorService scheduler;
  private final MemoryServiceGrpc.MemoryServiceBlockingStub blocking;
  private final MemoryServiceGrpc.MemoryServiceStub async;

  private EngramClient(Builder b) {
    if (b.executor != null) {
      this.executor = b.executor;
      this.ownedExecutor = null;
    } else {
      this.ownedExecutor = Executors.newCachedThreadPool(daemonThreads("engram-client"));
      this.executor = ownedExecutor;
    }
    if (b.channel != null) {
      this.channel = b.channel;
      this.ownsChannel = false;
    } else {
      this.channel =
          (b.tlsTrust == null
                  ? NettyChannelBuilder.forTarget(b.target).usePlaintext()
                  : NettyChannelBuilder.forTarget(b.target, b.tlsCredentials()))
              .executor(executor)
              .keepAliveTime(30, TimeUnit.SECONDS)
              .maxInboundMessageSize(b.maxInboundMessageBytes)
              .build();
      this.ownsChannel = true;
    }
    this.callTimeout = b.callTimeout;
    this.scheduler = Executors.newSingleThreadScheduledExecutor(daemonThreads("engram-timer"));
    if (b.token == null) {
      this.blocking = MemoryServiceGrpc.newBlockingStub(channel);
      this.async = MemoryServiceGrpc.newStub(channel);
    } else {
      Metadata headers = new Metadata();
      headers.put(AUTHORIZATION, "Bearer " + b.token);
      ClientInterceptor withToken = MetadataUtils.newAttachHeadersInterceptor(headers);
      this.blocking = MemoryServiceGrpc.newBlockingStub(channel).withInterceptors(withToken);
      this.async = MemoryServiceGrpc.newStub(channel).withInterceptors(withToken);
    }
  }

  public static Builder builder() {
    return new Builder();
  }

  // ---- spaces ----

  public Space createSpace(String spaceId, int dimension, Metric metric) {
    return stub()
        .createSpace(
            CreateSpaceRequest.newBuilder()
                .setMemorySpaceId(spaceId)
                .setDimension(dimension)
                .setMetric(metric)
                .build());
  }

  /**
   * Creates a space whose text the server embeds with {@code embedder} (e.g. {@code
   * "all-minilm-l6-v2"}): its episodes and recall cues may then carry text only. The dimension is
   * the embedder's.
   */
  public Space createSpace(String spaceId, String embedder, Metric metric) {
    return createSpace(
        CreateSpaceRequest.newBuilder()
            .setMemorySpaceId(spaceId)
            .setEmbedder(embedder)
            .setMetric(metric)
            .build());
  }

  /**
   * Creates a space whose memories' confidence halves every {@code halfLife} they go unrecalled
   * (whole seconds; zero: no decay). With an embedder too, build the {@link CreateSpaceRequest}.
   */
  public Space createSpace(String spaceId, int dimension, Metric metric, Duration halfLife) {
    if (halfLife.isNegative()) {
      throw new IllegalArgumentException("halfLife must not be negative, got " + halfLife);
    }
    return createSpace(
        CreateSpaceRequest.newBuilder()
            .setMemorySpaceId(spaceId)
            .setDimension(dimension)
            .setMetric(metric)
            .setHalfLifeSeconds(halfLife.toSeconds())
            .build());
  }

  /** Creates a space from a full request (dimension, metric, embedder, half-life). */
  public Space createSpace(CreateSpaceRequest request) {
    return stub().createSpace(request);
  }

  public Space getSpace(String spaceId) {
    return stub().getSpace(GetSpaceRequest.newBuilder().setMemorySpaceId(spaceId).build());
  }

  public List<Space> listSpaces() {
    return stub().listSpaces(ListSpacesRequest.getDefaultInstance()).getSpacesList();
  }

  public void deleteSpace(String spaceId) {
    stub().deleteSpace(DeleteSpaceRequest.newBuilder().setMemorySpaceId(spaceId).build());
  }

  // ---- memories ----

  /** Stores episodes; ids already stored are counted as duplicates and not stored again. */
  public RememberResponse remember(String spaceId, List<Episode> episodes) {
    return stub()
        .remember(
            RememberRequest.newBuilder()
                .setMemorySpaceId(spaceId)
                .addAllEpisodes(episodes)
                .build());
  }

  /**
   * A recall built in full: {@code RecallRequest.newBuilder().setMemorySpaceId(..).setText(..)
   * .setMode(RecallMode.RECALL_MODE_ASSOCIATIVE).setFilter(RecallFilter.newBuilder()
   * .putMetadata("speaker", "Ana")).setK(10).build()}; a text cue, a vector cue or both. {@code
   * RecallFilter.setSessionId(stream.stats().sessionId())} keeps what one stream's session stored.
   */
  public RecallResponse recall(RecallRequest request) {
    return stub().recall(request);
  }

  /** The {@code k} memories of {@code spaceId} nearest to {@code embedding}. */
  public RecallResponse recall(String spaceId, float[] embedding, int k) {
    RecallRequest.Builder b = RecallRequest.newBuilder().setMemorySpaceId(spaceId).setK(k);
    for (float f : embedding) {
      b.addEmbedding(f);
    }
    return stub().recall(b.build());
  }

  /**
   * The {@code k} memories of {@code spaceId} whose content best matches {@code text} (BM25, {@code
   * RECALL_MODE_HYBRID} with a text cue). For a vector and text together, or a {@code
   * RecallFilter}, build the {@link RecallRequest} and call {@link #recall(RecallRequest)}.
   */
  public RecallResponse recallText(String spaceId, String text, int k) {
    return stub()
        .recall(
            RecallRequest.newBuilder()
                .setMemorySpaceId(spaceId)
                .setText(text)
                .setK(k)
                .setMode(RecallMode.RECALL_MODE_HYBRID)
                .build());
  }

  /** Forgets episodes by id; returns how many were stored. */
  public int forget(String spaceId, List<String> ids) {
    return stub()
        .forget(ForgetRequest.newBuilder().setMemorySpaceId(spaceId).addAllIds(ids).build())
        .getForgotten();
  }

  // ---- tokens (the admin token only) ----

  /**
   * Issues a token for {@code spaceId} with {@code rights}; its secret is in the answer, once.
   *
   * @param ttl its lifetime, or null for one that does not expire
   */
  public IssueTokenResponse issueToken(String spaceId, Duration ttl, TokenRight... rights) {
    IssueTokenRequest.Builder b =
        IssueTokenRequest.newBuilder().setMemorySpaceId(spaceId).addAllRights(List.of(rights));
    if (ttl != null) {
      b.setTtlSeconds(ttl.toSeconds());
    }
    return stub().issueToken(b.build());
  }

  /** Every token, without secrets. */
  public List<TokenInfo> listTokens() {
    return stub().listTokens(ListTokensRequest.getDefaultInstance()).getTokensList();
  }

  /** Revokes a token by id: it is refused from now on. */
  public void revokeToken(String id) {
    stub().revokeToken(RevokeTokenRequest.newBuilder().setId(id).build());
  }

  // ---- streams ----

  /** Opens a stream on {@code spaceId} with {@link StreamOptions#defaults()}. */
  public EngramStream openStream(String spaceId) {
    return openStream(spaceId, StreamOptions.defaults());
  }

  /**
   * Opens a stream on {@code spaceId}. It connects in the background; observations queue in its
   * buffer meanwhile.
   */
  public EngramStream openStream(String spaceId, StreamOptions options) {
    Objects.requireNonNull(spaceId, "spaceId");
    Objects.requireNonNull(options, "options");
    return new EngramStream(
        async.withOnReadyThreshold(options.maxBatchBytes()), spaceId, options, executor, scheduler);
  }

  /** The channel, for calls the SDK does not wrap (health, reflection). */
  public ManagedChannel channel() {
    return channel;
  }

  /**
   * Closes the channel (if the client made it) and the client's threads. Close streams first: this
   * does not drain them.
   */
  @Override
  public void close() {
    scheduler.shutdownNow();
    if (ownsChannel) {
      channel.shutdownNow();
      try {
        channel.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (ownedExecutor != null) {
      ownedExecutor.shutdownNow();
    }
  }

  private MemoryServiceGrpc.MemoryServiceBlockingStub stub() {
    return blocking.withDeadlineAfter(callTimeout.toNanos(), TimeUnit.NANOSECONDS);
  }

  private static java.util.concurrent.ThreadFactory daemonThreads(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  /** Builds an {@link EngramClient}; each setter validates its value. Not thread-safe. */
  public static final class Builder {
    private String target;
    private ManagedChannel channel;
    private Duration callTimeout = Duration.ofSeconds(30);
    private Executor executor;
    private int maxInboundMessageBytes = EngramStream.DEFAULT_MAX_MESSAGE_BYTES;
    private String token;
    private Path tlsTrust; // null: plaintext
    private Path clientCert;
    private Path clientKey;

    private Builder() {}

    /**
     * The token every call and stream carries ({@code authorization: Bearer <token>} metadata): a
     * space token, or the admin token for creating spaces and managing tokens.
     */
    public Builder token(String token) {
      Objects.requireNonNull(token, "token");
      if (token.isBlank() || token.chars().anyMatch(c -> c < 0x21 || c > 0x7e)) {
        throw new IllegalArgumentException(
            "token must be non-empty printable ASCII without spaces (value not shown)");
      }
      this.token = token;
      return this;
    }

    /**
     * Speaks TLS and trusts the CA certificates (or the self-signed certificate, as {@code engram
     * cert} writes it) in the PEM file {@code caPem}; applies to a channel the client makes.
     */
    public Builder tls(Path caPem) {
      this.tlsTrust = readable(caPem, "tls CA file");
      return this;
    }

    /**
     * Presents this certificate (PEM chain) and PKCS#8 key (PEM) to a server that requires client
     * certificates ({@code --tls-client-ca}); needs {@link #tls}.
     */
    public Builder clientCertificate(Path certPem, Path keyPem) {
      this.clientCert = readable(certPem, "client certificate");
      this.clientKey = readable(keyPem, "client key");
      return this;
    }

    private static Path readable(Path file, String what) {
      Objects.requireNonNull(file, what);
      if (!Files.isReadable(file)) {
        throw new IllegalArgumentException(what + " " + file + " is missing or not readable");
      }
      return file;
    }

    private ChannelCredentials tlsCredentials() {
      try {
        TlsChannelCredentials.Builder creds =
            TlsChannelCredentials.newBuilder().trustManager(tlsTrust.toFile());
        if (clientCert != null) {
          creds.keyManager(clientCert.toFile(), clientKey.toFile());
        }
        return creds.build();
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read the TLS files: " + e.getMessage(), e);
      }
    }

    /** The server as {@code host:port}. */
    public Builder target(String hostPort) {
      Objects.requireNonNull(hostPort, "target");
      int colon = hostPort.lastIndexOf(':');
      if (colon <= 0 || colon == hostPort.length() - 1) {
        throw new IllegalArgumentException("target must be host:port, got '" + hostPort + "'");
      }
      int port;
      try {
        port = Integer.parseInt(hostPort.substring(colon + 1));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            "target port must be a number, got '" + hostPort + "'", e);
      }
      if (port < 1 || port > 65_535) {
        throw new IllegalArgumentException("target port must be 1..65535, got '" + hostPort + "'");
      }
      this.target = hostPort;
      return this;
    }

    /** An existing channel; the client will not shut it down. Replaces {@link #target}. */
    public Builder channel(ManagedChannel channel) {
      this.channel = Objects.requireNonNull(channel, "channel");
      return this;
    }

    /** Deadline of each unary call. */
    public Builder callTimeout(Duration timeout) {
      Objects.requireNonNull(timeout, "callTimeout");
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("callTimeout must be positive, got " + timeout);
      }
      this.callTimeout = timeout;
      return this;
    }

    /**
     * Runs gRPC callbacks and the streams' senders; the client will not shut it down. By default
     * the client makes a cached pool of daemon threads.
     */
    public Builder executor(Executor executor) {
      this.executor = Objects.requireNonNull(executor, "executor");
      return this;
    }

    /**
     * The largest answer the client reads (bytes; default 4 MiB, the server's default {@code
     * --max-message-bytes}). Raise it with the server's limit; applies to a channel the client
     * makes, not to one passed in.
     */
    public Builder maxInboundMessageBytes(int bytes) {
      if (bytes < 16 << 10) {
        throw new IllegalArgumentException(
            "maxInboundMessageBytes must be at least 16384, got " + bytes);
      }
      this.maxInboundMessageBytes = bytes;
      return this;
    }

    public EngramClient build() {
      if (target == null && channel == null) {
        throw new IllegalStateException("set a target (host:port) or a channel");
      }
      if (clientCert != null && tlsTrust == null) {
        throw new IllegalStateException("clientCertificate needs tls(caPem)");
      }
      if (tlsTrust != null && channel != null) {
        throw new IllegalStateException(
            "tls applies to a channel the client makes, not to one passed in");
      }
      if (target != null && channel != null) {
        throw new IllegalStateException("set a target ('" + target + "') or a channel, not both");
      }
      return new EngramClient(this);
    }
  }
}
