"""A loopback SMTP server for idbridge's tests (aiosmtpd).

    server.py DIR [--port N] [--reject-rcpt] [--auth USER:PASSWORD]

Listens on 127.0.0.1 (port N, or one the system picks), prints "ready PORT" once
listening, and writes each message it accepts to DIR/NNNN.json: the envelope, the
headers the tests look at, the plain and HTML parts (decoded by Python's own MIME
parser, so the tests check idbridge's messages with a parser that is not lettre's)
and the raw message. A file appears whole (written, then renamed).

--reject-rcpt answers every RCPT TO with 550, a permanent refusal.
--auth asks for SMTP AUTH (PLAIN or LOGIN) with these credentials, over the plain
connection (loopback only).
"""

import argparse
import asyncio
import email
import email.policy
import json
import os
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Handler:
    def __init__(self, out_dir, reject_rcpt):
        self.out_dir = out_dir
        self.reject_rcpt = reject_rcpt
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject_rcpt:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)

        def part(kind):
            body = message.get_body(preferencelist=(kind,))
            return None if body is None else body.get_content()

        self.count += 1
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "authenticated": bool(session.authenticated),
            "from": str(message["From"]),
            "to": str(message["To"]),
            "subject": str(message["Subject"]),
            "message_id": str(message["Message-ID"]),
            "content_type": message.get_content_type(),
            "text": part("plain"),
            "html": part("html"),
            "raw": raw.decode("utf-8", "replace"),
        }
        path = os.path.join(self.out_dir, "%04d.json" % self.count)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 2.0.0 Message accepted for delivery"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok, handled=False)

    return check


async def main():
    # aiosmtpd warns of AUTH without TLS: deliberate here, on loopback.
    warnings.simplefilter("ignore")
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--reject-rcpt", action="store_true")
    parser.add_argument("--auth")
    args = parser.parse_args()
    handler = Handler(args.dir, args.reject_rcpt)
    options = {"hostname": "smtp.test"}
    if args.auth:
        user, password = args.auth.split(":", 1)
        options.update(
            authenticator=authenticator(user, password),
            auth_required=True,
            auth_require_tls=False,
        )
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, **options), host="127.0.0.1", port=args.port
    )
    print("ready %d" % server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
