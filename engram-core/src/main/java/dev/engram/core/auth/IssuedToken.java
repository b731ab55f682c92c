package dev.engram.core.auth;

/**
 * A token just issued: its description and its secret, which is shown this once and never stored.
 *
 * @param info the token without its secret
 * @param secret the bearer string the client sends ({@code egt_<id>.<random>})
 */
public record IssuedToken(TokenInfo info, String secret) {
  @Override
  public String toString() {
    return "IssuedToken[" + info + ", secret=<hidden>]";
  }
}
