package dev.engram.bench.load;

import dev.engram.client.Rejected;
import dev.engram.client.StreamListener;
import dev.engram.proto.v1.ResendReason;
import dev.engram.proto.v1.StreamState;
import dev.engram.proto.v1.StreamStatus;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Measures one stream: ack latency (observe call to ack), index lag (ack to the ack that reports it
 * indexed) and the protocol signals (backpressure, overload resends, rejections). Every time is the
 * bench process's {@link System#nanoTime()}; docs/benchmarks.md defines each figure.
 *
 * <p>Concurrency: one producer thread per stream calls {@link #observing} before each {@code
 * observe}; the stream's lock orders that write before the listener callbacks that read it. The
 * listener methods run one at a time (the SDK's contract), so {@link #lastAcked} and {@link
 * #lastIndexed} are confined to them; {@link #ackedThrough} is published for other threads.
 */
final class StreamMeter implements StreamListener {
  private static final int RING = 1 << 21;
  private final long[] observedAt = new long[RING];
  private final long[] ackedAt = new long[RING];
  private final Metrics metrics;
  private long lastAcked = -1;
  private long lastIndexed = -1;
  final AtomicLong ackedThrough = new AtomicLong(-1);

  /** When the first BACKPRESSURE / OVERLOADED status or overload resend arrived; 0 = none yet. */
  final AtomicLong firstBackpressureNanos = new AtomicLong();

  final AtomicLong ackedAtFirstBackpressure = new AtomicLong(-1);
  final LongAdder backpressureSignals = new LongAdder();
  final LongAdder overloadResends = new LongAdder();
  final LongAdder gapResends = new LongAdder();
  final LongAdder rejections = new LongAdder();

  /** Probes whose finding recall was sent before their ack arrived (visibility 0). */
  final LongAdder visibleAtAck = new LongAdder();

  StreamMeter(Metrics metrics) {
    this.metrics = metrics;
  }

  /** Producer thread: the observation with this ticket is about to be observed. */
  void observing(long ticket, long nanos) {
    observedAt[(int) (ticket & (RING - 1))] = nanos;
  }

  /** When the observation with this ticket was acknowledged (valid once acked). */
  long ackedAt(long ticket) {
    return ackedAt[(int) (ticket & (RING - 1))];
  }

  @Override
  public void onAcknowledged(long acceptedThrough, long indexedThrough) {
    long now = System.nanoTime();
    for (long t = lastAcked + 1; t <= acceptedThrough; t++) {
      int i = (int) (t & (RING - 1));
      ackedAt[i] = now;
      long micros = Math.max(0, (now - observedAt[i]) / 1000);
      metrics.ack.recordValue(micros);
      if (metrics.cold(observedAt[i])) {
        metrics.ackCold.recordValue(micros);
      }
    }
    if (acceptedThrough > lastAcked) {
      metrics.acked.add(acceptedThrough - lastAcked);
      lastAcked = acceptedThrough;
      ackedThrough.set(acceptedThrough);
    }
    long upTo = Math.min(indexedThrough, lastAcked);
    for (long t = lastIndexed + 1; t <= upTo; t++) {
      metrics.indexLag.recordValue(Math.max(0, (now - ackedAt[(int) (t & (RING - 1))]) / 1000));
    }
    lastIndexed = Math.max(lastIndexed, upTo);
  }

  @Override
  public void onStatus(StreamStatus status) {
    if (status.getState() == StreamState.STREAM_STATE_BACKPRESSURE
        || status.getState() == StreamState.STREAM_STATE_OVERLOADED) {
      backpressureSignals.increment();
      if (firstBackpressureNanos.compareAndSet(0, System.nanoTime())) {
        ackedAtFirstBackpressure.set(lastAcked + 1);
      }
    }
  }

  @Override
  public void onResend(long fromTicket, ResendReason reason, int retryAfterMillis) {
    if (reason == ResendReason.RESEND_REASON_OVERLOADED) {
      overloadResends.increment();
      if (firstBackpressureNanos.compareAndSet(0, System.nanoTime())) {
        ackedAtFirstBackpressure.set(lastAcked + 1);
      }
    } else {
      gapResends.increment();
    }
  }

  @Override
  public void onRejected(Rejected rejected) {
    rejections.increment();
  }
}
