import os
import socket

from celery import shared_task
from django.contrib.auth import get_user_model

from portal import services
from portal.models import Membership


@shared_task(name="portal.echo")
def echo_task(payload: str) -> dict:
    """Answer with the payload and where it ran: proves the broker and result store work."""
    return {"echo": payload, "pid": os.getpid(), "host": socket.gethostname()}


@shared_task(
    name="portal.membership_invitation_send",
    ignore_result=True,
    autoretry_for=(OSError,),  # a mail server that is briefly away
    retry_backoff=True,
    max_retries=5,
)
def membership_invitation_send_task(membership_id: int, invited_by_id: int | None = None) -> None:
    """E-mail a new member their invitation."""
    memberships = Membership.objects.select_related("user", "organization")
    membership = memberships.filter(pk=membership_id).first()
    if membership is None:
        return  # removed again before the mail went out
    invited_by = get_user_model().objects.filter(pk=invited_by_id).first()
    services.invitation_send(membership=membership, invited_by=invited_by)
