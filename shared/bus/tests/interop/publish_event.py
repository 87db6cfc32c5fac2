"""Builds an auth.user.registered.v1 event with the CloudEvents SDK and publishes it
with pika, in structured mode, as any other producer could.

Usage: python3 publish_event.py AMQP_URL EXCHANGE

Prints {"id": ..., "email": ...} on stdout once the broker confirmed the message.
"""

import json
import sys
import uuid
from datetime import datetime, timezone

import pika
from cloudevents.core.bindings import rabbitmq
from cloudevents.core.v1.event import CloudEvent

EVENT_TYPE = "auth.user.registered.v1"


def main():
    amqp_url, exchange = sys.argv[1], sys.argv[2]
    user_id = str(uuid.uuid4())
    email = f"{user_id}@python.example.org"
    event = CloudEvent(
        attributes={
            "type": EVENT_TYPE,
            "source": "/interop/python",
            "subject": user_id,
            "datacontenttype": "application/json",
            "correlationid": "python-interop",
        },
        data={
            "user_id": user_id,
            "email": email,
            "display_name": "Grace from Python",
            "registered_at": datetime.now(timezone.utc).isoformat(),
        },
    )
    message = rabbitmq.to_structured_event(event)
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(
            exchange=exchange,
            routing_key=EVENT_TYPE,
            body=message.body,
            properties=pika.BasicProperties(
                content_type=message.content_type,
                headers=message.headers,
                delivery_mode=pika.DeliveryMode.Persistent,
                message_id=event.get_id(),
            ),
            mandatory=True,
        )
    finally:
        connection.close()
    print(json.dumps({"id": event.get_id(), "email": email}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
