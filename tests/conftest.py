import pytest
from django.utils import translation

from tests import factories
from tests.utils import assert_ledger_balances

# Requesting any of these gives a test the database (as does the django_db marker).
DATABASE_FIXTURES = {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback", "live_server"}


CALL_REPORT = pytest.StashKey()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each test's own outcome, for _ledger_balances to read at teardown."""
    report = yield
    if report.when == "call":
        item.stash[CALL_REPORT] = report
    return report


def uses_database(request):
    return request.node.get_closest_marker("django_db") is not None or bool(DATABASE_FIXTURES & set(request.fixturenames))


@pytest.fixture(autouse=True)
def _ledger_balances(request):
    """After every test that uses the database and passed, each StockLevel equals
    the sum of its StockMovements (tests.utils.ledger_mismatches); otherwise the test
    errors at teardown, listing the rows. A test marked ledger_unbalanced, which
    writes an unbalanced ledger on purpose, is not checked."""
    if not uses_database(request) or request.node.get_closest_marker("ledger_unbalanced"):
        yield
        return
    # The database is set up before this fixture, so that it is rolled back (or
    # flushed) only after the check below has read what the test left.
    request.getfixturevalue("db")
    yield
    report = request.node.stash.get(CALL_REPORT, None)
    if report is not None and report.passed:  # a failed test has said what went wrong
        assert_ledger_balances()


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language. The locale middleware activates the
    request's language in the thread and nothing deactivates it after the response,
    so a test requesting a page in zh-Hant would leave the next one's messages in
    Chinese."""
    yield
    translation.deactivate()


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
