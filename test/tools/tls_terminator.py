#!/usr/bin/env python3
"""A TLS front for a plain-HTTP test server (the fake Nomad): accepts TLS on a free loopback port
with the given certificate, optionally requires a client certificate signed by --client-ca, and
relays the bytes to 127.0.0.1:--backend. Prints "listening on PORT" once ready. For tests only."""
import argparse
import socket
import ssl
import threading


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.close()
            except OSError:
                pass


def serve(conn, ctx, backend):
    try:
        tls = ctx.wrap_socket(conn, server_side=True)
    except (ssl.SSLError, OSError) as e:
        print(f"handshake refused: {e}", flush=True)
        conn.close()
        return
    try:
        up = socket.create_connection(("127.0.0.1", backend))
    except OSError:
        tls.close()
        return
    threading.Thread(target=pump, args=(tls, up), daemon=True).start()
    pump(up, tls)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--client-ca")
    p.add_argument("--backend", type=int, required=True)
    a = p.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(a.cert, a.key)
    if a.client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(a.client_ca)
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    print(f"listening on {srv.getsockname()[1]}", flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, ctx, a.backend), daemon=True).start()


if __name__ == "__main__":
    main()
