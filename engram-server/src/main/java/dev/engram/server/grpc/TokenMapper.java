package dev.engram.server.grpc;

import com.google.protobuf.Timestamp;
import dev.engram.core.Caller;
import dev.engram.core.auth.IssuedToken;
import dev.engram.core.auth.Right;
import dev.engram.core.auth.TokenInfo;
import dev.engram.core.model.InvalidFieldException;
import dev.engram.core.model.SpaceId;
import dev.engram.proto.v1.IssueTokenRequest;
import dev.engram.proto.v1.IssueTokenResponse;
import dev.engram.proto.v1.ListTokensResponse;
import dev.engram.proto.v1.TokenRight;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import java.util.Set;

/**
 * The token calls' one translation, shared by the gRPC and REST doors: protobuf messages to {@link
 * Caller} calls and back. A secret appears only in {@link IssueTokenResponse}.
 *
 * <p>Thread-safety: stateless.
 */
public final class TokenMapper {
  private TokenMapper() {}

  /** Issues a token as {@code caller} asks. */
  public static IssueTokenResponse issue(Caller caller, IssueTokenRequest request) {
    Set<Right> rights = EnumSet.noneOf(Right.class);
    for (int i = 0; i < request.getRightsCount(); i++) {
      rights.add(
          switch (request.getRights(i)) {
            case TOKEN_RIGHT_READ -> Right.READ;
            case TOKEN_RIGHT_WRITE -> Right.WRITE;
            case TOKEN_RIGHT_ADMIN -> Right.ADMIN;
            default ->
                throw new InvalidFieldException(
                    "rights", "must be TOKEN_RIGHT_READ, TOKEN_RIGHT_WRITE or TOKEN_RIGHT_ADMIN");
          });
    }
    if (request.getTtlSeconds() > 10L * 365 * 86_400) {
      throw new InvalidFieldException("ttl_seconds", "must be at most ten years (0: no expiry)");
    }
    IssuedToken issued =
        caller.issueToken(
            SpaceId.of(request.getMemorySpaceId()),
            rights,
            Duration.ofSeconds(request.getTtlSeconds()),
            request.getName());
    return IssueTokenResponse.newBuilder()
        .setToken(toProto(issued.info()))
        .setSecret(issued.secret())
        .build();
  }

  /** Every token, without secrets. */
  public static ListTokensResponse list(Caller caller) {
    ListTokensResponse.Builder out = ListTokensResponse.newBuilder();
    caller.listTokens().forEach(t -> out.addTokens(toProto(t)));
    return out.build();
  }

  static dev.engram.proto.v1.TokenInfo toProto(TokenInfo t) {
    dev.engram.proto.v1.TokenInfo.Builder out =
        dev.engram.proto.v1.TokenInfo.newBuilder()
            .setId(t.id())
            .setName(t.name())
            .setCreatedAt(timestamp(t.createdAt()));
    if (t.space() != null) {
      out.setMemorySpaceId(t.space().value());
    }
    for (Right r :
        EnumSet.copyOf(t.rights().isEmpty() ? EnumSet.noneOf(Right.class) : t.rights())) {
      out.addRights(
          switch (r) {
            case READ -> TokenRight.TOKEN_RIGHT_READ;
            case WRITE -> TokenRight.TOKEN_RIGHT_WRITE;
            case ADMIN -> TokenRight.TOKEN_RIGHT_ADMIN;
          });
    }
    if (t.expiresAt() != null) {
      out.setExpiresAt(timestamp(t.expiresAt()));
    }
    return out.build();
  }

  private static Timestamp timestamp(Instant t) {
    return Timestamp.newBuilder().setSeconds(t.getEpochSecond()).setNanos(t.getNano()).build();
  }
}
