"""Verifies one webhook call with the Standard Webhooks reference library.

Reads {"secret": "whsec_...", "headers": {...}, "body": "..."} from standard input;
prints the verified payload as JSON and exits 0, or prints why and exits 1.
"""

import json
import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main():
    call = json.load(sys.stdin)
    try:
        payload = Webhook(call["secret"]).verify(call["body"], call["headers"])
    except WebhookVerificationError as error:
        print(f"invalid: {error}")
        sys.exit(1)
    print(json.dumps(payload))


if __name__ == "__main__":
    main()
