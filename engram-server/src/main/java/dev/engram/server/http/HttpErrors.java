package dev.engram.server.http;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.engram.core.model.EngramException;
import dev.engram.core.model.InvalidFieldException;
import dev.engram.core.model.OverloadedException;
import dev.engram.core.model.StatusCode;
import io.javalin.http.Context;

/**
 * The one error shape of the REST door, {@code {"error":{"code","message","field"}}}, and the one
 * mapping from the engine's {@link StatusCode} to an HTTP status. Overload adds {@code Retry-After}
 * in whole seconds (rounded up).
 *
 * <p>Thread-safety: stateless.
 */
final class HttpErrors {
  private HttpErrors() {}

  /** The HTTP status for an engine status code. */
  static int httpStatus(StatusCode code) {
    return switch (code) {
      case OK -> 200;
      case INVALID_ARGUMENT, FAILED_PRECONDITION -> 400;
      case UNAUTHENTICATED -> 401;
      case PERMISSION_DENIED -> 403;
      case NOT_FOUND -> 404;
      case ALREADY_EXISTS, ABORTED -> 409;
      case RESOURCE_EXHAUSTED -> 429;
      case UNAVAILABLE -> 503;
      case INTERNAL -> 500;
    };
  }

  /** Answers a domain failure. */
  static void answer(Context ctx, EngramException e) {
    StatusCode code = StatusCode.of(e);
    if (e instanceof OverloadedException overloaded) {
      ctx.header("Retry-After", Long.toString(retryAfterSeconds(overloaded.retryAfterMillis())));
    }
    String field = e instanceof InvalidFieldException f ? f.field() : "";
    answer(ctx, httpStatus(code), code.name(), e.getMessage(), field);
  }

  /** Answers with an explicit status (transport-level failures: 413, 415). */
  static void answer(Context ctx, int status, String code, String message, String field) {
    Struct.Builder error =
        Struct.newBuilder()
            .putFields("code", string(code))
            .putFields("message", string(message == null ? "" : message));
    if (!field.isEmpty()) {
      error.putFields("field", string(field));
    }
    Struct body =
        Struct.newBuilder()
            .putFields("error", Value.newBuilder().setStructValue(error).build())
            .build();
    ctx.status(status).contentType("application/json").result(JsonCodec.print(body));
  }

  static long retryAfterSeconds(int millis) {
    return Math.max(1, (millis + 999L) / 1000);
  }

  private static Value string(String s) {
    return Value.newBuilder().setStringValue(s).build();
  }
}
