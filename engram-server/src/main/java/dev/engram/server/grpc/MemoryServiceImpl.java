package dev.engram.server.grpc;

import com.google.protobuf.Any;
import com.google.protobuf.Duration;
import com.google.rpc.RetryInfo;
import dev.engram.core.Caller;
import dev.engram.core.Engram;
import dev.engram.core.model.EngramException;
import dev.engram.core.model.OverloadedException;
import dev.engram.core.model.SpaceId;
import dev.engram.core.model.StatusCode;
import dev.engram.core.session.Acceptor;
import dev.engram.core.session.StreamConnection;
import dev.engram.core.telemetry.Door;
import dev.engram.proto.v1.CreateSpaceRequest;
import dev.engram.proto.v1.DeleteSpaceRequest;
import dev.engram.proto.v1.DeleteSpaceResponse;
import dev.engram.proto.v1.ForgetRequest;
import dev.engram.proto.v1.ForgetResponse;
import dev.engram.proto.v1.GetSpaceRequest;
import dev.engram.proto.v1.IssueTokenRequest;
import dev.engram.proto.v1.IssueTokenResponse;
import dev.engram.proto.v1.ListSpacesRequest;
import dev.engram.proto.v1.ListSpacesResponse;
import dev.engram.proto.v1.ListTokensRequest;
import dev.engram.proto.v1.ListTokensResponse;
import dev.engram.proto.v1.MemoryServiceGrpc;
import dev.engram.proto.v1.RecallRequest;
import dev.engram.proto.v1.RecallResponse;
import dev.engram.proto.v1.RememberRequest;
import dev.engram.proto.v1.RememberResponse;
import dev.engram.proto.v1.RevokeTokenRequest;
import dev.engram.proto.v1.RevokeTokenResponse;
import dev.engram.proto.v1.Space;
import dev.engram.proto.v1.StreamRequest;
import dev.engram.proto.v1.StreamResponse;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.time.InstantSource;
import java.util.function.Supplier;

/**
 * The gRPC door: translates {@code engram.v1} calls into engine calls and engine answers and
 * failures into gRPC frames and statuses. It decides nothing; the stream protocol lives in the
 * engine's session layer.
 *
 * <p>In a cluster a {@link Router} (set once at start, volatile) is consulted before a recall or
 * {@code GetSpace} is answered here; a call another node forwarded is always answered here.
 *
 * <p>Thread-safety: stateless apart from the engine; gRPC serialises callbacks per call.
 */
public final class MemoryServiceImpl extends MemoryServiceGrpc.MemoryServiceImplBase {
  /** Trailer that carries the retry delay of a {@code RESOURCE_EXHAUSTED} answer, in ms. */
  public static final Metadata.Key<String> RETRY_AFTER_MS =
      Metadata.Key.of("retry-after-ms", Metadata.ASCII_STRING_MARSHALLER);

  private final Engram engine;
  private final InstantSource clock;
  private volatile Router router; // null: no cluster, every call is answered here

  public MemoryServiceImpl(Engram engine, InstantSource clock) {
    this.engine = engine;
    this.clock = clock;
  }

  /** Routes recalls and {@code GetSpace} for spaces other nodes own to them (null: none). */
  public void route(Router router) {
    this.router = router;
  }

  /** The router for this call, or null when it must be answered here. */
  private Router router() {
    return AuthInterceptor.FORWARDED.get() ? null : router;
  }

  @Override
  public StreamObserver<StreamRequest> stream(StreamObserver<StreamResponse> responses) {
    ServerCallStreamObserver<StreamResponse> call =
        (ServerCallStreamObserver<StreamResponse>) responses;
    call.disableAutoRequest();
    GrpcStreamOutput output = new GrpcStreamOutput(call, clock);
    StreamConnection connection =
        engine.connect(Door.GRPC, output, AuthInterceptor.CREDENTIAL.get());
    call.setOnReadyHandler(output::onReady);
    call.setOnCancelHandler(
        () -> {
          output.cancelled();
          connection.onTransportClosed();
        });
    call.request(1); // the init message
    return new StreamObserver<>() {
      @Override
      public void onNext(StreamRequest request) {
        StreamDispatcher.dispatch(connection, request);
      }

      @Override
      public void onError(Throwable t) {
        connection.onTransportClosed();
      }

      @Override
      public void onCompleted() {
        // The client half-closed without a close message: end as a close without drain would.
        connection.onHalfClose();
      }
    };
  }

  @Override
  public void remember(RememberRequest request, StreamObserver<RememberResponse> responses) {
    unary(
        responses,
        () -> {
          Acceptor.Remembered r =
              caller()
                  .remember(
                      Door.GRPC,
                      SpaceId.of(request.getMemorySpaceId()),
                      ProtoMapper.toModel(request.getEpisodesList()));
          return RememberResponse.newBuilder()
              .addAllIds(r.ids())
              .setDuplicates(r.duplicates())
              .build();
        });
  }

