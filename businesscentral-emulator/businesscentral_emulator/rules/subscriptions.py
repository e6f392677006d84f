"""Webhook subscriptions (`api/v2.0/subscriptions`): the fields BC fills in.

Microsoft Learn, "Working with Webhooks in Dynamics 365 Business Central"
(api-reference/v2.0/dynamics-subscriptions) and dynamics_subscription_update: "A subscription is
valid for 3 days unless it is updated." A real answer to a POST (rebelpl/bc-api2-client
tests/files/subscription.json, copied to tests/fixtures/bc-api/responses/subscription.json): a
`subscriptionId` of 32 hexadecimal digits, `expirationDateTime` three days after
`lastModifiedDateTime`, `systemCreatedAt`/`systemModifiedAt` set.

Not modelled: the handshake (BC calls `notificationUrl?validationToken=...` on create and on
renew and creates the subscription only when the token comes back with 200; the emulator calls
no one, and BC's error for a failed handshake is unconfirmed), and the notifications themselves.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from businesscentral_emulator.odata.values import format_datetime

SET = "subscriptions"
LIFETIME = dt.timedelta(days=3)


def _stamps(now: dt.datetime) -> dict[str, Any]:
    stamp = format_datetime(now)
    return {
        "lastModifiedDateTime": stamp,
        "systemModifiedAt": stamp,
        "expirationDateTime": format_datetime(now + LIFETIME),
    }


def on_insert(set_name: str, row: dict[str, Any]) -> None:
    """A new subscription: its id, its creation stamps and its expiry three days on."""
    if set_name != SET:
        return
    now = dt.datetime.now(dt.timezone.utc)
    if not row.get("subscriptionId"):
        row["subscriptionId"] = uuid.uuid4().hex
    row.update(_stamps(now))
    row["systemCreatedAt"] = row["systemModifiedAt"]


def on_update(set_name: str, row: dict[str, Any]) -> None:
    """A PATCH renews the subscription for three more days."""
    if set_name == SET:
        row.update(_stamps(dt.datetime.now(dt.timezone.utc)))
