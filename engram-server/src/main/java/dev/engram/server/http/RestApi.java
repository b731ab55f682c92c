package dev.engram.server.http;

import com.google.protobuf.Message;
import com.google.protobuf.Struct;
import dev.engram.core.Caller;
import dev.engram.core.Engram;
import dev.engram.core.model.EngramException;
import dev.engram.core.model.Episode;
import dev.engram.core.model.InvalidFieldException;
import dev.engram.core.model.Limit;
import dev.engram.core.model.NotFoundException;
import dev.engram.core.model.SpaceId;
import dev.engram.core.model.StatusCode;
import dev.engram.core.session.Acceptor;
import dev.engram.core.telemetry.Door;
import dev.engram.proto.v1.CreateSpaceRequest;
import dev.engram.proto.v1.DeleteSpaceResponse;
import dev.engram.proto.v1.ForgetResponse;
import dev.engram.proto.v1.GetSpaceRequest;
import dev.engram.proto.v1.IssueTokenRequest;
import dev.engram.proto.v1.ListSpacesResponse;
import dev.engram.proto.v1.RecallRequest;
import dev.engram.proto.v1.RememberRequest;
import dev.engram.proto.v1.RememberResponse;
import dev.engram.proto.v1.RevokeTokenResponse;
import dev.engram.proto.v1.Space;
import dev.engram.server.grpc.ProtoMapper;
import dev.engram.server.grpc.Router;
import dev.engram.server.grpc.TokenMapper;
import io.grpc.StatusRuntimeException;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import java.util.List;
import java.util.function.Supplier;

/**
 * The REST door ({@code /v1}): each route parses its JSON body into the {@code engram.v1} message,
 * calls the engine exactly as the gRPC unary calls do, and prints the answer in the same JSON
 * mapping. It decides nothing: validation, idempotency and admission (all-or-nothing batches, 429
 * when the queue cannot take the whole batch) are the engine's.
 *
 * <p>Thread-safety: stateless apart from the engine; Javalin may call routes concurrently.
 */
final class RestApi {
  /** Episode ids may contain '/' (server-made ids do): the last segment takes the rest. */
  static final String EPISODE_PATH = "/v1/spaces/{id}/episodes/<episodeId>";

  private final Engram engine;
  private final int maxBodyBytes;
  private volatile Router router; // null: no cluster, every call is answered here

  RestApi(Engram engine) {
    this.engine = engine;
    this.maxBodyBytes = engine.limits().maxMessageBytes();
  }

  void route(Router router) {
    this.router = router;
  }

  void register(RoutesConfig routes) {
    routes.before("/v1/*", this::checkBody);
    routes.post("/v1/spaces", this::createSpace);
    routes.get("/v1/spaces", this::listSpaces);
    routes.get("/v1/spaces/{id}", this::getSpace);
    routes.delete("/v1/spaces/{id}", this::deleteSpace);
    routes.post("/v1/spaces/{id}/episodes", this::remember);
    routes.get(EPISODE_PATH, this::getEpisode);
    routes.delete(EPISODE_PATH, this::forget);
    routes.post("/v1/spaces/{id}/recall", this::recall);
    routes.post("/v1/tokens", this::issueToken);
    routes.get("/v1/tokens", this::listTokens);
    routes.delete("/v1/tokens/{tokenId}", this::revokeToken);
    routes.exception(
        EngramException.class,
        (e, ctx) -> {
          engine.failed(Door.REST, e);
          HttpErrors.answer(ctx, e);
        });
    routes.exception(
        HttpResponseException.class,
        (e, ctx) -> {
          if (e.getStatus() == 413) {
            engine.limitRefused(Door.REST, Limit.MESSAGE_BYTES); // Javalin's maxRequestSize
          }
          HttpErrors.answer(
              ctx,
              e.getStatus(),
              codeFor(e.getStatus()),
              e.getMessage(),
              e.getStatus() == 413 ? "body" : "");
        });
  }

