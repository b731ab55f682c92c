package dev.engram.server.grpc;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;

/**
 * Carries the {@code authorization} metadata of every call (unary and stream), and whether another
 * node forwarded it, into the call's {@link Context}, where {@link MemoryServiceImpl} hands it to
 * the engine, which decides. It checks nothing itself: a stream may bring its token in {@code
 * StreamInit.authorization} instead.
 *
 * <p>Thread-safety: stateless.
 */
public final class AuthInterceptor implements ServerInterceptor {
  /** The {@code authorization} metadata key ({@code Bearer <token>}). */
  public static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  /**
   * Marks a call one node forwarded to another (docs/scale-out.md): its value is the forwarding
   * node's id, and such a call is answered where it arrives, never forwarded again.
   */
  public static final Metadata.Key<String> FORWARDED_BY =
      Metadata.Key.of("engram-forwarded-by", Metadata.ASCII_STRING_MARSHALLER);

  /** The call's {@code authorization} value, or null when it carried none. */
  static final Context.Key<String> CREDENTIAL = Context.key("engram-authorization");

  /** True when the call carries {@link #FORWARDED_BY}. */
  static final Context.Key<Boolean> FORWARDED = Context.keyWithDefault("engram-forwarded", false);

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
    String value = headers.get(AUTHORIZATION);
    boolean forwarded = headers.containsKey(FORWARDED_BY);
    if (value == null && !forwarded) {
      return next.startCall(call, headers);
    }
    Context context = Context.current();
    if (value != null) {
      context = context.withValue(CREDENTIAL, value);
    }
    if (forwarded) {
      context = context.withValue(FORWARDED, true);
    }
    return Contexts.interceptCall(context, call, headers, next);
  }
}
