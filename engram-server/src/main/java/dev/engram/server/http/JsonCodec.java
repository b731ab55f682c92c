package dev.engram.server.http;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import dev.engram.core.model.InvalidFieldException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The HTTP doors' one encoding: protobuf's canonical JSON mapping of the {@code engram.v1}
 * messages. The printer omits default values; the parser rejects unknown fields.
 *
 * <p>Thread-safety: stateless (JsonFormat's printer and parser are immutable).
 */
final class JsonCodec {
  private static final JsonFormat.Printer PRINTER =
      JsonFormat.printer().omittingInsignificantWhitespace();
  private static final JsonFormat.Parser STRICT = JsonFormat.parser();
  private static final JsonFormat.Parser LENIENT = JsonFormat.parser().ignoringUnknownFields();
  private static final Pattern UNKNOWN_FIELD =
      Pattern.compile("Cannot find field: (\\S+) in message (\\S+)");

  private JsonCodec() {}

  static String print(MessageOrBuilder message) {
    try {
      return PRINTER.print(message);
    } catch (InvalidProtocolBufferException e) {
      // Only Any fields with unknown types fail to print; engram.v1 has none.
      throw new IllegalStateException("cannot print " + message.getClass().getSimpleName(), e);
    }
  }

  /**
   * Parses {@code json} into {@code builder}, strictly.
   *
   * @throws InvalidFieldException naming the field (or {@code body}) that could not be read
   */
  static <B extends Message.Builder> B parse(String json, B builder) {
    try {
      STRICT.merge(json, builder);
      return builder;
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      throw problem(e);
    }
  }

  /**
   * Parses {@code json} ignoring unknown fields, to learn what a frame that failed {@link #parse}
   * was meant to be; null if it cannot be read even so.
   */
  static <B extends Message.Builder> B parseLeniently(String json, B builder) {
    try {
      LENIENT.merge(json, builder);
      return builder;
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      return null;
    }
  }

  /** A parse failure as an invalid field: an unknown field is named, anything else is "body". */
  static InvalidFieldException problem(Exception e) {
    String message = String.valueOf(e.getMessage());
    Matcher unknown = UNKNOWN_FIELD.matcher(message);
    if (unknown.find()) {
      return new InvalidFieldException(
          unknown.group(1), "unknown field in " + unknown.group(2) + " (JSON)");
    }
    return new InvalidFieldException("body", "malformed JSON: " + message);
  }
}