  /** 415 for a body that is not JSON, 413 for one over the message limit (before reading it). */
  private void checkBody(Context ctx) {
    if (!ctx.method().name().equals("POST")) {
      return;
    }
    String type = ctx.contentType();
    if (type != null && !type.toLowerCase(java.util.Locale.ROOT).startsWith("application/json")) {
      HttpErrors.answer(
          ctx,
          415,
          "INVALID_ARGUMENT",
          "Content-Type '%s' is not supported: send application/json".formatted(type),
          "Content-Type");
      ctx.skipRemainingHandlers();
      return;
    }
    long length = ctx.contentLength();
    if (length > maxBodyBytes) {
      engine.limitRefused(Door.REST, Limit.MESSAGE_BYTES);
      HttpErrors.answer(
          ctx,
          413,
          "RESOURCE_EXHAUSTED",
          "a body of %d bytes is over the server's max_message_bytes of %d: split it"
              .formatted(length, maxBodyBytes),
          "body");
      ctx.skipRemainingHandlers();
    }
  }

  private void createSpace(Context ctx) {
    CreateSpaceRequest request = body(ctx, CreateSpaceRequest.newBuilder()).build();
    var info = caller(ctx).createSpace(ProtoMapper.toSpaceConfig(request));
    ctx.header("Location", "/v1/spaces/" + info.config().id().value());
    json(ctx, 201, ProtoMapper.toProto(info));
  }

  private void listSpaces(Context ctx) {
    json(
        ctx,
        200,
        ListSpacesResponse.newBuilder()
            .addAllSpaces(caller(ctx).listSpaces().stream().map(ProtoMapper::toProto).toList())
            .build());
  }

  private void getSpace(Context ctx) {
    Router r = router;
    if (r != null) {
      GetSpaceRequest request =
          GetSpaceRequest.newBuilder().setMemorySpaceId(ctx.pathParam("id")).build();
      if (forwarded(ctx, () -> r.getSpace(request, ctx.header("Authorization")))) {
        return;
      }
    }
    Space space = ProtoMapper.toProto(caller(ctx).getSpace(space(ctx)));
    json(
        ctx,
        200,
        r == null
            ? space
            : space.toBuilder().setOwnerNode(r.owner(space.getMemorySpaceId())).build());
  }

  /**
   * Answers with what the node that owns the space answered, when the router forwarded the call
   * (true); false: answer here. The owner's gRPC status becomes the HTTP status the engine's own
   * code would have.
   */
  private static boolean forwarded(Context ctx, Supplier<Message> forward) {
    Message answer;
    try {
      answer = forward.get();
    } catch (StatusRuntimeException e) {
      StatusCode code = StatusCode.UNAVAILABLE; // unreachable, past the deadline
      for (StatusCode c : StatusCode.values()) {
        if (c.number() == e.getStatus().getCode().value()) {
          code = c;
        }
      }
      HttpErrors.answer(
          ctx, HttpErrors.httpStatus(code), code.name(), e.getStatus().getDescription(), "");
      return true;
    }
    if (answer == null) {
      return false;
    }
    json(ctx, 200, answer);
    return true;
  }

  private void deleteSpace(Context ctx) {
    caller(ctx).deleteSpace(space(ctx));
    json(ctx, 200, DeleteSpaceResponse.getDefaultInstance());
  }

  /** Body: one {@code Episode}, or {@code {"episodes": [...]}} (a {@code RememberRequest}). */
  private void remember(Context ctx) {
    SpaceId space = space(ctx);
    String body = ctx.body();
    if (body.isBlank()) {
      throw new InvalidFieldException("body", "is empty: send an episode or {\"episodes\": [...]}");
    }
    List<Episode> episodes;
    if (JsonCodec.parse(body, Struct.newBuilder()).containsFields("episodes")) {
      RememberRequest request = JsonCodec.parse(body, RememberRequest.newBuilder()).build();
      requireSameSpace(request.getMemorySpaceId(), space);
      episodes = ProtoMapper.toModel(request.getEpisodesList());
    } else {
      episodes =
          List.of(
              ProtoMapper.toModel(
                  JsonCodec.parse(body, dev.engram.proto.v1.Episode.newBuilder()).build()));
    }
    Acceptor.Remembered r = caller(ctx).remember(Door.REST, space, episodes);
    json(
        ctx,
        200,
        RememberResponse.newBuilder().addAllIds(r.ids()).setDuplicates(r.duplicates()).build());
  }

