"""Reads one message from a queue with pika and parses it with the CloudEvents SDK.

Usage: python3 read_event.py AMQP_URL QUEUE

Prints the event as the SDK understood it, one JSON object on stdout. Exits 2 when
the queue is empty, 1 when the SDK cannot parse the message.
"""

import json
import sys

import pika
from cloudevents.core.bindings import rabbitmq


def header_text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def main():
    amqp_url, queue = sys.argv[1], sys.argv[2]
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            print(f"queue {queue} is empty", file=sys.stderr)
            return 2
        message = rabbitmq.RabbitMQMessage(
            headers={name: header_text(value) for name, value in (properties.headers or {}).items()},
            content_type=properties.content_type,
            body=body,
        )
        event = rabbitmq.from_rabbitmq_event(message)
    finally:
        connection.close()
    time = event.get_time()
    print(
        json.dumps(
            {
                "content_type": properties.content_type,
                "specversion": event.get_specversion(),
                "id": event.get_id(),
                "source": event.get_source(),
                "type": event.get_type(),
                "subject": event.get_subject(),
                "time": time.isoformat() if time else None,
                "datacontenttype": event.get_datacontenttype(),
                "traceparent": event.get_extension("traceparent"),
                "correlationid": event.get_extension("correlationid"),
                "data": event.get_data(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
