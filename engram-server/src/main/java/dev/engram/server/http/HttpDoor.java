package dev.engram.server.http;

import dev.engram.core.Engram;
import dev.engram.server.tls.ListenOptions;
import dev.engram.server.tls.TlsMaterial;
import io.javalin.Javalin;
import io.javalin.http.staticfiles.Location;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.ee10.websocket.server.JettyWebSocketServlet;
import org.eclipse.jetty.ee10.websocket.server.JettyWebSocketServletFactory;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;

/**
 * The HTTP doors on one port (Javalin on Jetty 12): the REST API under {@code /v1}, the WebSocket
 * stream at {@code /v1/stream}, the OpenAPI document at {@code /v1/openapi.json} and the web
 * console (static files from the classpath) at {@code /}, and the operations endpoints {@code
 * /metrics}, {@code /healthz} and {@code /readyz} ({@link Operations}). Wiring only; every rule is
 * the engine's.
 *
 * <p>The WebSocket endpoint is a plain Jetty servlet mapped at its exact path (which wins over
 * Javalin's {@code /*} servlet), because Javalin's own WebSocket handler demands frames
 * automatically and a door with backpressure must not.
 *
 * <p>Thread-safety: {@link #stop} may be called from any thread, once the engine has drained.
 */
public final class HttpDoor implements AutoCloseable {
  /** Path of the OpenAPI document, on the classpath and on the wire. */
  public static final String OPENAPI_PATH = "/v1/openapi.json";

  private final Javalin app;
  private final WsStreams streams;

  private final RestApi rest;

  /**
   * Lets the REST door forward {@code GET /v1/spaces/{id}} and recalls for spaces another node owns
   * (docs/scale-out.md); null: answer every call here.
   */
  public void route(dev.engram.server.grpc.Router router) {
    rest.route(router);
  }

  private HttpDoor(Javalin app, WsStreams streams, RestApi rest) {
    this.rest = rest;
    this.app = app;
    this.streams = streams;
  }

  /** Starts the door on {@code options.port()} (0 picks a free one), without operations data. */
  public static HttpDoor start(Engram engine, HttpOptions options, InstantSource clock) {
    return start(engine, options, clock, Operations.NONE);
  }

  /**
   * Starts the door on {@code options.port()} (0 picks a free one); {@code /metrics}, {@code
   * /healthz} and {@code /readyz} answer from {@code operations}.
   */
  public static HttpDoor start(
      Engram engine, HttpOptions options, InstantSource clock, Operations operations) {
    return start(engine, options, clock, operations, ListenOptions.DEFAULT_BIND, null);
  }

  /**
   * As {@link #start(Engram, HttpOptions, InstantSource, Operations)}, listening on {@code host}
   * and, when {@code tls} is not null, speaking only HTTPS/WSS with its key (client certificates
   * required when it says so).
   */
  public static HttpDoor start(
      Engram engine,
      HttpOptions options,
      InstantSource clock,
      Operations operations,
      String host,
      TlsMaterial tls) {
    WsStreams streams = new WsStreams(options.keepAlive().toMillis());
    String openApi = resource("/dev/engram/server/http/openapi.json");
    RestApi rest = new RestApi(engine);
    int maxBytes = engine.limits().maxMessageBytes();
    // Pings keep a healthy socket busy; the idle timeout only reaps sockets that stopped moving.
    Duration idle = max(Duration.ofSeconds(30), options.keepAlive().multipliedBy(10));
    Javalin app =
        Javalin.create(
            config -> {
              config.startup.showJavalinBanner = false;
              config.concurrency.useVirtualThreads = true;
              config.http.maxRequestSize = maxBytes;
              config.jetty.port = options.port();
              config.jetty.host = host;
              if (tls != null) {
                config.jetty.addConnector(
                    (server, httpConfig) -> {
                      httpConfig.addCustomizer(new SecureRequestCustomizer());
                      ServerConnector https =
                          new ServerConnector(
                              server,
                              new SslConnectionFactory(tls.jettySslContextFactory(), "http/1.1"),
                              new HttpConnectionFactory(httpConfig));
                      https.setHost(host);
                      https.setPort(options.port());
                      return https;
                    });
              }
              if (HttpDoor.class.getResource(options.consoleDirectory() + "/index.html") != null) {
                config.staticFiles.add(
                    files -> {
                      files.hostedPath = "/";
                      files.directory = options.consoleDirectory();
                      files.location = Location.CLASSPATH;
                      files.headers = Map.of("Cache-Control", "no-cache");
                    });
              }
              config.jetty.modifyServletContextHandler(
                  context ->
                      context.addServlet(
                          new ServletHolder(
                              "engram-stream",
                              new StreamServlet(engine, clock, options, streams, maxBytes, idle)),
                          "/v1/stream"));
              config.routes.get(
                  OPENAPI_PATH, ctx -> ctx.contentType("application/json").result(openApi));
              config.routes.get(
                  "/metrics",
                  ctx ->
                      ctx.contentType(operations.scrapeContentType()).result(operations.scrape()));
              config.routes.get(
                  "/healthz",
                  ctx -> ctx.contentType("application/json").result("{\"status\":\"ok\"}"));
              config.routes.get(
                  "/readyz",
                  ctx -> {
                    boolean ready = operations.ready();
                    ctx.status(ready ? 200 : 503)
                        .contentType("application/json")
                        .result(ready ? "{\"status\":\"ready\"}" : "{\"status\":\"not ready\"}");
                  });
              rest.register(config.routes);
            });
    try {
      app.start();
    } catch (RuntimeException e) {
      streams.close();
      throw e;
    }
    return new HttpDoor(app, streams, rest);
  }

  /** The bound port. */
  public int port() {
    return app.port();
  }

  /** Stops listening; open sockets are closed. Call after the engine has ended its streams. */
  public void stop() {
    try {
      app.stop();
    } finally {
      streams.close();
    }
  }

  @Override
  public void close() {
    stop();
  }

  WsStreams streams() {
    return streams;
  }

  private static Duration max(Duration a, Duration b) {
    return a.compareTo(b) >= 0 ? a : b;
  }

  private static String resource(String path) {
    try (InputStream in = HttpDoor.class.getResourceAsStream(path)) {
      if (in == null) {
        throw new IllegalStateException("missing resource " + path);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Upgrades {@code /v1/stream} requests to a {@link WsStreamEndpoint} each. */
  private static final class StreamServlet extends JettyWebSocketServlet {
    private static final long serialVersionUID = 1L;
    private final transient Engram engine;
    private final transient InstantSource clock;
    private final transient HttpOptions options;
    private final transient WsStreams streams;
    private final int maxBytes;
    private final transient Duration idle;

    StreamServlet(
        Engram engine,
        InstantSource clock,
        HttpOptions options,
        WsStreams streams,
        int maxBytes,
        Duration idle) {
      this.engine = engine;
      this.clock = clock;
      this.options = options;
      this.streams = streams;
      this.maxBytes = maxBytes;
      this.idle = idle;
    }

    @Override
    protected void configure(JettyWebSocketServletFactory factory) {
      // A frame over the message limit closes the socket with 1009 (Jetty's own check).
      factory.setMaxTextMessageSize(maxBytes);
      factory.setMaxBinaryMessageSize(1024);
      factory.setIdleTimeout(idle);
      factory.setCreator(
          (request, response) -> {
            List<String> space = request.getParameterMap().get("space");
            return new WsStreamEndpoint(
                engine,
                clock,
                options,
                streams,
                space == null || space.isEmpty() ? "" : space.getFirst(),
                request.getHeader("Authorization"));
          });
    }
  }
}