  @Override
  public void recall(RecallRequest request, StreamObserver<RecallResponse> responses) {
    Router r = router();
    if (r != null
        && forwarded(responses, () -> r.recall(request, AuthInterceptor.CREDENTIAL.get()))) {
      return;
    }
    unary(
        responses,
        () ->
            ProtoMapper.toProto(
                request.getRequestId(),
                caller()
                    .recall(
                        Door.GRPC,
                        SpaceId.of(request.getMemorySpaceId()),
                        ProtoMapper.toModel(request))));
  }

  @Override
  public void forget(ForgetRequest request, StreamObserver<ForgetResponse> responses) {
    unary(
        responses,
        () ->
            ForgetResponse.newBuilder()
                .setForgotten(
                    caller().forget(SpaceId.of(request.getMemorySpaceId()), request.getIdsList()))
                .build());
  }

  @Override
  public void createSpace(CreateSpaceRequest request, StreamObserver<Space> responses) {
    unary(
        responses,
        () -> ProtoMapper.toProto(caller().createSpace(ProtoMapper.toSpaceConfig(request))));
  }

  @Override
  public void getSpace(GetSpaceRequest request, StreamObserver<Space> responses) {
    Router r = router();
    if (r != null
        && forwarded(responses, () -> r.getSpace(request, AuthInterceptor.CREDENTIAL.get()))) {
      return;
    }
    Router owners = router;
    unary(
        responses,
        () -> {
          Space space =
              ProtoMapper.toProto(caller().getSpace(SpaceId.of(request.getMemorySpaceId())));
          return owners == null
              ? space
              : space.toBuilder().setOwnerNode(owners.owner(space.getMemorySpaceId())).build();
        });
  }

  @Override
  public void listSpaces(ListSpacesRequest request, StreamObserver<ListSpacesResponse> responses) {
    unary(
        responses,
        () ->
            ListSpacesResponse.newBuilder()
                .addAllSpaces(caller().listSpaces().stream().map(ProtoMapper::toProto).toList())
                .build());
  }

  @Override
  public void deleteSpace(
      DeleteSpaceRequest request, StreamObserver<DeleteSpaceResponse> responses) {
    unary(
        responses,
        () -> {
          caller().deleteSpace(SpaceId.of(request.getMemorySpaceId()));
          return DeleteSpaceResponse.getDefaultInstance();
        });
  }

  @Override
  public void issueToken(IssueTokenRequest request, StreamObserver<IssueTokenResponse> responses) {
    unary(responses, () -> TokenMapper.issue(caller(), request));
  }

  @Override
  public void listTokens(ListTokensRequest request, StreamObserver<ListTokensResponse> responses) {
    unary(responses, () -> TokenMapper.list(caller()));
  }

  @Override
  public void revokeToken(
      RevokeTokenRequest request, StreamObserver<RevokeTokenResponse> responses) {
    unary(
        responses,
        () -> {
          caller().revokeToken(request.getId());
          return RevokeTokenResponse.getDefaultInstance();
        });
  }

  /** The engine as this call's token may use it (checked on every call). */
  private Caller caller() {
    return engine.caller(AuthInterceptor.CREDENTIAL.get());
  }

  /**
   * Answers with what another node answered, when {@code forward} gives an answer (true); false:
   * answer here.
   */
  private static <T> boolean forwarded(StreamObserver<T> responses, Supplier<T> forward) {
    T answer;
    try {
      answer = forward.get();
    } catch (StatusRuntimeException e) {
      responses.onError(e);
      return true;
    }
    if (answer == null) {
      return false;
    }
    responses.onNext(answer);
    responses.onCompleted();
    return true;
  }

  private <T> void unary(StreamObserver<T> responses, Supplier<T> call) {
    T answer;
    try {
      answer = call.get();
    } catch (EngramException e) {
      engine.failed(Door.GRPC, e);
      responses.onError(toStatus(e));
      return;
    }
    responses.onNext(answer);
    responses.onCompleted();
  }

  /** A domain failure as a gRPC status; overload carries {@code RetryInfo} and a trailer. */
  static StatusRuntimeException toStatus(EngramException e) {
    StatusCode code = StatusCode.of(e);
    if (e instanceof OverloadedException overloaded) {
      int ms = overloaded.retryAfterMillis();
      com.google.rpc.Status status =
          com.google.rpc.Status.newBuilder()
              .setCode(code.number())
              .setMessage(e.getMessage())
              .addDetails(
                  Any.pack(
                      RetryInfo.newBuilder()
                          .setRetryDelay(
                              Duration.newBuilder()
                                  .setSeconds(ms / 1000)
                                  .setNanos((ms % 1000) * 1_000_000))
                          .build()))
              .build();
      Metadata trailers = new Metadata();
      trailers.put(RETRY_AFTER_MS, Integer.toString(ms));
      return StatusProto.toStatusRuntimeException(status, trailers);
    }
    return io.grpc.Status.fromCodeValue(code.number())
        .withDescription(e.getMessage())
        .asRuntimeException();
  }
}
