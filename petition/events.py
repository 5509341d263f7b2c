"""What happened, for whoever needs to know: blinker signals the services send and the
areas subscribe to in their own modules, so the service that confirms a signature does not
import every area that cares (counters, mail notices, milestones, a future webhook).

    signature_confirmed   a signer confirmed their address      sender: the kind of signer
    signature_withdrawn   a signer withdrew (every row is gone) sender: the kind of signer
    delivery_logged       an entry of a letter's delivery log   sender: the entry's kind
    milestone_reached     a letter's count reached its goal     sender: none

The kind of signer is "individual" or "organisation"; a delivery log entry is "delivered",
"acknowledged" or "responded". Subscribe to one kind with `connect_via(kind)`, to all with
`connect`. Every signal carries `session`, `letter_id` and the id of what it is about
(`signer_id`, `delivery_id`, `entry_id`, `milestone_id`) and nothing else: no name, no address, no text a
person typed, so a subscriber that needs more reads it, under the rules of its area.

Transactions: a signal is sent inside the service's transaction, after its change, before
the caller commits. A subscriber that writes does so in `session`, so its writes commit or
roll back with the change (queueing mail or a job is such a write); one that acts outside
the database (forgetting a cached count) must be harmless if the transaction then rolls
back. Only side effects with these semantics belong behind a signal: a count that must be
written in the same statement as the confirmation (signing.services.confirm on
PostgreSQL) stays in the service.
"""
from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

signature_confirmed = _signals.signal("signature-confirmed")
signature_withdrawn = _signals.signal("signature-withdrawn")
delivery_logged = _signals.signal("delivery-logged")
milestone_reached = _signals.signal("milestone-reached")

INDIVIDUAL = "individual"
ORGANISATION = "organisation"
