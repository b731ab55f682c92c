package dev.engram.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.util.JsonFormat;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Keeps {@code /v1/openapi.json} true: every documented operation is called, every status the calls
 * get is documented for that operation, and no route is left out of the document.
 */
class OpenApiTest {
  @TempDir Path dir;

  /** A call made, as (operationId, status). */
  private final Map<String, Set<Integer>> seen = new HashMap<>();

  private HttpResponse<String> call(
      HttpServerFixture f, String operation, String method, String path, String body)
      throws Exception {
    HttpResponse<String> r = f.call(method, path, body);
    seen.computeIfAbsent(operation, k -> new HashSet<>()).add(r.statusCode());
    return r;
  }

  @Test
  void openApi_everyDocumentedOperationCalled_statusesDocumented() throws Exception {
    try (HttpServerFixture f = new HttpServerFixture(dir)) {
      HttpResponse<String> doc = call(f, "openApi", "GET", "/v1/openapi.json", null);
      Struct.Builder parsed = Struct.newBuilder();
      JsonFormat.parser().merge(doc.body(), parsed);
      assertThat(parsed.getFieldsOrThrow("openapi").getStringValue()).isEqualTo("3.1.0");

      String space = "{\"memorySpaceId\":\"s\",\"dimension\":2,\"metric\":\"METRIC_DOT\"}";
      call(f, "createSpace", "POST", "/v1/spaces", space);
      call(f, "createSpace", "POST", "/v1/spaces", "{\"memorySpaceId\":\"s\",\"dimension\":3}");
      call(f, "createSpace", "POST", "/v1/spaces", "{\"bogus\":1}");
      call(f, "listSpaces", "GET", "/v1/spaces", null);
      call(f, "getSpace", "GET", "/v1/spaces/s", null);
      call(f, "getSpace", "GET", "/v1/spaces/none", null);
      call(f, "remember", "POST", "/v1/spaces/s/episodes", "{\"id\":\"a\",\"embedding\":[1,0]}");
      call(f, "remember", "POST", "/v1/spaces/s/episodes", "{\"episodes\":[{\"embedding\":[1]}]}");
      call(f, "remember", "POST", "/v1/spaces/none/episodes", "{\"embedding\":[1,0]}");
      call(f, "getEpisode", "GET", "/v1/spaces/s/episodes/a", null);
      call(f, "getEpisode", "GET", "/v1/spaces/s/episodes/zz", null);
      call(f, "recall", "POST", "/v1/spaces/s/recall", "{\"embedding\":[1,0],\"k\":3}");
      call(f, "recall", "POST", "/v1/spaces/s/recall", "{\"embedding\":[1,0,0]}");
      call(f, "forget", "DELETE", "/v1/spaces/s/episodes/a", null);
      call(f, "deleteSpace", "DELETE", "/v1/spaces/s", null);
      call(f, "deleteSpace", "DELETE", "/v1/spaces/s", null);
      HttpResponse<String> issued =
          call(
              f,
              "issueToken",
              "POST",
              "/v1/tokens",
              "{\"memorySpaceId\":\"s\",\"rights\":[\"TOKEN_RIGHT_READ\"]}");
      call(f, "issueToken", "POST", "/v1/tokens", "{\"memorySpaceId\":\"s\"}");
      call(f, "listTokens", "GET", "/v1/tokens", null);
      String tokenId = issued.body().replaceAll("(?s).*\"id\":\\s*\"([^\"]+)\".*", "$1");
      call(f, "revokeToken", "DELETE", "/v1/tokens/" + tokenId, null);
      call(f, "revokeToken", "DELETE", "/v1/tokens/" + tokenId, null);

      Map<String, Set<String>> documented = new HashMap<>();
      Struct paths = parsed.getFieldsOrThrow("paths").getStructValue();
      for (var path : paths.getFieldsMap().entrySet()) {
        for (var op : path.getValue().getStructValue().getFieldsMap().entrySet()) {
          if (op.getKey().equals("parameters")) {
            continue;
          }
          Struct operation = op.getValue().getStructValue();
          String id = operation.getFieldsOrThrow("operationId").getStringValue();
          Value responses = operation.getFieldsOrThrow("responses");
          documented.put(id, responses.getStructValue().getFieldsMap().keySet());
        }
      }
      assertThat(seen.keySet()).isEqualTo(documented.keySet());
      seen.forEach(
          (id, statuses) ->
              statuses.forEach(
                  status ->
                      assertThat(documented.get(id))
                          .as("status %d of %s is documented", status, id)
                          .contains(Integer.toString(status))));
    }
  }
}
