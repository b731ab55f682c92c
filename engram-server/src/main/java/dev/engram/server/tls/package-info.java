/**
 * Transport security and listening rules: {@link dev.engram.server.tls.ListenOptions} (the bind
 * address, PEM files, whether plaintext is allowed), {@link dev.engram.server.tls.TlsMaterial} (the
 * PEM files loaded, checked and turned into gRPC and Jetty settings) and {@link
 * dev.engram.server.tls.SelfSignedCert} ({@code engram cert}: a development pair).
 */
package dev.engram.server.tls;
