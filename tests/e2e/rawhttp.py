#!/usr/bin/env python3
"""Send a request as raw bytes over TCP and describe the answer (tests/e2e/42-edge-errors.sh).

usage: rawhttp.py HOST:PORT [--wait SECONDS] [--half-close] < REQUEST

REQUEST (stdin) is sent byte for byte, from a thread, so that an answer nginx gives while
the request is still being sent (a 413 to a growing chunked body) is read as it comes.
--half-close shuts the sending side once REQUEST is sent (a body cut short). The answer is
read until one whole response has come (by its Content-Length, its chunks, or the end of
the connection), the connection ends, or --wait seconds (default 10) pass. Prints one JSON
object:
  status       the status line's code, or null when no status line came
  status_line  the status line as sent ("HTTP/1.1 431 ")
  headers      {lower-case name: value} (repeated names joined with ", ")
  body         the body (de-chunked), as UTF-8 with bad bytes replaced
  end          "response" (a whole response came), "eof" (the server closed the
               connection), "reset" (it reset it) or "timeout"
  bytes        how many bytes the server sent in all
  seconds      from the end of sending to the end of reading (or from the start, when
               the server answered before the request was all sent)
"""
import json
import select
import socket
import sys
import threading
import time


def parse(data):
    """(status_line, headers, body, complete) of the bytes received so far."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return None, {}, b"", False
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        value = value.strip()
        headers[name] = headers[name] + ", " + value if name in headers else value
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = b""
        while True:
            size_line, sep, rest = rest.partition(b"\r\n")
            if not sep:
                return lines[0], headers, body, False
            try:
                size = int(size_line.split(b";")[0], 16)
            except ValueError:
                return lines[0], headers, body, True  # not chunked after all: take it as is
            if size == 0:
                return lines[0], headers, body, True
            if len(rest) < size + 2:
                return lines[0], headers, body + rest[:size], False
            body += rest[:size]
            rest = rest[size + 2 :]
    if "content-length" in headers:
        try:
            length = int(headers["content-length"])
        except ValueError:
            length = len(rest)
        return lines[0], headers, rest[:length], len(rest) >= length
    return lines[0], headers, rest, False  # to the end of the connection


def main():
    args = sys.argv[1:]
    wait, half_close = 10.0, False
    if not args:
        sys.exit(__doc__)
    host, _, port = args.pop(0).rpartition(":")
    while args:
        opt = args.pop(0)
        if opt == "--wait":
            wait = float(args.pop(0))
        elif opt == "--half-close":
            half_close = True
        else:
            sys.exit("unknown option " + opt)
    request = sys.stdin.buffer.read()

    sock = socket.create_connection((host, int(port)), timeout=wait)
    sock.settimeout(None)  # blocking: the sender blocks, the reader waits in select()
    started = time.monotonic()
    sent = {"at": None}

    def send():
        try:
            sock.sendall(request)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server stopped reading: its answer says why
        sent["at"] = time.monotonic()

    sender = threading.Thread(target=send, daemon=True)
    sender.start()

    data, end = b"", "timeout"
    deadline = time.monotonic() + wait
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        if not select.select([sock], [], [], left)[0]:
            break
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            end = "reset"
            break
        if not chunk:
            end = "eof"
            break
        data += chunk
        if parse(data)[3]:
            end = "response"
            break
    finished = time.monotonic()
    sender.join(1)
    sock.close()

    status_line, headers, body, complete = parse(data)
    if end == "eof" and status_line is not None:
        end = "response"  # a body that ends with the connection
    status = None
    if status_line:
        parts = status_line.split(" ")
        if len(parts) >= 2 and parts[1].isdigit():
            status = int(parts[1])
    since = sent["at"] if sent["at"] is not None and sent["at"] < finished else started
    print(json.dumps({
        "status": status,
        "status_line": status_line,
        "headers": headers,
        "body": body.decode("utf-8", "replace"),
        "end": end,
        "bytes": len(data),
        "seconds": round(finished - since, 3),
    }))


if __name__ == "__main__":
    main()
