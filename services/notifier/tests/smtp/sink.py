"""An SMTP server for the notifier's tests: accepts every message on 127.0.0.1:PORT
and appends it to OUT as one JSON line, parsed by Python's own e-mail package (an
implementation independent of the notifier's): envelope, headers, the plain text
and HTML parts, whether the connection was encrypted and who logged in. Prints
"ready" once it accepts connections; runs until killed.

With --tls it serves a certificate for localhost and 127.0.0.1 from a certificate
authority made for the run (trustme), whose certificate it writes to --ca-out, and
accepts mail only after a login as --login/--password: over STARTTLS (`starttls`,
which it requires before MAIL and before AUTH) or over TLS from the first byte
(`implicit`).

Usage: python3 sink.py PORT OUT [--tls starttls|implicit --ca-out PATH --login USER --password PASSWORD]
"""

import argparse
import email
import email.policy
import json
import logging
import os
import ssl
import threading
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


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
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "login": session.auth_data.login.decode() if session.authenticated else None,
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


class Accounts:
    """Accepts exactly one login and password."""

    def __init__(self, login, password):
        self.login, self.password = login.encode(), password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        accepted = (auth_data.login, auth_data.password) == (self.login, self.password)
        return AuthResult(success=accepted, auth_data=auth_data)


def main():
    # aiosmtpd 1.4 warns of its own deprecated Session.login_data on every login,
    # and of settings chosen deliberately here; its errors still show.
    warnings.filterwarnings("ignore", message="Session.login_data is deprecated")
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("out")
    parser.add_argument("--tls", choices=["starttls", "implicit"])
    parser.add_argument("--ca-out")
    parser.add_argument("--login")
    parser.add_argument("--password")
    arguments = parser.parse_args()

    options = {}
    if arguments.tls:
        import trustme

        authority = trustme.CA()
        authority.cert_pem.write_to_path(arguments.ca_out)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        authority.issue_cert("localhost", "127.0.0.1").configure_cert(context)
        options["authenticator"] = Accounts(arguments.login, arguments.password)
        options["auth_required"] = True
        if arguments.tls == "starttls":
            options.update(tls_context=context, require_starttls=True, auth_require_tls=True)
        else:
            # aiosmtpd counts only STARTTLS as encryption for auth_require_tls (and
            # warns when it is off); here every byte is encrypted already.
            warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
            options.update(ssl_context=context, auth_require_tls=False)

    recorder = Recorder(arguments.out)
    controller = Controller(recorder, hostname="127.0.0.1", port=arguments.port, **options)
    controller.start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
