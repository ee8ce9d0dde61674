import pytest

from tests import factories


@pytest.fixture
def warehouse_user(db):
    return factories.warehouse_user(username="warehouse")


@pytest.fixture
def service_user(db):
    return factories.service_user(username="service")


@pytest.fixture
def manager(db):
    return factories.manager_user(username="manager")
