"""The webhook receiver and the HTTP transport, against a real local HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from iocmon.notifier.errors import DeliveryFailed
from iocmon.notifier.lanes import Delivery
from iocmon.notifier.model import AlertRecord, decode
from iocmon.notifier.transport import post_json, target_of
from iocmon.notifier.webhook import WebhookReceiver, idempotency_key

ICT = timezone(timedelta(hours=7))


def alert(alert_id: str = "HS-1:overdue:2026-12-01T17:00:00+07:00") -> AlertRecord:
    at = datetime(2026, 12, 1, 17, tzinfo=ICT)
    return AlertRecord(alert_id, "overdue", "HS-1", "STP", None, "1.001", at, 1, at, at)


class Server:
    def __init__(self) -> None:
        self.status = 200
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                server.requests.append((self.path, dict(self.headers), body))
                self.send_response(server.status)
                self.end_headers()
                self.wfile.write(b"nope" if server.status >= 300 else b"")

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.httpd.shutdown()


def test_posts_the_record_with_its_alert_id_as_idempotency_key(server: Server) -> None:
    receiver = WebhookReceiver(server.url, timeout_s=5)
    record = alert()
    assert receiver.send([Delivery(0, 7, 1, record, 0.0)]) == 1
    [(path, headers, body)] = server.requests
    assert path == "/hook"
    assert headers["Idempotency-Key"] == record.alert_id
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == record.to_json()


def test_an_at_risk_record_reaches_the_webhook_as_the_worker_wrote_it(server: Server) -> None:
    value = {
        "v": 1,
        "alert_id": "HS-1:at_risk:2026-12-01T17:00:00+07:00",
        "kind": "at_risk",
        "dossier_id": "HS-1",
        "agency": "STP",
        "agency_name": "Sở Tư pháp",
        "procedure": "1.001",
        "due_at": "2026-12-01T17:00:00+07:00",
        "overdue_days": 0,
        "state_at": "2026-11-26T08:00:00+07:00",
        "emitted_at": "2026-11-26T08:00:01+07:00",
    }
    record = decode(json.dumps(value, ensure_ascii=False).encode())
    assert WebhookReceiver(server.url, timeout_s=5).send([Delivery(0, 3, 1, record, 0.0)]) == 1
    [(_, headers, body)] = server.requests
    assert headers["Idempotency-Key"] == "HS-1:at_risk:2026-12-01T17:00:00+07:00"
    assert json.loads(body) == value


def test_409_means_already_there(server: Server) -> None:
    server.status = 409
    record = alert()
    assert WebhookReceiver(server.url, timeout_s=5).send([Delivery(0, 7, 1, record, 0.0)]) == 1
    [(_, headers, body)] = server.requests
    assert headers["Idempotency-Key"] == record.alert_id
    assert json.loads(body) == record.to_json()
    assert post_json("webhook", server.url, b"{}", timeout_s=5, accepted=(409,)) == 409


@pytest.mark.parametrize("status", [400, 404, 429, 500, 503])
def test_other_statuses_are_failures_to_retry(server: Server, status: int) -> None:
    server.status = status
    with pytest.raises(DeliveryFailed, match=f"HTTP {status} from .*: nope"):
        WebhookReceiver(server.url, timeout_s=5).post(alert())


def test_an_unreachable_receiver_is_a_failure_to_retry(server: Server) -> None:
    url = server.url
    server.httpd.shutdown()
    server.httpd.server_close()
    with pytest.raises(DeliveryFailed, match="cannot reach"):
        post_json("webhook", url, b"{}", timeout_s=2)


def test_only_records_are_sent() -> None:
    receiver = WebhookReceiver("http://127.0.0.1:9/x", timeout_s=1)
    assert receiver.needs_sending(Delivery(0, 0, 1, alert(), 0.0))
    assert not receiver.needs_sending(Delivery(0, 0, 1, None, 0.0))


def test_keys_that_a_header_cannot_carry_are_percent_encoded() -> None:
    assert idempotency_key(alert("HS-1:overdue:2026")) == "HS-1:overdue:2026"
    assert idempotency_key(alert("HS-Đ:overdue")) == "HS-%C4%90:overdue"


def test_targets_never_show_paths_or_credentials() -> None:
    assert target_of("https://user:secret@hooks.example/path?token=x") == "hooks.example:443"
    assert target_of("http://127.0.0.1:9095") == "127.0.0.1:9095"
