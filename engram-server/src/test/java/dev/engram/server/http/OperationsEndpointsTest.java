package dev.engram.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.engram.core.EngramConfig;
import dev.engram.server.metrics.Scrape;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code /metrics}, {@code /healthz} and {@code /readyz} on a real server's HTTP port. */
class OperationsEndpointsTest {
  @TempDir Path dir;

  @Test
  void metrics_afterRestWrites_countedUnderTheRestDoor() throws Exception {
    try (HttpServerFixture f = new HttpServerFixture(dir)) {
      f.createSpace("notes", 2);
      Scrape before = new Scrape(f.call("GET", "/metrics", null).body());
      assertThat(f.call("POST", "/v1/spaces/notes/episodes", "{\"embedding\":[1,0]}").statusCode())
          .isEqualTo(200);
      assertThat(f.call("POST", "/v1/spaces/notes/episodes", "{\"embedding\":[1]}").statusCode())
          .isEqualTo(400);

      var scrape = f.call("GET", "/metrics", null);
      assertThat(scrape.statusCode()).isEqualTo(200);
      assertThat(scrape.headers().firstValue("Content-Type").orElseThrow())
          .startsWith("text/plain");
      Scrape after = new Scrape(scrape.body());
      assertThat(
              after.value("engram_observations_total", "door", "rest", "outcome", "accepted")
                  - before.value(
                      "engram_observations_total", "door", "rest", "outcome", "accepted"))
          .isEqualTo(1);
      assertThat(
              after.value("engram_observations_total", "door", "rest", "outcome", "rejected")
                  - before.value(
                      "engram_observations_total", "door", "rest", "outcome", "rejected"))
          .isEqualTo(1);
      assertThat(scrape.body()).contains("engram_build_info");
    }
  }

  @Test
  void readyz_throughShutdown_agreesWithGrpcHealth() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    EngramConfig config =
        EngramConfig.builder()
            .workers(1)
            .drainTimeout(Duration.ofSeconds(20))
            .faults(
                (space, id) -> {
                  try {
                    release.await(20, TimeUnit.SECONDS); // holds indexing, so the drain waits
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                })
            .build();
    try (HttpServerFixture f = new HttpServerFixture(dir, config, HttpOptions.onPort(0))) {
      ManagedChannel channel =
          ManagedChannelBuilder.forAddress("localhost", f.server.grpcPort()).usePlaintext().build();
      try {
        HealthGrpc.HealthBlockingStub health = HealthGrpc.newBlockingStub(channel);
        assertThat(f.call("GET", "/healthz", null).statusCode()).isEqualTo(200);
        assertThat(f.call("GET", "/readyz", null).statusCode()).isEqualTo(200);
        assertThat(health.check(HealthCheckRequest.getDefaultInstance()).getStatus())
            .isEqualTo(ServingStatus.SERVING);

        f.createSpace("notes", 2);
        assertThat(
                f.call("POST", "/v1/spaces/notes/episodes", "{\"embedding\":[1,0]}").statusCode())
            .isEqualTo(200); // accepted; its indexing is held, so shutdown has to drain
        Thread stopper = Thread.ofPlatform().start(f.server::shutdown);
        Awaitility.await()
            .atMost(Duration.ofSeconds(10))
            .until(() -> f.call("GET", "/readyz", null).statusCode() == 503);
        assertThat(health.check(HealthCheckRequest.getDefaultInstance()).getStatus())
            .isEqualTo(ServingStatus.NOT_SERVING);
        assertThat(f.call("GET", "/healthz", null).statusCode()).isEqualTo(200); // still alive
        release.countDown();
        stopper.join(TimeUnit.SECONDS.toMillis(20));
      } finally {
        release.countDown();
        channel.shutdownNow();
      }
    }
  }
}
