package dev.engram.core.recall;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class FunctionWordsTest {

  @Test
  void strip_keepsTopicWords_inOrder() {
    assertThat(FunctionWords.strip("What did Caroline research after the race?"))
        .isEqualTo("Caroline research race");
    assertThat(FunctionWords.strip("When is Melanie's pottery class? She'd know."))
        .isEqualTo("Melanie's pottery class know");
  }

  @Test
  void strip_onlyFunctionWords_isEmpty() {
    assertThat(FunctionWords.strip("What did she do?")).isEmpty();
  }
}
