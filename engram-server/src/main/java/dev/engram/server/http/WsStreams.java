package dev.engram.server.http;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAccumulator;

/**
 * The open WebSocket streams of one HTTP door: runs their keep-alive (ping, slow-client check) on
 * one daemon thread and counts what the tests and operators want to see.
 *
 * <p>Thread-safety: the set is concurrent and the counters atomic; any thread may call any method.
 */
final class WsStreams implements AutoCloseable {
  private final Set<WsStreamOutput> open = ConcurrentHashMap.newKeySet();
  private final AtomicLong slowClientsClosed = new AtomicLong();
  private final LongAccumulator peakQueuedBytes = new LongAccumulator(Math::max, 0);
  private final ScheduledExecutorService keepAlive;

  WsStreams(long keepAliveMillis) {
    keepAlive =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "engram-ws-keepalive");
              t.setDaemon(true);
              return t;
            });
    keepAlive.scheduleWithFixedDelay(
        () -> open.forEach(WsStreamOutput::keepAlive),
        keepAliveMillis,
        keepAliveMillis,
        TimeUnit.MILLISECONDS);
  }

  void opened(WsStreamOutput output) {
    open.add(output);
  }

  void closed(WsStreamOutput output) {
    open.remove(output);
  }

  void recordQueued(long bytes) {
    peakQueuedBytes.accumulate(bytes);
  }

  void recordSlowClientClosed() {
    slowClientsClosed.incrementAndGet();
  }

  /** Sockets closed with 1008 because their client stopped reading. */
  long slowClientsClosed() {
    return slowClientsClosed.get();
  }

  /** The most any one socket ever held for its client, in bytes of JSON. */
  long peakQueuedBytes() {
    return peakQueuedBytes.get();
  }

  int openCount() {
    return open.size();
  }

  @Override
  public void close() {
    keepAlive.shutdownNow();
  }
}
