package dev.engram.bench.load;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The figures of a run in the order they were measured, printed as a table, written as JSON and
 * drawn as an SVG chart. Not thread-safe: filled by the main thread after the run.
 */
final class Report {
  /** Keys every report carries (null when the scenario does not measure them). */
  static final List<String> REQUIRED =
      List.of(
          "accepted_per_s",
          "ack_p50_ms",
          "ack_p99_ms",
          "visibility_p99_ms",
          "index_lag_p99_ms",
          "recall_p99_ms",
          "recall_at_10",
          "acked",
          "stored",
          "lost",
          "duplicated");

  private final Map<String, Object> figures = new LinkedHashMap<>();

  Report(String scenario) {
    figures.put("scenario", scenario);
    for (String k : REQUIRED) {
      figures.put(k, null);
    }
  }

  Report put(String key, Object value) {
    figures.put(key, value);
    return this;
  }

  void printTable(PrintStream out) {
    out.println();
    out.printf(Locale.ROOT, "%-28s %s%n", "figure", "value");
    out.printf(Locale.ROOT, "%-28s %s%n", "-".repeat(28), "-".repeat(24));
    for (Map.Entry<String, Object> e : figures.entrySet()) {
      if (e.getValue() instanceof List<?>) {
        continue;
      }
      out.printf(Locale.ROOT, "%-28s %s%n", e.getKey(), format(e.getValue()));
    }
  }

  private static String format(Object v) {
    if (v == null) {
      return "n/a";
    }
    if (v instanceof Double d) {
      return Math.abs(d) >= 100
          ? String.format(Locale.ROOT, "%,.0f", d)
          : String.format(Locale.ROOT, "%.3f", d);
    }
    if (v instanceof Long || v instanceof Integer) {
      return String.format(Locale.ROOT, "%,d", ((Number) v).longValue());
    }
    return v.toString();
  }

  void writeJson(Path path) throws IOException {
    new ObjectMapper()
        .enable(SerializationFeature.INDENT_OUTPUT)
        .writeValue(path.toFile(), figures);
  }

  /** Two panels over the run's seconds: acknowledged observations/s, and ack/recall p99 in ms. */
  static void writeSvg(Path path, String title, List<Metrics.Second> timeline) throws IOException {
    int w = 800;
    int panel = 200;
    int left = 70;
    int right = 20;
    int top = 40;
    int gap = 50;
    int h = top + 2 * panel + gap + 40;
    double tMax = timeline.isEmpty() ? 1 : Math.max(1, timeline.get(timeline.size() - 1).t());
    double thrMax = 1;
    double latMax = 0.1;
    for (Metrics.Second s : timeline) {
      thrMax = Math.max(thrMax, s.ackedPerSecond());
      latMax = Math.max(latMax, Math.max(s.ackP99Ms(), s.recallP99Ms()));
    }
    thrMax = niceCeil(thrMax);
    latMax = niceCeil(latMax);
    StringBuilder svg = new StringBuilder();
    svg.append(
        String.format(
            Locale.ROOT,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">%n",
            w,
            h));
    svg.append(
        String.format(Locale.ROOT, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>%n", w, h));
    svg.append(
        String.format(
            Locale.ROOT,
            "<text x=\"%d\" y=\"20\" font-size=\"15\">%s</text>%n",
            left,
            escape(title)));
    int y1 = top;
    int y2 = top + panel + gap;
    axes(svg, left, y1, w - left - right, panel, tMax, thrMax, "acknowledged observations/s");
    axes(
        svg,
        left,
        y2,
        w - left - right,
        panel,
        tMax,
        latMax,
        "p99 latency, ms (ack: blue, recall: orange)");
    line(svg, timeline, left, y1, w - left - right, panel, tMax, thrMax, 0, "#2b6cb0");
    line(svg, timeline, left, y2, w - left - right, panel, tMax, latMax, 1, "#2b6cb0");
    line(svg, timeline, left, y2, w - left - right, panel, tMax, latMax, 2, "#dd6b20");
    svg.append(
        String.format(
            Locale.ROOT,
            "<text x=\"%d\" y=\"%d\">seconds since start (per-second buckets)</text>%n",
            left + (w - left - right) / 2 - 110,
            h - 8));
    svg.append("</svg>\n");
    Files.writeString(path, svg);
  }

  private static void axes(
      StringBuilder svg,
      int x,
      int y,
      int width,
      int height,
      double tMax,
      double vMax,
      String label) {
    svg.append(
        String.format(
            Locale.ROOT,
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#999\"/>%n",
            x,
            y,
            width,
            height));
    for (int i = 0; i <= 4; i++) {
      double v = vMax * i / 4;
      int yy = y + height - height * i / 4;
      svg.append(
          String.format(
              Locale.ROOT,
              "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#eee\"/><text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>%n",
              x,
              yy,
              x + width,
              yy,
              x - 5,
              yy + 4,
              tick(v)));
    }
    for (int i = 0; i <= 5; i++) {
      double t = tMax * i / 5;
      int xx = x + (int) (width * i / 5.0);
      svg.append(
          String.format(
              Locale.ROOT,
              "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%.0f</text>%n",
              xx,
              y + height + 14,
              t));
    }
    svg.append(
        String.format(
            Locale.ROOT, "<text x=\"%d\" y=\"%d\">%s</text>%n", x + 5, y - 6, escape(label)));
  }

  private static void line(
      StringBuilder svg,
      List<Metrics.Second> timeline,
      int x,
      int y,
      int width,
      int height,
      double tMax,
      double vMax,
      int series,
      String colour) {
    StringBuilder points = new StringBuilder();
    for (Metrics.Second s : timeline) {
      double v =
          switch (series) {
            case 0 -> s.ackedPerSecond();
            case 1 -> s.ackP99Ms();
            default -> s.recallP99Ms();
          };
      double px = x + width * s.t() / tMax;
      double py = y + height - height * Math.min(v, vMax) / vMax;
      points.append(String.format(Locale.ROOT, "%.1f,%.1f ", px, py));
    }
    svg.append(
        String.format(
            Locale.ROOT,
            "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"%s\"/>%n",
            colour,
            points.toString().trim()));
  }

  private static String tick(double v) {
    if (v >= 1000) {
      return String.format(Locale.ROOT, "%,.0f", v);
    }
    return v >= 10 ? String.format(Locale.ROOT, "%.0f", v) : String.format(Locale.ROOT, "%.2f", v);
  }

  private static double niceCeil(double v) {
    double p = Math.pow(10, Math.floor(Math.log10(v)));
    for (double m : new double[] {1, 2, 2.5, 5, 10}) {
      if (m * p >= v) {
        return m * p;
      }
    }
    return 10 * p;
  }

  private static String escape(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
  }
}
