package dev.engram.core.session;

/**
 * The transport side of one stream, as the session sees it.
 *
 * <p>Thread-safety: every method may be called from any thread (the transport's inbound thread, the
 * session ticker, index workers) and must not block; the implementation serialises writes and
 * honours the transport's readiness.
 */
public interface SessionOutput {

  /** Queues an event for the client. Events sent after {@link #end} are dropped. */
  void send(SessionEvent event);

  /** Asks the transport for one more inbound message (manual flow control). */
  void requestMore();

  /**
   * Ends the stream after the events already sent: normally when {@code error} is null, else after
   * sending the error in-band and with its status.
   */
  void end(SessionEvent.Error error);
}
