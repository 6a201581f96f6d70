"""A local MJPEG-over-HTTP camera for the stream tests: frames served as
``multipart/x-mixed-replace`` (what IP cameras send) on 127.0.0.1, from a thread.
OpenCV's FFmpeg backend reads it like any network camera."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

BOUNDARY = b"frame"


def jpeg(frame_rgb, quality=95) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(np.asarray(frame_rgb), cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


class MJPEGServer:
    """Serve RGB ``frames`` as an MJPEG stream at :attr:`url`.

    Args:
        plan: list of index lists: connection ``k`` gets ``frames[i] for i in plan[k]`` and is
            then closed by the server (a dropped stream); connections beyond the plan get
            ``503``. Default: one connection with every frame.
        loop: every connection gets the frames over and over, never ending (a live camera).
        fps: pace the frames (default: as fast as the socket takes them).
    """

    def __init__(self, frames, plan=None, loop=False, fps=None):
        self.parts = [jpeg(f) for f in frames]
        self.plan = plan if plan is not None else [list(range(len(frames)))]
        self.loop, self.fps = loop, fps
        self.connections = 0
        self.sent = 0
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):
                pass

            def do_GET(self):
                k = server.connections
                server.connections += 1
                if not server.loop and k >= len(server.plan):
                    self.send_error(503, "camera offline")
                    return
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY.decode()}")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                order = server._order(k)
                try:
                    for i in order:
                        if server._stop.is_set():
                            return
                        part = server.parts[i]
                        self.wfile.write(b"--" + BOUNDARY + b"\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                         + str(len(part)).encode() + b"\r\n\r\n" + part + b"\r\n")
                        self.wfile.flush()
                        server.sent += 1
                        if server.fps:
                            time.sleep(1.0 / server.fps)
                except (BrokenPipeError, ConnectionResetError):
                    return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/stream.mjpg"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def _order(self, k):
        if not self.loop:
            yield from self.plan[k]
            return
        while True:
            yield from range(len(self.parts))

    def close(self):
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def closed_port() -> int:
    """A loopback TCP port nothing listens on."""
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
