"""An SMTP server for the notifier's tests: accepts every message on 127.0.0.1:PORT
and appends it to OUT as one JSON line, parsed by Python's own e-mail package (an
implementation independent of the notifier's): envelope, headers, and the plain
text and HTML parts. Prints "ready" once it accepts connections; runs until killed.

Usage: python3 sink.py PORT OUT
"""

import email
import email.policy
import json
import os
import sys
import threading

from aiosmtpd.controller import Controller


class Recorder:
    def __init__(self, out_path):
        self.out_path = out_path
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(message["From"]),
            "to": str(message["To"]),
            "subject": str(message["Subject"]),
            "message_id": str(message["Message-ID"]),
            "date": str(message["Date"]),
            "list_unsubscribe": str(message["List-Unsubscribe"]),
            "list_unsubscribe_post": str(message["List-Unsubscribe-Post"]),
            "content_type": message.get_content_type(),
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
        }
        line = (json.dumps(record) + "\n").encode("utf-8")
        # One write(2) on an O_APPEND descriptor per record, so that being killed
        # (an outage in a test) never leaves half a line for the next record to
        # continue; readers skip a last line that has no newline yet.
        with self.lock:
            descriptor = os.open(self.out_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(descriptor, line)
            finally:
                os.close(descriptor)
        return "250 OK"


def main():
    port, out_path = int(sys.argv[1]), sys.argv[2]
    controller = Controller(Recorder(out_path), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
