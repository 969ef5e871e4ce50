import os
import socket

from celery import shared_task


@shared_task(name="portal.echo")
def echo_task(payload: str) -> dict:
    """Answer with the payload and where it ran: proves the broker and result store work."""
    return {"echo": payload, "pid": os.getpid(), "host": socket.gethostname()}
