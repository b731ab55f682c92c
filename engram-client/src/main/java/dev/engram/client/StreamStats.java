package dev.engram.client;

import dev.engram.proto.v1.StreamState;

/**
 * A snapshot of one stream's state, for callers and logs. Counters are cumulative over the stream's
 * life, across reconnects. Tickets are the 0-based positions {@link EngramStream#observe} returns.
 *
 * @param connected whether a call is open and its session established
 * @param sessionId the current (or last) server session id, empty before the first
 * @param observed observations taken by {@code observe}
 * @param inFlight observations buffered and not yet acknowledged or rejected
 * @param acked observations the server acknowledged (accepted, or duplicates of stored ids)
 * @param rejected observations the server rejected permanently
 * @param resent observation sends that repeated an earlier send (resend, reconnect)
 * @param reconnects connection attempts after a lost connection
 * @param indexedThrough highest ticket known to be indexed, -1 if none (approximate across new
 *     sessions)
 * @param state the server's last stream state
 * @param pacingRate the observations per second the stream is held to, 0 when unlimited
 * @param consolidatedThrough highest ticket known to be consolidated (its association edges
 *     durable), -1 if none; stays -1 against a server without consolidation
 */
public record StreamStats(
    boolean connected,
    String sessionId,
    long observed,
    long inFlight,
    long acked,
    long rejected,
    long resent,
    long reconnects,
    long indexedThrough,
    StreamState state,
    double pacingRate,
    long consolidatedThrough) {}
