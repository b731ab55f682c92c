package dev.engram.embed;

import static org.assertj.core.api.Assertions.assertThat;

import dev.engram.core.embed.Embedder;
import dev.engram.core.embed.Embedders;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The real model: found by ServiceLoader, 384-d, and similar sentences closer than unrelated. */
class MiniLmEmbedderTest {

  private static double cosine(float[] a, float[] b) {
    double dot = 0;
    double na = 0;
    double nb = 0;
    for (int i = 0; i < a.length; i++) {
      dot += a[i] * b[i];
      na += a[i] * a[i];
      nb += b[i] * b[i];
    }
    return dot / Math.sqrt(na * nb);
  }

  @Test
  void discovered_byServiceLoader() {
    Embedder e = Embedders.discover().find("all-minilm-l6-v2");
    assertThat(e).isInstanceOf(MiniLmEmbedder.class);
    assertThat(e.dimension()).isEqualTo(384);
  }

  @Test
  void embed_similarSentencesCloserThanUnrelated() {
    List<float[]> v =
        new MiniLmEmbedder()
            .embed(
                List.of(
                    "My dog loves playing fetch in the park.",
                    "The puppy enjoys chasing a ball outside.",
                    "Quarterly revenue fell because of higher interest rates."));
    assertThat(v).hasSize(3).allMatch(x -> x.length == 384);
    double similar = cosine(v.get(0), v.get(1));
    double unrelated = cosine(v.get(0), v.get(2));
    assertThat(similar).isGreaterThan(unrelated + 0.2);
  }

  @Test
  void embed_batchEqualsOneByOne() {
    MiniLmEmbedder e = new MiniLmEmbedder();
    List<String> texts = List.of("hello there", "a longer sentence about the weather today");
    List<float[]> batch = e.embed(texts);
    for (int i = 0; i < texts.size(); i++) {
      assertThat(cosine(batch.get(i), e.embed(List.of(texts.get(i))).get(0))).isGreaterThan(0.999);
    }
  }
}
