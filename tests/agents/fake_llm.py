"""A local chat-completions server for tests: real HTTP on 127.0.0.1, a scripted list
of answers, and a record of every request it received."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def completion(subject="Idea for Globex", body="Hi Dana,\n\nShort note.\n\nBest,\nSam", *, content=None,
               prompt_tokens=120, completion_tokens=45):
    content = json.dumps({"subject": subject, "body": body}) if content is None else content
    return 200, {}, {
        "id": "chatcmpl-test", "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens},
    }, 0


def error(status, headers=None, delay=0):
    return status, headers or {}, {"error": {"message": f"status {status}"}}, delay


def slow(seconds):
    status, headers, body, _ = completion()
    return status, headers, body, seconds


class FakeChatServer:
    def __init__(self):
        self.script = []
        self.requests = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                server.requests.append({
                    "path": self.path, "headers": dict(self.headers),
                    "json": json.loads(self.rfile.read(length) or b"{}"),
                })
                status, headers, body, delay = server.script.pop(0) if server.script else completion()
                if delay:
                    time.sleep(delay)
                payload = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
