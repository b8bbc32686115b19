#!/usr/bin/env python3
"""A minimal SMTP server for mbed TLS's ssl_mail_client (workload.sh): it accepts
one connection on 127.0.0.1:PORT, speaks TLS from the start (MODE tls: SMTPS, the
client's mode=0) or after STARTTLS (MODE starttls: the client's mode=1), and answers
every command with a plausible reply, so that the client runs its whole dialogue.

usage: smtp_server.py PORT CERT KEY MODE
"""
import socket
import ssl
import sys


def serve(conn, context):
    tls = False
    stream = conn
    if not starttls_mode:
        stream = context.wrap_socket(conn, server_side=True)
        tls = True
    stream.sendall(b"220 sbx test SMTP ready\r\n")
    buffer = b""
    in_data = False
    auth = 0
    while True:
        chunk = stream.recv(4096)
        if not chunk:
            return
        buffer += chunk
        while b"\r\n" in buffer:
            line, buffer = buffer.split(b"\r\n", 1)
            if in_data:
                if line == b".":
                    in_data = False
                    stream.sendall(b"250 queued\r\n")
                continue
            command = line.split(b" ", 1)[0].upper()
            if command == b"DATA":
                in_data = True
                stream.sendall(b"354 end with <CRLF>.<CRLF>\r\n")
            elif command == b"STARTTLS" and not tls:
                stream.sendall(b"220 go ahead\r\n")
                stream = context.wrap_socket(conn, server_side=True)
                tls = True
                buffer = b""
            elif command == b"AUTH":
                auth = 2    # AUTH LOGIN: user name, then password, each base64
                stream.sendall(b"334 VXNlcm5hbWU6\r\n")
            elif auth:
                auth -= 1
                stream.sendall(b"334 UGFzc3dvcmQ6\r\n" if auth else b"235 authenticated\r\n")
            elif command == b"QUIT":
                stream.sendall(b"221 bye\r\n")
                return
            else:
                stream.sendall(b"250 ok\r\n")


port, cert, key, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
starttls_mode = mode == "starttls"
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", port))
listener.listen(1)
listener.settimeout(600)
conn, _ = listener.accept()
conn.settimeout(600)
try:
    serve(conn, context)
except (ssl.SSLError, OSError) as error:
    print(f"smtp_server: {error}", file=sys.stderr)
    sys.exit(1)
finally:
    conn.close()
