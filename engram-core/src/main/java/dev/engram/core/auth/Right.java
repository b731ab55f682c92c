package dev.engram.core.auth;

/**
 * What a token may do in its space. {@code ADMIN} includes {@code READ} and {@code WRITE} and adds
 * deleting the space and forgetting episodes.
 */
public enum Right {
  READ,
  WRITE,
  ADMIN
}
