package dev.engram.server.grpc;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;

/**
 * Carries the {@code authorization} metadata of every call (unary and stream) into the call's
 * {@link Context}, where {@link MemoryServiceImpl} hands it to the engine, which decides. It checks
 * nothing itself: a stream may bring its token in {@code StreamInit.authorization} instead.
 *
 * <p>Thread-safety: stateless.
 */
public final class AuthInterceptor implements ServerInterceptor {
  /** The {@code authorization} metadata key ({@code Bearer <token>}). */
  public static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  /** The call's {@code authorization} value, or null when it carried none. */
  static final Context.Key<String> CREDENTIAL = Context.key("engram-authorization");

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
    String value = headers.get(AUTHORIZATION);
    if (value == null) {
      return next.startCall(call, headers);
    }
    return Contexts.interceptCall(
        Context.current().withValue(CREDENTIAL, value), call, headers, next);
  }
}
