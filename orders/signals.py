"""What other apps may hook into, so that orders never imports them.

`order_status_changed` is sent by the services inside the transaction that moves an
order, after the order row is locked and its new status saved: a receiver may write
(the shipping app moves the order's shipments along) and a refusal it raises rolls
the whole transition back. Receivers lock further rows only after the order (the lock
order of docs/architecture.md).
"""

from django.dispatch import Signal

# Sent with order=, old_status=, new_status=, actor=.
order_status_changed = Signal()
