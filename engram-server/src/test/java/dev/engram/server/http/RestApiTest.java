package dev.engram.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.engram.core.EngramConfig;
import dev.engram.core.embed.Embedder;
import dev.engram.core.embed.Embedders;
import dev.engram.core.model.MessageLimits;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every REST endpoint and every error status, over loopback. */
class RestApiTest {
  @TempDir Path dir;

  private static String vec(float... v) {
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < v.length; i++) {
      b.append(i == 0 ? "" : ",").append(v[i]);
    }
    return b.append("]").toString();
  }

  @Test
  void rest_everyEndpoint_answersInTheProtoJsonMapping() throws Exception {
    try (HttpServerFixture f = new HttpServerFixture(dir)) {
      var created =
          f.call(
              "POST",
              "/v1/spaces",
              "{\"memorySpaceId\":\"notes\",\"dimension\":2,\"metric\":\"METRIC_DOT\"}");
      assertThat(created.statusCode()).isEqualTo(201);
      assertThat(created.body())
          .contains("\"memorySpaceId\":\"notes\"")
          .contains("\"dimension\":2");
      assertThat(created.headers().firstValue("Location")).hasValue("/v1/spaces/notes");
      assertThat(f.call("GET", "/v1/spaces", null).body()).contains("\"notes\"");
      assertThat(f.call("GET", "/v1/spaces/notes", null).statusCode()).isEqualTo(200);

      var one =
          f.call(
              "POST",
              "/v1/spaces/notes/episodes",
              "{\"id\":\"a\",\"embedding\":" + vec(1, 0) + "}");
      assertThat(one.statusCode()).isEqualTo(200);
      assertThat(one.body()).isEqualTo("{\"ids\":[\"a\"]}");
      var batch =
          f.call(
              "POST",
              "/v1/spaces/notes/episodes",
              "{\"episodes\":[{\"id\":\"a\",\"embedding\":"
                  + vec(1, 0)
                  + "},{\"embedding\":"
                  + vec(0, 1)
                  + ",\"content\":\"meeting notes\",\"metadata\":{\"k\":\"v\"}}]}");
      assertThat(batch.statusCode()).isEqualTo(200);
      assertThat(batch.body()).contains("\"duplicates\":1");
      String generated = batch.body().replaceAll(".*\"ids\":\\[\"a\",\"([^\"]+)\"].*", "$1");
      assertThat(generated).contains("/"); // server-made ids contain '/': the path takes it as is

      var episode = f.call("GET", "/v1/spaces/notes/episodes/" + generated, null);
      assertThat(episode.statusCode()).isEqualTo(200);
      assertThat(episode.body()).contains("\"k\":\"v\"");

      var recall =
          f.call(
              "POST",
              "/v1/spaces/notes/recall",
              "{\"requestId\":\"q\",\"embedding\":" + vec(0, 1) + ",\"k\":1}");
      assertThat(recall.statusCode()).isEqualTo(200);
      assertThat(recall.body())
          .contains("\"requestId\":\"q\"")
          .contains("\"id\":\"" + generated + "\"");

      var hybrid =
          f.call(
              "POST",
              "/v1/spaces/notes/recall",
              "{\"text\":\"the notes\",\"mode\":\"RECALL_MODE_HYBRID\","
                  + "\"filter\":{\"metadata\":{\"k\":\"v\"},"
                  + "\"observedAfter\":\"1970-01-01T00:00:00Z\"}}");
      assertThat(hybrid.statusCode()).isEqualTo(200);
      assertThat(hybrid.body()).contains("\"id\":\"" + generated + "\"").doesNotContain("\"a\"");

      var forget = f.call("DELETE", "/v1/spaces/notes/episodes/a", null);
      assertThat(forget.body()).isEqualTo("{\"forgotten\":1}");
      assertThat(f.call("GET", "/v1/spaces/notes/episodes/a", null).statusCode()).isEqualTo(404);
      assertThat(f.call("DELETE", "/v1/spaces/notes", null).statusCode()).isEqualTo(200);
      assertThat(f.call("GET", "/v1/spaces/notes", null).statusCode()).isEqualTo(404);
    }
  }

  /** A three-dimensional stand-in for a model: one axis per word family. */
  private static final class FakeEmbedder implements Embedder {
    @Override
    public String name() {
      return "fake";
    }

    @Override
    public int dimension() {
      return 3;
    }

    @Override
    public List<float[]> embed(List<String> texts) {
      return texts.stream()
          .map(t -> new float[] {t.contains("cat") ? 1 : 0, t.contains("car") ? 1 : 0, 0.1f})
          .toList();
    }
  }

  @Test
  void rest_spaceWithEmbedder_takesTextOnlyEpisodesAndCues() throws Exception {
    EngramConfig config =
        EngramConfig.builder().workers(2).embedders(Embedders.of(new FakeEmbedder())).build();
    try (HttpServerFixture f = new HttpServerFixture(dir, config, HttpOptions.onPort(0))) {
      var created =
          f.call(
              "POST",
              "/v1/spaces",
              "{\"memorySpaceId\":\"texts\",\"embedder\":\"fake\",\"metric\":\"METRIC_COSINE\"}");
      assertThat(created.statusCode()).isEqualTo(201);
      assertThat(created.body()).contains("\"dimension\":3").contains("\"embedder\":\"fake\"");
      var stored =
          f.call(
              "POST",
              "/v1/spaces/texts/episodes",
              "{\"episodes\":[{\"id\":\"c\",\"content\":\"my cat\"},"
                  + "{\"id\":\"r\",\"content\":\"my car\"}]}");
      assertThat(stored.statusCode()).isEqualTo(200);

      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      String body = "";
      while (!body.contains("\"id\":\"r\"") && System.nanoTime() < deadline) {
        body = f.call("POST", "/v1/spaces/texts/recall", "{\"text\":\"a red car\",\"k\":1}").body();
      }
      assertThat(body).contains("\"id\":\"r\"").doesNotContain("\"id\":\"c\"");

      var plain =
          f.call(
              "POST",
              "/v1/spaces",
              "{\"memorySpaceId\":\"vectors\",\"dimension\":3,\"metric\":\"METRIC_COSINE\"}");
      assertThat(plain.statusCode()).isEqualTo(201);
      var refused = f.call("POST", "/v1/spaces/vectors/episodes", "{\"content\":\"my cat\"}");
      assertThat(refused.statusCode()).isEqualTo(400);
      assertThat(refused.body()).contains("INVALID_ARGUMENT").contains("has no embedder");
    }
  }

  @Test
  void rest_badInput_oneErrorShapeWithTheFittingStatus() throws Exception {
    try (HttpServerFixture f = new HttpServerFixture(dir)) {
      f.createSpace("notes", 2);
      HttpResponse<String> unknownField =
          f.call("POST", "/v1/spaces", "{\"memorySpaceId\":\"x\",\"dimension\":2,\"colour\":1}");
      assertThat(unknownField.statusCode()).isEqualTo(400);
      assertThat(unknownField.body())
          .startsWith("{\"error\":{")
          .contains("\"code\":\"INVALID_ARGUMENT\"")
          .contains("\"field\":\"colour\"");
      assertThat(f.call("POST", "/v1/spaces", "{oops").body()).contains("\"field\":\"body\"");
      var wrongDim = f.call("POST", "/v1/spaces/notes/episodes", "{\"embedding\":[1,2,3]}");
      assertThat(wrongDim.statusCode()).isEqualTo(400);
      assertThat(wrongDim.body()).contains("dimension");
      assertThat(f.call("POST", "/v1/spaces/bad%20id/recall", "{}").statusCode()).isEqualTo(400);
      var missing = f.call("GET", "/v1/spaces/nope", null);
      assertThat(missing.statusCode()).isEqualTo(404);
      assertThat(missing.body()).contains("\"code\":\"NOT_FOUND\"");
      var exists =
          f.call(
              "POST",
              "/v1/spaces",
              "{\"memorySpaceId\":\"notes\",\"dimension\":3,\"metric\":\"METRIC_DOT\"}");
      assertThat(exists.statusCode()).isEqualTo(409);
      assertThat(exists.body()).contains("ALREADY_EXISTS");
      var notJson =
          f.call("POST", "/v1/spaces/notes/recall", "k=1", "application/x-www-form-urlencoded");
      assertThat(notJson.statusCode()).isEqualTo(415);
      assertThat(notJson.body()).contains("application/json");
      var otherSpace =
          f.call(
              "POST",
              "/v1/spaces/notes/recall",
              "{\"memorySpaceId\":\"other\",\"embedding\":[1,0]}");
      assertThat(otherSpace.statusCode()).isEqualTo(400);
      assertThat(otherSpace.body()).contains("\"field\":\"memory_space_id\"");
    }
  }

  @Test
  void rest_bodyOverMessageLimit_413() throws Exception {
    try (HttpServerFixture f = new HttpServerFixture(dir)) {
      f.createSpace("notes", 2);
      String huge = "{\"content\":\"" + "x".repeat(MessageLimits.DEFAULT_MAX_MESSAGE_BYTES) + "\"}";
      var r = f.call("POST", "/v1/spaces/notes/episodes", huge);
      assertThat(r.statusCode()).isEqualTo(413);
      assertThat(r.body()).contains("max_message_bytes");
    }
  }

  @Test
  void rest_fullQueue_429WithRetryAfterAndNothingStored() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    EngramConfig config =
        EngramConfig.builder()
            .queueCapacity(10)
            .workers(1)
            .faults(
                (space, id) -> {
                  try {
                    release.await(20, TimeUnit.SECONDS);
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                })
            .build();
    try (HttpServerFixture f = new HttpServerFixture(dir, config, HttpOptions.onPort(0))) {
      f.createSpace("notes", 2);
      StringBuilder nine = new StringBuilder("{\"episodes\":[");
      for (int i = 0; i < 9; i++) { // up to the hard limit (0.9)
        nine.append(i == 0 ? "" : ",")
            .append("{\"id\":\"e")
            .append(i)
            .append("\",\"embedding\":[1,0]}");
      }
      assertThat(f.call("POST", "/v1/spaces/notes/episodes", nine + "]}").statusCode())
          .isEqualTo(200);
      var refused =
          f.call(
              "POST",
              "/v1/spaces/notes/episodes",
              "{\"episodes\":[{\"id\":\"late1\",\"embedding\":[1,0]},{\"id\":\"late2\",\"embedding\":[0,1]}]}");
      assertThat(refused.statusCode()).isEqualTo(429);
      assertThat(refused.body()).contains("RESOURCE_EXHAUSTED");
      assertThat(Long.parseLong(refused.headers().firstValue("Retry-After").orElseThrow()))
          .isBetween(1L, 5L);
      assertThat(f.call("GET", "/v1/spaces/notes/episodes/late1", null).statusCode())
          .isEqualTo(404);
      assertThat(f.call("GET", "/v1/spaces/notes/episodes/late2", null).statusCode())
          .isEqualTo(404);
      release.countDown();
    }
  }

  @Test
  void rest_whileDraining_503() throws Exception {
    try (HttpServerFixture f = new HttpServerFixture(dir)) {
      f.createSpace("notes", 2);
      f.server.engine().shutdown(); // the engine drains; the door is still up
      var r = f.call("POST", "/v1/spaces/notes/episodes", "{\"embedding\":[1,0]}");
      assertThat(r.statusCode()).isEqualTo(503);
      assertThat(r.body()).contains("UNAVAILABLE");
    }
  }

  @Test
  void console_staticFiles_servedWithTheirContentTypes() throws Exception {
    HttpOptions options = HttpOptions.onPort(0).withConsoleDirectory("/console-test");
    try (HttpServerFixture f =
        new HttpServerFixture(dir, EngramConfig.builder().workers(1).build(), options)) {
      var index = f.call("GET", "/", null);
      assertThat(index.statusCode()).isEqualTo(200);
      assertThat(index.headers().firstValue("Content-Type").orElseThrow()).startsWith("text/html");
      assertThat(f.call("GET", "/app.js", null).headers().firstValue("Content-Type").orElseThrow())
          .contains("javascript");
      assertThat(
              f.call("GET", "/style.css", null).headers().firstValue("Content-Type").orElseThrow())
          .startsWith("text/css");
      assertThat(
              f.call("GET", "/icon.svg", null).headers().firstValue("Content-Type").orElseThrow())
          .startsWith("image/svg+xml");
      assertThat(f.call("GET", "/", null).headers().firstValue("Cache-Control"))
          .hasValue("no-cache");
    }
  }
}
