package dev.engram.core.model;

/**
 * The one way a client's string goes into a message the server sends back (ids, request ids,
 * session ids, space names): clipped to {@link #MAX_CHARS}, so a client cannot make the server
 * build, log or send an error as long as its own input.
 *
 * <p>Thread-safety: stateless.
 */
public final class Echo {
  /** The most characters of a client string a message repeats. */
  public static final int MAX_CHARS = 64;

  private Echo() {}

  /** {@code text} itself when short; else its start and its length ("abc...(70000 chars)"). */
  public static String clip(String text) {
    if (text == null) {
      return "";
    }
    if (text.length() <= MAX_CHARS) {
      return text;
    }
    int cut = MAX_CHARS - 3;
    if (Character.isHighSurrogate(text.charAt(cut - 1))) {
      cut--; // never split a surrogate pair
    }
    return text.substring(0, cut) + "...(" + text.length() + " chars)";
  }
}
