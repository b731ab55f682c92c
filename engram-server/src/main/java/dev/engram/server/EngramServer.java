package dev.engram.server;

import dev.engram.core.Engram;
import dev.engram.core.EngramConfig;
import dev.engram.core.Warmup;
import dev.engram.core.storage.StorageConfig;
import dev.engram.proto.v1.MemoryServiceGrpc;
import dev.engram.server.grpc.AuthInterceptor;
import dev.engram.server.grpc.FramingLimitTracer;
import dev.engram.server.grpc.MemoryServiceImpl;
import dev.engram.server.grpc.Router;
import dev.engram.server.grpc.StrictParsing;
import dev.engram.server.http.HttpDoor;
import dev.engram.server.http.HttpOptions;
import dev.engram.server.http.Operations;
import dev.engram.server.metrics.EngramMetrics;
import dev.engram.server.tls.ListenOptions;
import dev.engram.server.tls.TlsMaterial;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A running Engram server: the engine plus its doors (gRPC with health and reflection; HTTP with
 * REST, the WebSocket stream and the console, unless turned off). The one place where components
 * are wired together by hand.
 *
 * <p>Thread-safety: {@link #shutdown} may be called from any thread (e.g. a SIGTERM hook) and is
 * idempotent.
 */
public final class EngramServer implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(EngramServer.class.getName());

  private final Engram engine;
  private final Server grpc;
  private final MemoryServiceImpl service;
  private final HttpDoor http; // null when the HTTP door is off
  private final HealthStatusManager health;
  private final ExecutorService executor;
  private final Path dataDir;
  private final EngramMetrics metrics;
  private final AtomicBoolean serving; // false from the start of shutdown
  private final String generatedAdminToken; // null unless generated at this (first) start
  private final Warmup.Report warmup;
  private volatile boolean stopped; // written under this

  private EngramServer(
      Engram engine,
      Server grpc,
      MemoryServiceImpl service,
      HttpDoor http,
      HealthStatusManager health,
      ExecutorService executor,
      Path dir,
      EngramMetrics metrics,
      AtomicBoolean serving,
      String generatedAdminToken,
      Warmup.Report warmup) {
    this.warmup = warmup;
    this.serving = serving;
    this.generatedAdminToken = generatedAdminToken;
    this.engine = engine;
    this.metrics = metrics;
    this.grpc = grpc;
    this.service = service;
    this.http = http;
    this.health = health;
    this.executor = executor;
    this.dataDir = dir;
  }

  /**
   * Starts a server.
   *
   * @param grpcPort the port to listen on (0 picks a free one)
   * @param dataDir the data directory (created if missing)
   * @param engine the engine configuration
   */
  public static EngramServer start(int grpcPort, Path dataDir, EngramConfig engine)
      throws IOException {
    return start(grpcPort, StorageConfig.of(dataDir), engine);
  }

  /**
   * Starts a server whose engine persists per {@code storage}, without the HTTP door. Recovery
   * (spaces, episodes, graphs, sessions) completes before the port opens.
   *
   * @throws dev.engram.core.storage.DataDirectoryInUseException if another server holds the data
   *     directory
   */
  public static EngramServer start(int grpcPort, StorageConfig storage, EngramConfig engine)
      throws IOException {
    return start(grpcPort, HttpOptions.disabled(), storage, engine, EngramMetrics.prometheus());
  }

  /**
   * Starts a server with both doors: gRPC on {@code grpcPort} and HTTP per {@code http} (off when
   * {@code http.port()} is {@link HttpOptions#DISABLED}). Recovery completes before either port
   * opens.
   */
  public static EngramServer start(
      int grpcPort, HttpOptions http, StorageConfig storage, EngramConfig engine)
      throws IOException {
    return start(grpcPort, http, storage, engine, EngramMetrics.prometheus());
  }

  /**
   * As {@link #start(int, HttpOptions, StorageConfig, EngramConfig)}, reporting to {@code metrics}
   * (which replaces the configuration's events hook).
   */
  public static EngramServer start(
      int grpcPort,
      HttpOptions http,
      StorageConfig storage,
      EngramConfig engine,
      EngramMetrics metrics)
      throws IOException {
    return start(
        grpcPort, http, ListenOptions.loopback(), storage, engine, metrics, AccessOptions.OPEN);
  }

  /**
   * As {@link #start(int, HttpOptions, ListenOptions, StorageConfig, EngramConfig, EngramMetrics,
   * AccessOptions)}, without authentication.
   */
  public static EngramServer start(
      int grpcPort,
      HttpOptions http,
      ListenOptions listen,
      StorageConfig storage,
      EngramConfig engine,
      EngramMetrics metrics)
      throws IOException {
    return start(grpcPort, http, listen, storage, engine, metrics, AccessOptions.OPEN);
  }

  /**
   * Starts a server whose doors both listen per {@code listen} (its bind address, and TLS when it
   * names PEM files, loaded and checked before anything opens), with authentication per {@code
   * access}. With authentication on and no admin token given, the first start generates one: {@link
   * #generatedAdminToken} has it, this once.
   *
   * @throws IllegalArgumentException for plaintext on a non-loopback address without {@code
   *     allowPlaintext} ({@link ListenOptions#checkPlaintext}), or authentication off on a
   *     non-loopback address
   * @throws dev.engram.server.tls.TlsException for a TLS file that cannot be used (it names it)
   */
  public static EngramServer start(
      int grpcPort,
      HttpOptions http,
      ListenOptions listen,
      StorageConfig storage,
      EngramConfig engine,
      EngramMetrics metrics,
      AccessOptions access)
      throws IOException {
    if (!access.auth() && !listen.loopbackOnly()) {
      throw new IllegalArgumentException(
          "--auth off is allowed only on a loopback address (--bind 127.0.0.1 or ::1), not "
              + listen.bindAddress());
    }
    listen.checkPlaintext();
    TlsMaterial tls = listen.tlsEnabled() ? TlsMaterial.load(listen) : null;
    Path dataDir = storage.dataDir();
    Files.createDirectories(dataDir);
    // Before recovery (it indexes) and before the doors listen: no client meets a cold JIT.
    Warmup.Report warmup = Warmup.run(engine.warmup());
    Engram core = new Engram(engine.withEvents(metrics), storage, access.auth());
    String generated;
    try {
      generated =
          access.auth()
              ? core.auth()
                  .tokens()
                  .ensureAdmin(Optional.ofNullable(access.adminToken()))
                  .orElse(null)
              : null;
    } catch (RuntimeException e) {
      core.close();
      throw e;
    }
    metrics.bind(core);
    HealthStatusManager health = new HealthStatusManager();
    ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    MemoryServiceImpl service = new MemoryServiceImpl(core, InstantSource.system());
    Server server;
    try {
      server =
          (tls == null
                  ? NettyServerBuilder.forAddress(
                      new InetSocketAddress(listen.bindAddress(), grpcPort))
                  : NettyServerBuilder.forAddress(
                      new InetSocketAddress(listen.bindAddress(), grpcPort), tls.grpcCredentials()))
              .executor(executor)
              .addService(
                  ServerInterceptors.intercept(
                      StrictParsing.strict(service.bindService(), core), new AuthInterceptor()))
              .addStreamTracerFactory(new FramingLimitTracer(core))
              .addService(health.getHealthService())
              .addService(ProtoReflectionServiceV1.newInstance())
              .permitKeepAliveTime(10, TimeUnit.SECONDS)
              // Larger messages end their call with RESOURCE_EXHAUSTED; streams learn the limit
              // from StreamInitAck.capabilities.max_message_bytes.
              .maxInboundMessageSize(engine.limits().maxMessageBytes())
              .build()
              .start();
    } catch (IOException | RuntimeException e) {
      core.close();
      executor.shutdownNow();
      throw e;
    }
    AtomicBoolean serving = new AtomicBoolean(true);
    HttpDoor door = null;
    if (http.enabled()) {
      try {
        door =
            HttpDoor.start(
                core,
                http,
                InstantSource.system(),
                operations(metrics, core, serving),
                listen.bindAddress(),
                tls);
      } catch (RuntimeException e) {
        server.shutdownNow();
        core.close();
        executor.shutdownNow();
        throw new IOException("cannot listen for HTTP on port " + http.port() + ": " + e, e);
      }
    }
    health.setStatus("", ServingStatus.SERVING);
    health.setStatus(MemoryServiceGrpc.SERVICE_NAME, ServingStatus.SERVING);
    return new EngramServer(
        core, server, service, door, health, executor, dataDir, metrics, serving, generated,
        warmup);
  }

  /** What the warm-up before this server listened did ({@code EngramConfig.warmup}). */
  public Warmup.Report warmup() {
    return warmup;
  }

  /**
   * The admin token generated at this start (the data directory had none and no admin token was
   * given), to be shown once; empty otherwise. The server keeps only its hash.
   */
  public Optional<String> generatedAdminToken() {
    return Optional.ofNullable(generatedAdminToken);
  }

  /**
   * Lets the gRPC and REST doors forward recalls and {@code GetSpace} for spaces another node owns
   * (docs/scale-out.md); null: answer every call here.
   */
  public void route(Router router) {
    service.route(router);
    if (http != null) {
      http.route(router);
    }
  }

  /** The server's metrics; {@link EngramMetrics#scrape} is what {@code /metrics} serves. */
  public EngramMetrics metrics() {
    return metrics;
  }

  /** Liveness ({@code /healthz}): the process answers. */
  public boolean alive() {
    return true;
  }

  /**
   * Readiness ({@code /readyz}, and the gRPC health service): recovery has finished (it does before
   * {@link #start} returns) and the server is not shutting down or draining.
   */
  public boolean ready() {
    return serving.get() && engine.accepting();
  }

  /** The HTTP door's view of this server: its metrics and its readiness. */
  private static Operations operations(EngramMetrics metrics, Engram core, AtomicBoolean serving) {
    return new Operations() {
      @Override
      public String scrape() {
        return metrics.scrape();
      }

      @Override
      public String scrapeContentType() {
        return EngramMetrics.contentType();
      }

      @Override
      public boolean ready() {
        return serving.get() && core.accepting();
      }
    };
  }

  public int grpcPort() {
    return grpc.getPort();
  }

  /** The bound HTTP port, or {@link HttpOptions#DISABLED} when the HTTP door is off. */
  public int httpPort() {
    return http == null ? HttpOptions.DISABLED : http.port();
  }

  /** The HTTP door, or null when it is off. */
  public HttpDoor httpDoor() {
    return http;
  }

  public Engram engine() {
    return engine;
  }

  public Path dataDir() {
    return dataDir;
  }

  /**
   * Graceful shutdown: health goes NOT_SERVING, new streams are refused with {@code UNAVAILABLE}
   * (REST writes with 503), the queue drains (bounded), open streams get a final ack and end, then
   * the transports stop.
   */
  public synchronized void shutdown() {
    if (stopped) {
      return;
    }
    stopped = true;
    serving.set(false);
    health.enterTerminalState();
    try {
      boolean drained = engine.shutdown();
      if (!drained) {
        LOG.log(Level.WARNING, "shutdown: the ingest queue did not drain in time");
      }
      if (http != null) {
        http.stop(); // streams have had their final ack; REST answered 503 while draining
      }
      grpc.shutdown();
      if (!grpc.awaitTermination(5, TimeUnit.SECONDS)) {
        grpc.shutdownNow();
        grpc.awaitTermination(2, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      grpc.shutdownNow();
      Thread.currentThread().interrupt();
    } finally {
      engine.close();
      executor.shutdownNow();
    }
  }

  @Override
  public void close() {
    shutdown();
  }

  /** Blocks until the transport has terminated. */
  public void awaitTermination() throws InterruptedException {
    grpc.awaitTermination();
  }
}
