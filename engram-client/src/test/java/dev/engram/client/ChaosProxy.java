package dev.engram.client;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP proxy for tests: forwards loopback connections to a server and can cut every connection at
 * seeded random points of the client-to-server byte stream, or stop forwarding server-to-client
 * bytes (a server that stops answering without closing anything).
 *
 * <p>Concurrency: one accept thread and two pump threads per connection; the list of open sockets
 * is copy-on-write; {@link #paused} is guarded by {@code this} (pumps wait on it).
 */
final class ChaosProxy implements AutoCloseable {
  private final ServerSocket listener;
  private volatile int targetPort;
  private final Random random;
  private final long minCutBytes;
  private final long maxCutBytes;
  private final List<Socket> open = new CopyOnWriteArrayList<>();
  private final AtomicLong upstreamBytes = new AtomicLong();
  private final AtomicInteger cuts = new AtomicInteger();
  private final AtomicInteger accepted = new AtomicInteger();
  private volatile long nextCutAt;
  private volatile boolean closed;
  private boolean paused; // guarded by this

  /**
   * @param minCutBytes with {@code maxCutBytes}: cut every connection each time the client has sent
   *     a further uniformly random number of bytes in this range; 0 disables cutting
   */
  ChaosProxy(int targetPort, long seed, long minCutBytes, long maxCutBytes) throws IOException {
    this.targetPort = targetPort;
    this.random = new Random(seed);
    this.minCutBytes = minCutBytes;
    this.maxCutBytes = maxCutBytes;
    this.nextCutAt = minCutBytes > 0 ? nextGap() : Long.MAX_VALUE;
    this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread t = new Thread(this::acceptLoop, "chaos-proxy-accept");
    t.setDaemon(true);
    t.start();
  }

  /** Forwards new connections to {@code port} from now on (a server that restarted elsewhere). */
  void retarget(int port) {
    this.targetPort = port;
  }

  int port() {
    return listener.getLocalPort();
  }

  String target() {
    return "127.0.0.1:" + port();
  }

  int cuts() {
    return cuts.get();
  }

  int connections() {
    return accepted.get();
  }

  /** Stops (true) or resumes (false) forwarding bytes from the server to the client. */
  synchronized void pauseServerToClient(boolean pause) {
    paused = pause;
    notifyAll();
  }

  /** Closes every open connection at once. */
  void cutAll() {
    cuts.incrementAndGet();
    for (Socket s : open) {
      closeQuietly(s);
    }
    open.clear();
  }

  private long nextGap() {
    return minCutBytes + (long) (random.nextDouble() * (maxCutBytes - minCutBytes));
  }

  private void acceptLoop() {
    while (!closed) {
      try {
        Socket client = listener.accept();
        Socket server;
        try {
          server = new Socket(InetAddress.getLoopbackAddress(), targetPort);
        } catch (IOException refused) {
          closeQuietly(client); // the client sees its connection closed and retries
          continue;
        }
        client.setTcpNoDelay(true);
        server.setTcpNoDelay(true);
        open.add(client);
        open.add(server);
        accepted.incrementAndGet();
        start(client, server, true);
        start(server, client, false);
      } catch (IOException e) {
        if (!closed) {
          continue; // the target refused: the client sees its socket closed and retries
        }
      }
    }
  }

  private void start(Socket from, Socket to, boolean upstream) {
    Thread t =
        new Thread(
            () -> pump(from, to, upstream), upstream ? "chaos-proxy-up" : "chaos-proxy-down");
    t.setDaemon(true);
    t.start();
  }

  private void pump(Socket from, Socket to, boolean upstream) {
    byte[] buffer = new byte[16 * 1024];
    try (InputStream in = from.getInputStream();
        OutputStream out = to.getOutputStream()) {
      int n;
      while ((n = in.read(buffer)) >= 0) {
        if (!upstream) {
          awaitUnpaused();
        }
        out.write(buffer, 0, n);
        if (upstream && upstreamBytes.addAndGet(n) >= nextCutAt) {
          synchronized (this) {
            if (upstreamBytes.get() >= nextCutAt) {
              nextCutAt = upstreamBytes.get() + nextGap();
              cutAll();
            }
          }
        }
      }
    } catch (IOException | InterruptedException e) {
      // cut, or the peer went away: close both sides below
    } finally {
      closeQuietly(from);
      closeQuietly(to);
      open.remove(from);
      open.remove(to);
    }
  }

  private synchronized void awaitUnpaused() throws InterruptedException {
    while (paused && !closed) {
      wait();
    }
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // already closed
    }
  }

  @Override
  public void close() throws IOException {
    closed = true;
    synchronized (this) {
      notifyAll();
    }
    listener.close();
    for (Socket s : open) {
      closeQuietly(s);
    }
  }
}
