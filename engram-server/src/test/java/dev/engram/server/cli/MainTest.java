package dev.engram.server.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MainTest {
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  private int run(String... args) throws Exception {
    return Main.run(
        List.of(args),
        new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  @Test
  void unknownOption_usageAndExitCode2() throws Exception {
    assertThat(run("serve", "--grpc-prot", "1")).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("unknown option '--grpc-prot'")
        .contains("usage: engram serve");
  }

  @Test
  void help_usageOnStdoutAndExitCode0() throws Exception {
    assertThat(run("serve", "--help")).isZero();
    assertThat(out.toString(StandardCharsets.UTF_8)).contains("usage: engram serve");
  }

  @Test
  void unknownCommand_usageAndExitCode2() throws Exception {
    assertThat(run("frobnicate")).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("unknown command 'frobnicate'");
    assertThat(run()).isEqualTo(2);
  }

  @Test
  void badValues_messageNamesOptionAndValue() throws Exception {
    assertThat(run("serve", "--workers", "zero")).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("--workers needs a number, got 'zero'");
    assertThat(run("serve", "--queue-capacity", "5")).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("--queue-capacity must be 10-");
    assertThat(run("serve", "--data-dir")).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("--data-dir needs a value");
  }

  @Test
  void indexShareAndWarmup_parsedAndChecked() throws Exception {
    Main.ServeOptions options =
        Main.ServeOptions.parse(
            java.util.List.of("--index-workers", "1", "--index-share", "0.5", "--warmup", "0"));
    assertThat(options.engineConfig().workers()).isEqualTo(1);
    assertThat(options.engineConfig().indexShare()).isEqualTo(0.5);
    assertThat(options.engineConfig().warmup()).isEqualTo(java.time.Duration.ZERO);
    assertThat(Main.ServeOptions.parse(java.util.List.of()).engineConfig().warmup())
        .isEqualTo(java.time.Duration.ofSeconds(Main.DEFAULT_WARMUP_SECONDS));
    assertThat(run("serve", "--index-share", "0")).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("--index-share takes a number in (0, 1], got 0");
    assertThat(run("serve", "--index-share", "half")).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("got 'half'");
  }

  @Test
  void authOff_onlyOnLoopback_exit2() throws Exception {
    assertThat(run("serve", "--auth", "off", "--bind", "0.0.0.0")).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("--auth off is allowed only on a loopback address");
    assertThat(run("serve", "--auth", "maybe")).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("--auth must be on or off");
    Main.ServeOptions o = Main.ServeOptions.parse(List.of("--auth", "off"));
    assertThat(o.access().auth()).isFalse();
    assertThat(o.listen().bindAddress()).isEqualTo("127.0.0.1");
    assertThat(Main.ServeOptions.parse(List.of()).access().auth()).isTrue();
  }

  @Test
  void adminTokenFile_readAndChecked(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    Path file = dir.resolve("admin");
    java.nio.file.Files.writeString(file, "a-long-enough-admin-token\n");
    assertThat(
            Main.ServeOptions.parse(List.of("--admin-token-file", file.toString()))
                .access()
                .adminToken())
        .isEqualTo("a-long-enough-admin-token");
    java.nio.file.Files.writeString(file, "short");
    assertThat(run("serve", "--admin-token-file", file.toString())).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("at least 16 characters");
    assertThat(err.toString(StandardCharsets.UTF_8)).doesNotContain("short");
  }

  @Test
  void parse_allOptions() {
    Main.ServeOptions o =
        Main.ServeOptions.parse(
            List.of(
                "--grpc-port",
                "6000",
                "--data-dir",
                "/tmp/x",
                "--queue-capacity",
                "500",
                "--workers",
                "3",
                "--max-message-bytes",
                "1048576"));
    assertThat(o.grpcPort()).isEqualTo(6000);
    assertThat(o.dataDir()).isEqualTo(Path.of("/tmp/x"));
    assertThat(o.engineConfig().queueCapacity()).isEqualTo(500);
    assertThat(o.engineConfig().workers()).isEqualTo(3);
    assertThat(o.engineConfig().limits().maxMessageBytes()).isEqualTo(1 << 20);
    assertThat(Main.ServeOptions.parse(List.of()).engineConfig().limits().maxMessageBytes())
        .isEqualTo(4 << 20);
    assertThat(Main.USAGE).contains("--max-message-bytes N").contains("default 4194304");
    assertThatThrownBy(() -> Main.ServeOptions.parse(List.of("--max-message-bytes", "100")))
        .hasMessageContaining("--max-message-bytes must be 16384-1073741824, got 100");
    assertThatThrownBy(() -> Main.ServeOptions.parse(List.of("--grpc-port", "70000")))
        .hasMessageContaining("--grpc-port must be 0-65535, got 70000");
  }

  @Test
  void parse_payloadCacheMb() {
    assertThat(Main.ServeOptions.parse(List.of()).storage().payloadCacheBytes())
        .isEqualTo(256L << 20);
    assertThat(
            Main.ServeOptions.parse(List.of("--payload-cache-mb", "0"))
                .storage()
                .payloadCacheBytes())
        .isZero();
    assertThat(
            Main.ServeOptions.parse(List.of("--payload-cache-mb", "1024"))
                .storage()
                .payloadCacheBytes())
        .isEqualTo(1L << 30);
    assertThat(Main.USAGE).contains("--payload-cache-mb N");
    assertThatThrownBy(() -> Main.ServeOptions.parse(List.of("--payload-cache-mb", "-1")))
        .hasMessageContaining("--payload-cache-mb must be 0-1048576, got -1");
  }

  @Test
  void parse_perTokenLimits() {
    var defaults = Main.ServeOptions.parse(List.of()).engineConfig().limits();
    assertThat(defaults.maxStreamsPerToken()).isEqualTo(64);
    assertThat(defaults.tokenRate()).isZero();
    var set =
        Main.ServeOptions.parse(List.of("--max-streams-per-token", "0", "--token-rate", "500"))
            .engineConfig()
            .limits();
    assertThat(set.maxStreamsPerToken()).isZero();
    assertThat(set.tokenRate()).isEqualTo(500);
    assertThat(Main.USAGE).contains("--max-streams-per-token N").contains("--token-rate N");
    assertThatThrownBy(() -> Main.ServeOptions.parse(List.of("--token-rate", "-1")))
        .hasMessageContaining("--token-rate must be 0-1000000000, got -1");
  }

  @Test
  void parse_kafka_optionsCheckedAndOffByDefault() {
    assertThat(Main.ServeOptions.parse(List.of()).kafka()).isNull();
    var k =
        Main.ServeOptions.parse(
                List.of(
                    "--kafka-bootstrap",
                    "localhost:9092",
                    "--kafka-topic",
                    "episodes",
                    "--node-id",
                    "n1",
                    "--kafka-auto-create",
                    "16:dot",
                    "--kafka-standby"))
            .kafka();
    assertThat(k.topic()).isEqualTo("episodes");
    assertThat(k.deadLetterTopic()).isEqualTo("episodes.dlq");
    assertThat(k.group()).isEqualTo("engram");
    assertThat(k.nodeId()).isEqualTo("n1");
    assertThat(k.autoCreate().dimension()).isEqualTo(16);
    assertThat(k.autoCreate().metric()).isEqualTo(dev.engram.core.model.Metric.DOT);
    assertThat(k.standby()).isTrue();
    assertThatThrownBy(
            () ->
                Main.ServeOptions.parse(
                    List.of("--kafka-bootstrap", "h:1", "--kafka-auto-create", "16:hamming")))
        .hasMessageContaining(
            "--kafka-auto-create metric must be cosine, dot or l2, got 'hamming'");
    assertThatThrownBy(
            () ->
                Main.ServeOptions.parse(
                    List.of("--kafka-bootstrap", "h:1", "--kafka-topic", "a b")))
        .hasMessageContaining("--kafka-topic must be");
    assertThatThrownBy(() -> Main.ServeOptions.parse(List.of("--kafka-standby")))
        .hasMessageContaining("need --kafka-bootstrap");
    assertThat(Main.USAGE).contains("--kafka-bootstrap HOST:PORT").contains("--kafka-standby");
  }

  @Test
  void parse_httpPort_defaultOffAndFree() {
    assertThat(Main.ServeOptions.parse(List.of()).httpPort()).isEqualTo(7432);
    assertThat(Main.ServeOptions.parse(List.of("--http-port", "0")).httpPort()).isZero();
    assertThat(Main.ServeOptions.parse(List.of("--http-port", "-1")).httpPort()).isEqualTo(-1);
    assertThat(Main.ServeOptions.parse(List.of("--no-http")).httpPort()).isEqualTo(-1);
    assertThatThrownBy(() -> Main.ServeOptions.parse(List.of("--http-port", "-2")))
        .hasMessageContaining("--http-port");
    assertThat(Main.USAGE).contains("--http-port N").contains("--no-http");
  }

  @Test
  void serve_plaintextOnNonLoopbackBind_refusedWithExitCode2(@TempDir Path dir) throws Exception {
    int code =
        run(
            "serve",
            "--bind",
            "0.0.0.0",
            "--grpc-port",
            "0",
            "--no-http",
            "--data-dir",
            dir.toString());
    assertThat(code).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("refusing plaintext on 0.0.0.0")
        .contains("--tls-cert")
        .contains("--allow-plaintext");
  }

  @Test
  void serve_missingTlsFile_namedWithExitCode2(@TempDir Path dir) throws Exception {
    Path cert = dir.resolve("missing-cert.pem");
    int code =
        run(
            "serve",
            "--tls-cert",
            cert.toString(),
            "--tls-key",
            dir.resolve("k.pem").toString(),
            "--grpc-port",
            "0",
            "--no-http",
            "--data-dir",
            dir.resolve("data").toString());
    assertThat(code).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("--tls-cert " + cert + ": no such file");
  }

  @Test
  void parse_listenOptions() {
    Main.ServeOptions o =
        Main.ServeOptions.parse(
            List.of(
                "--bind",
                "0.0.0.0",
                "--tls-cert",
                "c.pem",
                "--tls-key",
                "k.pem",
                "--tls-client-ca",
                "ca.pem",
                "--allow-plaintext"));
    assertThat(o.listen().bindAddress()).isEqualTo("0.0.0.0");
    assertThat(o.listen().tlsCert()).isEqualTo(Path.of("c.pem"));
    assertThat(o.listen().tlsClientCa()).isEqualTo(Path.of("ca.pem"));
    assertThat(o.listen().allowPlaintext()).isTrue();
    assertThat(Main.ServeOptions.parse(List.of()).listen().bindAddress()).isEqualTo("127.0.0.1");
    assertThatThrownBy(() -> Main.ServeOptions.parse(List.of("--tls-cert", "c.pem")))
        .hasMessageContaining("--tls-cert and --tls-key go together");
  }

  @Test
  void cert_writesPairAndSaysHowToServe(@TempDir Path dir) throws Exception {
    assertThat(run("cert", "--out", dir.toString(), "--host", "engram.test")).isZero();
    assertThat(out.toString(StandardCharsets.UTF_8))
        .contains("--tls-cert " + dir.resolve("cert.pem"))
        .contains("engram.test");
    assertThat(dir.resolve("key.pem")).exists();
  }
}
