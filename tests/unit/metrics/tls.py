"""TLS for the local stand-in servers: a fresh self-signed certificate for 127.0.0.1, kept in memory.

The certificate comes from the webhook's own maker (``rollouts.webhook.certificate``), which never
writes the key to a file system; a client that checks certificates refuses it, which is what the
providers' ``insecure`` tests need.
"""

from __future__ import annotations

import ssl
from http.server import HTTPServer

from rollouts.webhook.certificate import self_signed


def serve_self_signed(server: HTTPServer) -> None:
    """Make ``server`` answer over TLS with a self-signed certificate for 127.0.0.1."""
    with self_signed(["127.0.0.1"]) as cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert.certfile, cert.pkeyfile)
    server.socket = context.wrap_socket(server.socket, server_side=True)
