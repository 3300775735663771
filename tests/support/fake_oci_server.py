#!/usr/bin/env python3
"""A small fake of the OCI Vault and Secret Retrieval services, for tests/cloud.rs.

The real `oci` CLI is pointed at it with `--endpoint`/`OCI_CLI_ENDPOINT`; both services share
the one endpoint. Usage: fake_oci_server.py PORT LOG [PAGE_SIZE]

Implements, in camelCase JSON like the real services:
  POST /20180608/secrets                                   CreateSecret
  PUT  /20180608/secrets/{id}                              UpdateSecret (new content = new version)
  GET  /20180608/secrets?compartmentId&vaultId[&name][&lifecycleState][&limit][&page]
                                                           ListSecrets, paged with opc-next-page
  POST /20180608/secrets/{id}/actions/scheduleDeletion     ScheduleSecretDeletion
  POST /20180608/secrets/{id}/actions/cancelDeletion       CancelSecretDeletion
  POST /20190301/secretbundles/actions/getByName?secretName&vaultId
                                                           GetSecretBundleByName (current version)
  GET  /health                                             readiness probe (not an OCI endpoint)

Simplifications, on purpose: a new secret is answered as CREATING and is ACTIVE from the next
request on; cancelling a deletion makes the secret ACTIVE at once (the real service passes
through CANCELLING_DELETION); scheduled deletion never happens (the secret stays
PENDING_DELETION and keeps its name, as it does for 1-30 days in the real service); request
signatures are not verified, only recorded as present or not. A secret pending deletion has no
readable bundle (404 NotAuthorizedOrNotFound). Creating a name that any not-deleted secret of
the vault owns is 409 Conflict.

Every request is appended to LOG as one JSON line: method, path, query (name -> list of
values), body (parsed JSON, else the raw text, else null), signed (an Authorization header
starting with "Signature" was sent).
"""
import base64
import datetime
import json
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PORT = int(sys.argv[1])
LOG = sys.argv[2]
PAGE_SIZE = int(sys.argv[3]) if len(sys.argv) > 3 else 2

LOCK = threading.Lock()
SECRETS = {}  # id -> dict (camelCase, plus "versions": [base64 content, ...])
MAX_CONTENT = 25 * 1024


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+00:00"


