package dev.engram.server.grpc;

import dev.engram.core.Engram;
import dev.engram.core.model.StatusCode;
import dev.engram.core.telemetry.Door;
import io.grpc.Attributes;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.SecurityLevel;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Answers request bytes that are not a valid protobuf message (bad wire format, invalid UTF-8 in a
 * string field, a truncated frame) with {@code INVALID_ARGUMENT} naming the message type, instead
 * of the {@code UNKNOWN} grpc-java gives when a marshaller throws.
 *
 * <p>How: every method of a service is rebound with a request marshaller that never throws; it
 * yields a {@link Parsed} that is either the message or the problem. The call handler passes good
 * messages on unchanged; on a bad one it closes the call with {@code INVALID_ARGUMENT}, tells the
 * service the call was cancelled (so a stream's session is detached as on a client's cancel) and
 * drops whatever the service sends or closes after that.
 *
 * <p>Thread-safety: gRPC calls a listener's methods one at a time; the guarded call's send and
 * close may come from any thread and are serialised on it.
 */
public final class StrictParsing {
  private StrictParsing() {}

  /** A request as parsed: the message, or why it is not one. */
  sealed interface Parsed<T> {
    record Ok<T>(T message) implements Parsed<T> {}

    record Bad<T>(String problem) implements Parsed<T> {}
  }

  /** {@code service} with every method's requests parsed strictly. */
  public static ServerServiceDefinition strict(ServerServiceDefinition service, Engram engine) {
    ServiceDescriptor original = service.getServiceDescriptor();
    ServiceDescriptor.Builder descriptor =
        ServiceDescriptor.newBuilder(original.getName())
            .setSchemaDescriptor(original.getSchemaDescriptor());
    List<ServerMethodDefinition<?, ?>> methods = new ArrayList<>();
    for (ServerMethodDefinition<?, ?> method : service.getMethods()) {
      ServerMethodDefinition<?, ?> strict = strict(method, engine);
      descriptor.addMethod(strict.getMethodDescriptor());
      methods.add(strict);
    }
    ServerServiceDefinition.Builder b = ServerServiceDefinition.builder(descriptor.build());
    methods.forEach(b::addMethod);
    return b.build();
  }

  private static <Q, R> ServerMethodDefinition<Parsed<Q>, R> strict(
      ServerMethodDefinition<Q, R> method, Engram engine) {
    MethodDescriptor<Q, R> md = method.getMethodDescriptor();
    MethodDescriptor<Parsed<Q>, R> strict =
        md.toBuilder(
                new ParsingMarshaller<>(md.getRequestMarshaller(), md), md.getResponseMarshaller())
            .build();
    return ServerMethodDefinition.create(
        strict, new Handler<>(md, method.getServerCallHandler(), engine));
  }

  /** Parses with the generated marshaller; a failure becomes {@link Parsed.Bad}. */
  private record ParsingMarshaller<Q>(
      MethodDescriptor.Marshaller<Q> delegate, MethodDescriptor<Q, ?> method)
      implements MethodDescriptor.Marshaller<Parsed<Q>> {
    @Override
    public InputStream stream(Parsed<Q> value) {
      return switch (value) {
        case Parsed.Ok<Q> ok -> delegate.stream(ok.message());
        case Parsed.Bad<Q> bad -> throw new IllegalStateException("a bad request is never sent");
      };
    }

    @Override
    public Parsed<Q> parse(InputStream stream) {
      try {
        return new Parsed.Ok<>(delegate.parse(stream));
      } catch (StatusRuntimeException | IllegalArgumentException e) {
        String type = method.getBareMethodName() + "'s request";
        Throwable cause = e.getCause() == null ? e : e.getCause();
        return new Parsed.Bad<>(
            "the bytes of %s are not a valid protobuf message (%s)"
                .formatted(type, cause.getMessage()));
      }
    }
  }

  private record Handler<Q, R>(
      MethodDescriptor<Q, R> method, ServerCallHandler<Q, R> delegate, Engram engine)
      implements ServerCallHandler<Parsed<Q>, R> {
    @Override
    public ServerCall.Listener<Parsed<Q>> startCall(
        ServerCall<Parsed<Q>, R> call, Metadata headers) {
      GuardedCall<Q, R> guarded = new GuardedCall<>(call, method);
      ServerCall.Listener<Q> listener = delegate.startCall(guarded, headers);
      return new ServerCall.Listener<>() {
        private boolean refused; // listener methods run one at a time

        @Override
        public void onMessage(Parsed<Q> parsed) {
          if (refused) {
            return;
          }
          switch (parsed) {
            case Parsed.Ok<Q> ok -> listener.onMessage(ok.message());
            case Parsed.Bad<Q> bad -> {
              refused = true;
              engine.failed(Door.GRPC, StatusCode.INVALID_ARGUMENT);
              guarded.refuse(Status.INVALID_ARGUMENT.withDescription(bad.problem()));
              listener.onCancel();
            }
          }
        }

        @Override
        public void onHalfClose() {
          if (!refused) {
            listener.onHalfClose();
          }
        }

        @Override
        public void onCancel() {
          if (!refused) {
            listener.onCancel();
          }
        }

        @Override
        public void onComplete() {
          if (!refused) {
            listener.onComplete();
          }
        }

        @Override
        public void onReady() {
          if (!refused) {
            listener.onReady();
          }
        }
      };
    }
  }

  /** The call as the service sees it; after {@link #refuse} it drops sends and closes. */
  private static final class GuardedCall<Q, R> extends ServerCall<Q, R> {
    private final ServerCall<Parsed<Q>, R> call;
    private final MethodDescriptor<Q, R> method;
    private boolean refused; // guarded by this

    GuardedCall(ServerCall<Parsed<Q>, R> call, MethodDescriptor<Q, R> method) {
      this.call = call;
      this.method = method;
    }

    synchronized void refuse(Status status) {
      if (!refused) {
        refused = true;
        call.close(status, new Metadata());
      }
    }

    @Override
    public void request(int numMessages) {
      call.request(numMessages);
    }

    @Override
    public synchronized void sendHeaders(Metadata headers) {
      if (!refused) {
        call.sendHeaders(headers);
      }
    }

    @Override
    public synchronized void sendMessage(R message) {
      if (!refused) {
        call.sendMessage(message);
      }
    }

    @Override
    public synchronized void close(Status status, Metadata trailers) {
      if (!refused) {
        refused = true; // a second close is the service's mistake: drop it too
        call.close(status, trailers);
      }
    }

    @Override
    public boolean isReady() {
      return call.isReady();
    }

    @Override
    public synchronized boolean isCancelled() {
      return refused || call.isCancelled();
    }

    @Override
    public void setMessageCompression(boolean enabled) {
      call.setMessageCompression(enabled);
    }

    @Override
    public void setCompression(String compressor) {
      call.setCompression(compressor);
    }

    @Override
    public void setOnReadyThreshold(int numBytes) {
      call.setOnReadyThreshold(numBytes);
    }

    @Override
    public SecurityLevel getSecurityLevel() {
      return call.getSecurityLevel();
    }

    @Override
    public Attributes getAttributes() {
      return call.getAttributes();
    }

    @Override
    public String getAuthority() {
      return call.getAuthority();
    }

    @Override
    public MethodDescriptor<Q, R> getMethodDescriptor() {
      return method;
    }
  }
}
