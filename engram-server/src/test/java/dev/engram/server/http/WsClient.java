package dev.engram.server.http;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.engram.proto.v1.StreamRequest;
import dev.engram.proto.v1.StreamResponse;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A test client over the JDK's {@link WebSocket}: sends {@code StreamRequest}s as JSON text frames
 * and queues every {@code StreamResponse} it reads. With {@code reading} false it never asks for a
 * frame (the JDK client then stops reading the socket) until {@link #startReading}.
 */
final class WsClient implements WebSocket.Listener, AutoCloseable {
  record Closed(int code, String reason) {}

  final BlockingQueue<StreamResponse> responses = new LinkedBlockingQueue<>();
  final CompletableFuture<Closed> closed = new CompletableFuture<>();
  final CompletableFuture<Void> pinged = new CompletableFuture<>();
  private final StringBuilder partial = new StringBuilder();
  private volatile boolean reading;
  private WebSocket ws;

  private WsClient(boolean reading) {
    this.reading = reading;
  }

  static WsClient connect(int port, String space) {
    return connect(port, space, true);
  }

  static WsClient connect(int port, String space, boolean reading) {
    WsClient client = new WsClient(reading);
    client.ws =
        HttpClient.newHttpClient()
            .newWebSocketBuilder()
            .connectTimeout(Duration.ofSeconds(5))
            .buildAsync(URI.create("ws://localhost:" + port + "/v1/stream?space=" + space), client)
            .orTimeout(10, TimeUnit.SECONDS)
            .join();
    return client;
  }

  void send(StreamRequest request) {
    try {
      sendRaw(JsonFormat.printer().print(request));
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException(e);
    }
  }

  void sendRaw(String text) {
    ws.sendText(text, true).orTimeout(10, TimeUnit.SECONDS).join();
  }

  /** Sends without waiting for the frame to be written (for a client that floods). */
  CompletableFuture<WebSocket> sendAsync(StreamRequest request) throws Exception {
    return ws.sendText(JsonFormat.printer().print(request), true);
  }

  /** The next response that matches, skipping others; fails after 10 s. */
  StreamResponse next(Predicate<StreamResponse> match) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (true) {
      StreamResponse r = responses.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
      if (r == null) {
        throw new AssertionError("no matching response within 10 s");
      }
      if (match.test(r)) {
        return r;
      }
    }
  }

  Closed awaitClosed() {
    return closed.orTimeout(10, TimeUnit.SECONDS).join();
  }

  /**
   * The server's close frame, or null if the connection ended without one: a client that stopped
   * reading may find the close frame behind data it never read, and the server aborts the
   * connection when the close handshake cannot complete.
   */
  Closed awaitClosedOrEnded() {
    try {
      return closed.orTimeout(10, TimeUnit.SECONDS).join();
    } catch (java.util.concurrent.CompletionException e) {
      if (e.getCause() instanceof java.io.IOException) {
        return null;
      }
      throw e;
    }
  }

  /** Reads exactly one more frame (for a client that otherwise does not read). */
  void readOne() {
    ws.request(1);
  }

  void startReading() {
    reading = true;
    ws.request(Long.MAX_VALUE);
  }

  @Override
  public void onOpen(WebSocket webSocket) {
    if (reading) {
      webSocket.request(1);
    }
  }

  @Override
  public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
    partial.append(data);
    if (last) {
      StreamResponse.Builder b = StreamResponse.newBuilder();
      try {
        JsonFormat.parser().merge(partial.toString(), b);
      } catch (InvalidProtocolBufferException e) {
        throw new IllegalStateException("server sent a frame that is not a StreamResponse", e);
      }
      partial.setLength(0);
      responses.add(b.build());
    }
    if (reading) {
      webSocket.request(1);
    }
    return null;
  }

  @Override
  public CompletionStage<?> onPing(WebSocket webSocket, ByteBuffer message) {
    pinged.complete(null);
    if (reading) {
      webSocket.request(1);
    }
    return null;
  }

  @Override
  public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
    closed.complete(new Closed(statusCode, reason));
    return null;
  }

  @Override
  public void onError(WebSocket webSocket, Throwable error) {
    closed.completeExceptionally(error);
  }

  @Override
  public void close() {
    ws.abort();
  }
}