  private void getEpisode(Context ctx) {
    SpaceId space = space(ctx);
    String id = ctx.pathParam("episodeId");
    Episode episode = caller(ctx).episode(space, id);
    if (episode == null) {
      throw new NotFoundException(
          "episode '%s' is not stored in memory space '%s'"
              .formatted(dev.engram.core.model.Echo.clip(id), space));
    }
    json(ctx, 200, ProtoMapper.toProto(episode));
  }

  private void forget(Context ctx) {
    int forgotten = caller(ctx).forget(space(ctx), List.of(ctx.pathParam("episodeId")));
    json(ctx, 200, ForgetResponse.newBuilder().setForgotten(forgotten).build());
  }

  private void recall(Context ctx) {
    SpaceId space = space(ctx);
    RecallRequest request = body(ctx, RecallRequest.newBuilder()).build();
    requireSameSpace(request.getMemorySpaceId(), space);
    Router r = router;
    RecallRequest forward = request.toBuilder().setMemorySpaceId(space.value()).build();
    if (r != null && forwarded(ctx, () -> r.recall(forward, ctx.header("Authorization")))) {
      return;
    }
    json(
        ctx,
        200,
        ProtoMapper.toProto(
            request.getRequestId(),
            caller(ctx)
                .recall(
                    Door.REST,
                    space,
                    ProtoMapper.toModel(
                        request.toBuilder().setMemorySpaceId(space.value()).build()))));
  }

  private void issueToken(Context ctx) {
    IssueTokenRequest request = body(ctx, IssueTokenRequest.newBuilder()).build();
    json(ctx, 201, TokenMapper.issue(caller(ctx), request));
  }

  private void listTokens(Context ctx) {
    json(ctx, 200, TokenMapper.list(caller(ctx)));
  }

  private void revokeToken(Context ctx) {
    caller(ctx).revokeToken(ctx.pathParam("tokenId"));
    json(ctx, 200, RevokeTokenResponse.getDefaultInstance());
  }

  /** The engine as this request's {@code Authorization: Bearer} token may use it. */
  private Caller caller(Context ctx) {
    return engine.caller(ctx.header("Authorization"));
  }

  private static SpaceId space(Context ctx) {
    return SpaceId.of(ctx.pathParam("id"));
  }

  private static void requireSameSpace(String inBody, SpaceId inPath) {
    if (!inBody.isEmpty() && !inBody.equals(inPath.value())) {
      throw new InvalidFieldException(
          "memory_space_id",
          "'%s' differs from the path's space '%s': leave it empty or make them equal"
              .formatted(dev.engram.core.model.Echo.clip(inBody), inPath));
    }
  }

  private static <B extends Message.Builder> B body(Context ctx, B builder) {
    String body = ctx.body();
    if (body.isBlank()) {
      throw new InvalidFieldException("body", "is empty: send a JSON object");
    }
    return JsonCodec.parse(body, builder);
  }

  private static void json(Context ctx, int status, Message message) {
    ctx.status(status).contentType("application/json").result(JsonCodec.print(message));
  }

  private static String codeFor(int status) {
    return switch (status) {
      case 401 -> "UNAUTHENTICATED";
      case 403 -> "PERMISSION_DENIED";
      case 404 -> "NOT_FOUND";
      case 413, 429 -> "RESOURCE_EXHAUSTED";
      case 503 -> "UNAVAILABLE";
      default -> status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT";
    };
  }
}
