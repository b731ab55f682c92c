package dev.engram.server.http;

import dev.engram.core.EngramConfig;
import dev.engram.core.model.Metric;
import dev.engram.core.model.SpaceConfig;
import dev.engram.core.model.SpaceId;
import dev.engram.core.storage.FsyncPolicy;
import dev.engram.core.storage.StorageConfig;
import dev.engram.server.EngramServer;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;

/** A real server with both doors on free loopback ports, and a plain HTTP client for it. */
final class HttpServerFixture implements AutoCloseable {
  final EngramServer server;
  final HttpClient http = HttpClient.newHttpClient();

  HttpServerFixture(Path dir, EngramConfig config, HttpOptions options) throws IOException {
    server =
        EngramServer.start(0, options, StorageConfig.of(dir).withFsync(FsyncPolicy.NEVER), config);
  }

  HttpServerFixture(Path dir) throws IOException {
    this(dir, EngramConfig.builder().workers(2).build(), HttpOptions.onPort(0));
  }

  int port() {
    return server.httpPort();
  }

  void createSpace(String id, int dimension) {
    server.engine().createSpace(new SpaceConfig(SpaceId.of(id), dimension, Metric.DOT));
  }

  WsStreams streams() {
    return server.httpDoor().streams();
  }

  HttpResponse<String> call(String method, String path, String body, String contentType)
      throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://localhost:" + port() + path));
    if (body == null) {
      b.method(method, HttpRequest.BodyPublishers.noBody());
    } else {
      b.method(method, HttpRequest.BodyPublishers.ofString(body));
      // As curl does for large bodies: the server may answer (413) before reading the body, and a
      // client still sending it would otherwise see the connection reset instead of the answer.
      b.expectContinue(body.length() > 1 << 20);
      if (contentType != null) {
        b.header("Content-Type", contentType);
      }
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<String> call(String method, String path, String json)
      throws IOException, InterruptedException {
    return call(method, path, json, "application/json");
  }

  @Override
  public void close() {
    server.shutdown();
  }
}
