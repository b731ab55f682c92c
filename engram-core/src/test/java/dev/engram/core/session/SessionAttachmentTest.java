package dev.engram.core.session;

import static org.assertj.core.api.Assertions.assertThat;

import dev.engram.core.Engram;
import dev.engram.core.EngramConfig;
import dev.engram.core.model.Episode;
import dev.engram.core.model.Metric;
import dev.engram.core.model.RecallMode;
import dev.engram.core.model.RecallQuery;
import dev.engram.core.model.SpaceConfig;
import dev.engram.core.model.SpaceId;
import dev.engram.core.model.StatusCode;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Which stream a session grants read credit to, and how many sessions the manager attaches and
 * keeps (issue 15, items 15 and 16). The engine runs in memory; streams are recording outputs.
 */
class SessionAttachmentTest {
  private static final String SPACE = "attach";
  private Engram engine;

  @BeforeEach
  void start() {
    open(EngramConfig.builder().workers(1));
  }

  @AfterEach
  void stop() {
    engine.close();
  }

  private void open(EngramConfig.Builder config) {
    if (engine != null) {
      engine.close();
    }
    engine = new Engram(config.build());
    engine.createSpace(new SpaceConfig(SpaceId.of(SPACE), 2, Metric.DOT));
  }

  /** A stream as the session sees it: records events, counts read credit, remembers its end. */
  private static final class Recording implements SessionOutput {
    final List<SessionEvent> events = new CopyOnWriteArrayList<>();
    final AtomicInteger credit = new AtomicInteger();
    volatile SessionEvent.Error endedWith;
    volatile boolean ended;

    @Override
    public void send(SessionEvent event) {
      events.add(event);
    }

    @Override
    public void requestMore() {
      credit.incrementAndGet();
    }

    @Override
    public void end(SessionEvent.Error error) {
      endedWith = error;
      ended = true;
    }

    String sessionId() {
      return events.stream()
          .filter(SessionEvent.InitAck.class::isInstance)
          .map(e -> ((SessionEvent.InitAck) e).sessionId())
          .findFirst()
          .orElseThrow(() -> new AssertionError("no InitAck in " + events));
    }
  }

  private static Episode episode(String id) {
    return new Episode(id, new float[] {1f, 0f}, "", Instant.EPOCH, 0f, Map.of());
  }

  private Recording init(String resumeId) {
    return stream(resumeId).out();
  }

  /** A stream as a transport holds it: its connection (the engine's side) and what it received. */
  private record Stream(Recording out, StreamConnection connection) {}

  private Stream stream(String resumeId) {
    Recording out = new Recording();
    StreamConnection connection = engine.connect(out);
    connection.onInit(SPACE, resumeId);
    return new Stream(out, connection);
  }

  @Test
  void lateFrameFromSupersededStream_grantsNoCreditOnResumedStream() {
    Stream first = stream("");
    String id = first.out().sessionId();
    Session session = engine.sessions().session(id);
    Recording resumed = init(id);
    assertThat(first.out().ended).isTrue();
    int creditAfterResume = resumed.credit.get();

    // The superseded stream's frames, delivered by its transport after the resume (the same
    // interleaving a race between the two calls' threads produces).
    first.connection().onObservations("", 1, List.of(episode("late")));
    first
        .connection()
        .onRecall(
            2, new RecallQuery("q", "", new float[] {1f, 0f}, "", 1, 0f, RecallMode.SIMILARITY));
    first.connection().onFlow(true);

    assertThat(resumed.credit.get()).isEqualTo(creditAfterResume);
    assertThat(resumed.events).noneMatch(SessionEvent.RecallAnswer.class::isInstance);
    assertThat(session.nextSequence()).isEqualTo(1);
  }

  @Test
  void lateCloseFromSupersededStream_doesNotEndResumedStream() {
    Stream first = stream("");
    String id = first.out().sessionId();
    Recording resumed = init(id);
    assertThat(first.out().ended).isTrue();

    // The superseded stream's half-close (the client closing its old call) arrives after the
    // resume: it must not end the stream that resumed the session.
    first.connection().onHalfClose();

    assertThat(resumed.ended).isFalse();
    assertThat(engine.sessions().session(id).nextSequence()).isEqualTo(1);
  }

  @Test
  void open_pastAttachedLimit_resourceExhaustedUntilOneDetaches() {
    open(EngramConfig.builder().workers(1).maxAttachedSessions(2));
    Recording aOut = new Recording();
    StreamConnection a = engine.connect(aOut);
    a.onInit(SPACE, "");
    Recording b = init("");
    assertThat(b.ended).isFalse();

    Recording refused = init("");
    assertThat(refused.ended).isTrue();
    assertThat(refused.endedWith.code()).isEqualTo(StatusCode.RESOURCE_EXHAUSTED);
    assertThat(refused.endedWith.message()).contains("2");
    assertThat(refused.events).noneMatch(SessionEvent.InitAck.class::isInstance);

    // A stream that goes away frees its place; its session stays resumable.
    a.onTransportClosed();
    Recording next = init("");
    assertThat(next.ended).isFalse();
    assertThat(next.sessionId()).isNotEmpty();
    // Resuming a detached session needs a place too.
    Recording resume = init(aOut.sessionId());
    assertThat(resume.endedWith.code()).isEqualTo(StatusCode.RESOURCE_EXHAUSTED);
  }

  @Test
  void detachedSessions_pastRetainedLimit_oldestRetiredAttachedNever() {
    open(EngramConfig.builder().workers(1).maxRetainedSessions(2));
    Recording attached = init("");
    StreamConnection[] streams = new StreamConnection[3];
    Recording[] outs = new Recording[3];
    for (int i = 0; i < 3; i++) {
      outs[i] = new Recording();
      streams[i] = engine.connect(outs[i]);
      streams[i].onInit(SPACE, "");
    }
    for (int i = 0; i < 3; i++) {
      streams[i].onTransportClosed(); // detached in order 0, 1, 2
    }
    // Two detached sessions are kept, the oldest is retired; the attached one is untouched.
    assertThat(engine.sessions().session(outs[0].sessionId())).isNull();
    assertThat(engine.sessions().session(outs[1].sessionId())).isNotNull();
    assertThat(engine.sessions().session(outs[2].sessionId())).isNotNull();
    assertThat(engine.sessions().session(attached.sessionId())).isNotNull();
    Recording retired = init(outs[0].sessionId());
    assertThat(retired.endedWith.code()).isEqualTo(StatusCode.NOT_FOUND);
    Recording resumed = init(outs[1].sessionId());
    assertThat(resumed.ended).isFalse();
  }
}
