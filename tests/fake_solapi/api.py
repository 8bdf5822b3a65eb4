"""What the fake SOLAPI answers, in memory: sends, lookups, scripted stalls and failures.

Response shapes are those the SDK's pydantic models validate (`SendMessageResponse`,
`GroupMessageResponse`, `GetMessagesResponse`, `solapi.model.response.message.Message`)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

_AUTH = re.compile(r"^HMAC-SHA256 ApiKey=(?P<key>[^,]+), Date=(?P<date>[^,]+), salt=(?P<salt>[^,]+), "
                   r"signature=(?P<signature>[0-9a-f]+)$")
PROGRESSION = ("2000", "3000")


@dataclass
class Stored:
    message_id: str
    to: str
    sender: str
    text: str
    type: str
    created: datetime
    status_code: str = "2000"
    answered_late: bool = False


def _id(prefix: str) -> str:
    return prefix + secrets.token_hex(12).upper()


def _group(group_id: str, count: int, failed: int) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    cash = {"requested": 0, "replacement": 0, "refund": 0, "sum": 0}
    return {
        "count": {"total": count, "sentTotal": 0, "sentSuccess": 0, "sentPending": 0, "sentReplacement": 0,
                  "refund": 0, "registeredFailed": failed, "registeredSuccess": count - failed},
        "countForCharge": {}, "balance": cash, "point": cash, "app": {"profit": {}, "appId": None}, "log": [],
        "status": "SENDING", "allowDuplicates": False, "isRefunded": False, "accountId": "FAKEACCOUNT",
        "masterAccountId": None, "apiVersion": "4", "groupId": group_id, "price": {}, "dateCreated": now,
        "dateUpdated": now,
    }


class FakeSolapiApi:
    def __init__(self, *, registered_senders: set[str]) -> None:
        self.api_key, self.api_secret = _id("NCS"), secrets.token_hex(16)
        self.registered_senders = registered_senders
        self.final_codes: dict[str, str] = {}
        self._lock = threading.Lock()
        self._messages: dict[str, Stored] = {}
        self._scripts: list[dict[str, Any]] = []

    def stored(self) -> list[Stored]:
        with self._lock:
            return list(self._messages.values())

    def script(self, kind: str, *, times: int, **details: Any) -> None:
        with self._lock:
            self._scripts.append({"kind": kind, "times": times, **details})

    def _next_script(self) -> dict[str, Any] | None:
        with self._lock:
            for script in self._scripts:
                if script["times"] > 0:
                    script["times"] -= 1
                    return script
        return None

    def _authorized(self, header: str) -> bool:
        match = _AUTH.match(header)
        if not match or match["key"] != self.api_key:
            return False
        expected = hmac.new(self.api_secret.encode(), (match["date"] + match["salt"]).encode(), hashlib.sha256)
        return hmac.compare_digest(expected.hexdigest(), match["signature"])

    def handle(self, method: str, path: str, query: dict, body: dict, authorization: str) -> tuple[int, dict, float]:
        if not self._authorized(authorization):
            return 401, {"errorCode": "SignatureDoesNotMatch", "errorMessage": "signature does not match"}, 0.0
        if method == "POST" and path == "/messages/v4/send-many/detail":
            return self._send(body)
        if method == "GET" and path == "/messages/v4/list-old":
            return 200, self._list(query), 0.0
        return 404, {"errorCode": "NotFound", "errorMessage": f"{method} {path}"}, 0.0

    def _send(self, body: dict) -> tuple[int, dict, float]:
        script = self._next_script()
        if script and script["kind"] == "fail":
            return script["status"], {"errorCode": script["error_code"], "errorMessage": "scripted failure"}, 0.0
        group_id, accepted, failed = _id("G4V"), [], []
        for message in body.get("messages", []):
            message_id = _id("M4V")
            if message.get("from") not in self.registered_senders:
                failed.append({"to": message.get("to"), "from": message.get("from"), "type": message.get("type", "SMS"),
                               "statusMessage": "발신번호 미등록", "country": "82", "messageId": message_id,
                               "statusCode": "1062", "accountId": "FAKEACCOUNT"})
                continue
            late = bool(script and script["kind"] == "late")
            if late and not script["stored"]:
                continue
            stored = Stored(message_id, message["to"], message["from"], message.get("text", ""),
                            message.get("type") or "SMS", datetime.now(UTC), answered_late=late)
            with self._lock:
                self._messages[message_id] = stored
            accepted.append({"messageId": message_id, "statusCode": "2000", "statusMessage": "정상 접수"})
        reply = {"groupInfo": _group(group_id, len(body.get("messages", [])), len(failed)),
                 "messageList": accepted, "failedMessageList": failed}
        return 200, reply, float(script["seconds"]) if script and script["kind"] == "late" else 0.0

    def _list(self, query: dict) -> dict:
        with self._lock:
            messages = list(self._messages.values())
        if query.get("messageId"):
            messages = [m for m in messages if m.message_id == query["messageId"]]
            for message in messages:  # one step along its progression per lookup by id
                self._advance(message)
        if query.get("to"):
            messages = [m for m in messages if m.to == query["to"]]
        if query.get("startDate"):
            since = datetime.fromisoformat(query["startDate"].replace("Z", "+00:00"))
            messages = [m for m in messages if m.created >= since]
        messages.sort(key=lambda m: m.created, reverse=True)
        limit = int(query.get("limit") or 20)
        start = int(query.get("startKey") or 0)
        page = messages[start:start + limit]
        next_key = str(start + limit) if start + limit < len(messages) else None
        return {"limit": limit, "startKey": query.get("startKey"), "nextKey": next_key, "messageList": {
            m.message_id: {"to": m.to, "from": m.sender, "text": m.text, "type": m.type, "messageId": m.message_id,
                           "statusCode": m.status_code, "dateCreated": m.created.isoformat(),
                           "dateUpdated": m.created.isoformat(), "country": "82"}
            for m in page}}

    def _advance(self, message: Stored) -> None:
        with self._lock:
            if message.status_code in PROGRESSION:
                following = PROGRESSION.index(message.status_code) + 1
                message.status_code = (PROGRESSION[following] if following < len(PROGRESSION)
                                       else self.final_codes.get(message.to, "4000"))
