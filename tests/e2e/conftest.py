"""Browser tests: Playwright (Python) driving Debian's Chromium against live_server.

Never `playwright install`: the browser is /usr/bin/chromium (or $CHROMIUM_PATH).
Where there is none the tests skip with that reason, except under E2E_REQUIRED=1
(set by .ci/run), where a missing browser is a failure.
"""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests
# make to set up data are ordinary blocking calls, which Django would otherwise refuse.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    """Mark the browser tests and run them last. Playwright's sync API keeps an event
    loop running in the test thread until the session ends, and under it Django's
    context-local connections are new objects without the test database's serialized
    contents, which serialized_rollback tests (the thread tests) restore from."""
    def is_browser_test(item):
        return "tests/e2e/" in str(item.fspath).replace(os.sep, "/")

    for item in filter(is_browser_test, items):
        item.add_marker(pytest.mark.e2e)
    items.sort(key=is_browser_test)  # stable: the order within each group is kept


@pytest.fixture(autouse=True)
def workflow_defaults(transactional_db):
    """live_server needs committed data, so each browser test flushes the database
    afterwards, taking with it what the data migrations loaded (the roles, the
    default checklist, the target times, the carriers). Load them again, as the
    migrations do."""
    from importlib import import_module

    from django.apps import apps

    import_module("orders.migrations.0002_roles_and_checklist").load_defaults(apps, None)
    import_module("shipping.migrations.0006_stores_carriers").load_carriers(apps, None)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("E2E_REQUIRED") == "1":
            pytest.fail(f"E2E_REQUIRED=1 but no Chromium at {CHROMIUM}")
        pytest.skip(f"no Chromium at {CHROMIUM} (install Debian's chromium package)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def login(page):
    def login_as(user, password="pass-1234"):
        page.goto("/admin/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", password)
        page.keyboard.press("Enter")
        page.wait_for_url("**/admin/")
        return page

    return login_as


@pytest.fixture
def screenshot(page, request):
    """Call at the end of a test: saves test-artifacts/<test name>.png."""

    def save(name=None):
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name or request.node.name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save
