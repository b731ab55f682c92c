package dev.engram.server.metrics;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A parsed Prometheus text exposition, for assertions on series values. */
public final class Scrape {
  private static final Pattern LINE =
      Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(.*)})?\\s+(\\S+)(\\s+\\d+)?$");
  private static final Pattern LABEL =
      Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"");

  private record Sample(String name, Map<String, String> labels, double value) {}

  private final String text;
  private final List<Sample> samples = new ArrayList<>();

  public Scrape(String text) {
    this.text = text;
    for (String line : text.split("\n")) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      Matcher m = LINE.matcher(line.strip());
      if (!m.matches()) {
        throw new IllegalArgumentException("not a sample line: " + line);
      }
      Map<String, String> labels = new LinkedHashMap<>();
      if (m.group(3) != null) {
        Matcher l = LABEL.matcher(m.group(3));
        while (l.find()) {
          labels.put(l.group(1), l.group(2));
        }
      }
      samples.add(new Sample(m.group(1), labels, Double.parseDouble(m.group(4))));
    }
  }

  public String text() {
    return text;
  }

  /**
   * The sum of the samples named {@code name} whose labels include {@code labelPairs} (name, value,
   * name, value ...); 0 when there is none.
   */
  public double value(String name, String... labelPairs) {
    double sum = 0;
    for (Sample s : samples) {
      if (s.name.equals(name) && matches(s.labels, labelPairs)) {
        sum += s.value;
      }
    }
    return sum;
  }

  /** Whether a sample named {@code name} is present. */
  public boolean has(String name) {
    return samples.stream().anyMatch(s -> s.name.equals(name));
  }

  /** Every sample name. */
  public Set<String> names() {
    Set<String> out = new TreeSet<>();
    samples.forEach(s -> out.add(s.name));
    return out;
  }

  /** The values of label {@code label} on samples named {@code name}. */
  public Set<String> labelValues(String name, String label) {
    Set<String> out = new TreeSet<>();
    for (Sample s : samples) {
      if (s.name.equals(name) && s.labels.containsKey(label)) {
        out.add(s.labels.get(label));
      }
    }
    return out;
  }

  private static boolean matches(Map<String, String> labels, String... pairs) {
    for (int i = 0; i + 1 < pairs.length; i += 2) {
      if (!pairs[i + 1].equals(labels.get(pairs[i]))) {
        return false;
      }
    }
    return true;
  }
}