def summary(s):
    return {k: v for k, v in s.items() if k != "versions"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body=None, headers=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("opc-request-id", uuid.uuid4().hex.upper())
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, code, message):
        self.send(status, {"code": code, "message": message})

    def not_found(self):
        self.error(404, "NotAuthorizedOrNotFound", "Authorization failed or requested resource not found.")

    def handle_any(self, method):
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        entry = {
            "method": method,
            "path": url.path,
            "query": query,
            "body": body,
            "signed": (self.headers.get("Authorization") or "").startswith("Signature"),
        }
        with LOCK:
            with open(LOG, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")
            self.route(method, url.path.rstrip("/").split("/")[1:], query, body)

    def route(self, method, parts, query, body):
        q = lambda k: (query.get(k) or [None])[0]  # noqa: E731
        if method == "GET" and parts == ["health"]:
            return self.send(200, {"ok": True})
        if parts[:2] == ["20180608", "secrets"]:
            rest = parts[2:]
            if method == "POST" and not rest:
                return self.create(body)
            if method == "GET" and not rest:
                return self.list(q)
            if method == "PUT" and len(rest) == 1:
                return self.update(rest[0], body)
            if method == "POST" and len(rest) == 3 and rest[1] == "actions":
                return self.action(rest[0], rest[2], body)
        if method == "POST" and parts == ["20190301", "secretbundles", "actions", "getByName"]:
            return self.get_by_name(q("secretName"), q("vaultId"))
        return self.error(404, "NotFound", "no such endpoint in the fake: %s /%s" % (method, "/".join(parts)))

    def mark_active(self):
        for s in SECRETS.values():
            if s["lifecycleState"] == "CREATING":
                s["lifecycleState"] = "ACTIVE"

    def content(self, body):
        c = (body or {}).get("secretContent") or {}
        if c.get("contentType") != "BASE64" or not isinstance(c.get("content"), str):
            return None, "secretContent must be {contentType: BASE64, content}"
        try:
            base64.b64decode(c["content"], validate=True)
        except ValueError:
            return None, "secretContent.content is not base64"
        if len(c["content"]) > MAX_CONTENT:
            return None, "secret content exceeds 25 KB"
        return c["content"], None

    def create(self, body):
        self.mark_active()
        body = body or {}
        for k in ("compartmentId", "vaultId", "keyId", "secretName"):
            if not body.get(k):
                return self.error(400, "InvalidParameter", "%s is required" % k)
        content, err = self.content(body)
        if err:
            return self.error(400, "InvalidParameter", err)
        name = body["secretName"]
        if not all(c.isascii() and (c.isalnum() or c in "-_.") for c in name):
            return self.error(400, "InvalidParameter", "Invalid secret name")
        for s in SECRETS.values():
            if s["vaultId"] == body["vaultId"] and s["secretName"] == name and s["lifecycleState"] != "DELETED":
                return self.error(409, "Conflict", "A secret with the name %s already exists in this vault." % name)
        sid = "ocid1.vaultsecret.oc1.iad.fake" + uuid.uuid4().hex
        s = {
            "id": sid,
            "compartmentId": body["compartmentId"],
            "vaultId": body["vaultId"],
            "keyId": body["keyId"],
            "secretName": name,
            "lifecycleState": "CREATING",
            "timeCreated": now(),
            "currentVersionNumber": 1,
            "versions": [content],
        }
        SECRETS[sid] = s
        return self.send(200, summary(s), {"etag": uuid.uuid4().hex})

    def update(self, sid, body):
        self.mark_active()
        s = SECRETS.get(sid)
        if s is None or s["lifecycleState"] == "DELETED":
            return self.not_found()
        if s["lifecycleState"] != "ACTIVE":
            return self.error(409, "IncorrectState", "The secret is in state %s." % s["lifecycleState"])
        content, err = self.content(body)
        if err:
            return self.error(400, "InvalidParameter", err)
        s["versions"].append(content)
        s["currentVersionNumber"] = len(s["versions"])
        return self.send(200, summary(s), {"etag": uuid.uuid4().hex})

    def list(self, q):
        self.mark_active()
        if not q("compartmentId"):
            return self.error(400, "MissingParameter", "compartmentId is required")
        found = [
            s
            for s in sorted(SECRETS.values(), key=lambda s: (s["timeCreated"], s["id"]))
            if s["compartmentId"] == q("compartmentId")
            and (q("vaultId") is None or s["vaultId"] == q("vaultId"))
            and (q("name") is None or s["secretName"] == q("name"))
            and (q("lifecycleState") is None or s["lifecycleState"] == q("lifecycleState"))
        ]
        start = int(q("page") or 0)
        size = int(q("limit") or PAGE_SIZE)
        page = found[start : start + size]
        headers = {}
        if start + size < len(found):
            headers["opc-next-page"] = str(start + size)
        return self.send(200, [summary(s) for s in page], headers)

    def action(self, sid, action, body):
        self.mark_active()
        s = SECRETS.get(sid)
        if s is None or s["lifecycleState"] == "DELETED":
            return self.not_found()
        if action == "scheduleDeletion":
            if s["lifecycleState"] != "ACTIVE":
                return self.error(409, "IncorrectState", "The secret is in state %s." % s["lifecycleState"])
            s["lifecycleState"] = "PENDING_DELETION"
            when = (body or {}).get("timeOfDeletion")
            if not when:
                when = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30)).isoformat()
            s["timeOfDeletion"] = when
            return self.send(200)
        if action == "cancelDeletion":
            if s["lifecycleState"] != "PENDING_DELETION":
                return self.error(409, "IncorrectState", "The secret is in state %s." % s["lifecycleState"])
            s["lifecycleState"] = "ACTIVE"
            s.pop("timeOfDeletion", None)
            return self.send(200)
        return self.error(404, "NotFound", "no such action in the fake: %s" % action)

    def get_by_name(self, name, vault_id):
        self.mark_active()
        if not name or not vault_id:
            return self.error(400, "MissingParameter", "secretName and vaultId are required")
        for s in SECRETS.values():
            if s["secretName"] == name and s["vaultId"] == vault_id and s["lifecycleState"] in ("ACTIVE", "UPDATING"):
                return self.send(
                    200,
                    {
                        "secretId": s["id"],
                        "versionNumber": s["currentVersionNumber"],
                        "versionName": None,
                        "stages": ["CURRENT", "LATEST"],
                        "timeCreated": s["timeCreated"],
                        "secretBundleContent": {"contentType": "BASE64", "content": s["versions"][-1]},
                        "metadata": None,
                    },
                )
        return self.not_found()

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
