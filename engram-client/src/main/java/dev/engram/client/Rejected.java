package dev.engram.client;

import dev.engram.proto.v1.Episode;
import io.grpc.Status;

/**
 * An observation the server refused permanently (wrong dimension, NaN, oversize content), or one it
 * accepted but could not index (quarantined). It is not resent.
 *
 * @param ticket the observation's ticket, or -1 when it could not be mapped back
 * @param episode the observation, or null when it had already left the buffer (quarantine)
 * @param code the gRPC status code the server gave
 * @param message the server's explanation
 */
public record Rejected(long ticket, Episode episode, Status.Code code, String message) {}
