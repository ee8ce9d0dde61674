import pytest

from tests import factories


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # The default hasher takes a noticeable fraction of a second per user created.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def warehouse_user(db):
    return factories.warehouse_user(username="warehouse")


@pytest.fixture
def service_user(db):
    return factories.service_user(username="service")


@pytest.fixture
def manager(db):
    return factories.manager_user(username="manager")
