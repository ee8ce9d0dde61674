"""Races about a pickup store, with real threads and transactions (PostgreSQL): the
store's chain corrected while a parcel is booked with the old chain's carrier. Both
lock the order first, so one waits for the other and sees what it did: never a
shipment whose carrier does not deliver to the order's store."""

import pytest

from orders import services
from orders.exceptions import WorkflowError
from orders.models import Order
from shipping.exceptions import ShippingError
from shipping.models import Carrier
from shipping.services import shipment_create
from tests.factories import OrderFactory, service_user, warehouse_user
from tests.utils import race, requires_postgresql

# serialized_rollback: the roles, the checklist and the carriers come from data migrations.
pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_changing_the_chain_while_booking_with_the_old_chains_carrier_lets_one_through():
    packer, agent = warehouse_user(), service_user()
    seven = Carrier.objects.get(code="SEVEN")
    for attempt in range(6):
        order = OrderFactory(packed=True, delivery_method="store_pickup", number=f"SO-RACE-{attempt}")
        outcomes = race(
            lambda: shipment_create(order=order, carrier=seven, tracking_number=f"F{attempt:011d}", actor=packer),
            lambda: services.order_correct_address(
                order=order, actor=agent, pickup_chain="familymart", pickup_store_code="013579",
                pickup_store_name="台中公益店",
            ),
        )
        kinds = [kind for kind, _value in outcomes]
        assert sorted(kinds) == ["error", "ok"], outcomes
        order = Order.objects.get(pk=order.pk)
        live = list(order.shipments.exclude(status="cancelled").select_related("carrier"))
        if kinds[0] == "ok":  # booked first: the correction saw the parcel and was refused
            assert isinstance(outcomes[1][1], WorkflowError) and "void that shipment" in str(outcomes[1][1])
            assert order.pickup_chain == "7-eleven" and [s.carrier for s in live] == [seven]
        else:  # corrected first: the booking saw the new chain and was refused
            assert isinstance(outcomes[0][1], ShippingError) and "FamilyMart" in str(outcomes[0][1])
            assert order.pickup_chain == "familymart" and live == []
        assert all(shipment.carrier.serves(order) for shipment in live)
