import pytest
from django.urls import reverse

from tests.utils import ON_POSTGRESQL


def header_links(client, user):
    client.force_login(user)
    return client.get(reverse("admin:index")).content.decode()


def test_warehouse_staff_get_the_lookup_and_the_packing_station_in_the_header(client, warehouse_user):
    html = header_links(client, warehouse_user)
    assert reverse("admin:orders_order_lookup") in html
    assert reverse("admin:orders_order_packing_station") in html


def test_customer_service_gets_the_lookup_but_not_the_packing_station(client, service_user):
    html = header_links(client, service_user)
    assert reverse("admin:orders_order_lookup") in html
    assert reverse("admin:orders_order_packing_station") not in html


def test_staff_switch_the_language_and_stay_on_their_page(client, service_user):
    client.force_login(service_user)
    page = reverse("admin:orders_order_changelist")
    response = client.post(reverse("set_language"), {"language": "zh-hant", "next": page})
    assert response.status_code == 302 and response["Location"] == page
    assert client.get(page).headers["Content-Language"] == "zh-hant"


def test_the_root_url_leads_to_the_admin(client):
    assert client.get("/")["Location"] == reverse("admin:index")


def test_email_url_configures_the_mail_server():
    import subprocess
    import sys

    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='fulfilment_site.settings'; django.setup();"
        "from django.conf import settings as s;"
        "print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_USE_TLS, s.EMAIL_HOST_USER)"
    )
    env = {"EMAIL_URL": "smtp://mailer:secret@mail.example.com:587/?tls=True", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [
        "django.core.mail.backends.smtp.EmailBackend",
        "mail.example.com",
        "587",
        "True",
        "mailer",
    ]


# --- database connections -------------------------------------------------------------------------------


def test_kept_database_connections_are_health_checked():
    from django.conf import settings

    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True


def wsgi_get(client, path):
    """GET `path` as gunicorn does: through the WSGI handler, whose request_started and
    request_finished signals run close_old_connections (the test client disconnects it)."""
    from django.core.handlers.wsgi import WSGIHandler

    started = []
    environ = client._base_environ(PATH_INFO=path, REQUEST_METHOD="GET")  # carries the session cookie
    response = WSGIHandler()(environ, lambda status, headers, exc_info=None: started.append(status))
    try:
        b"".join(response)
    finally:
        response.close()
    return started[0]


@pytest.mark.skipif(not ON_POSTGRESQL, reason="SQLite has no server that could drop the connection")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_request_after_the_server_dropped_the_connection_succeeds(client, monkeypatch, service_user):
    from django.db import connection, connections

    # A connection kept between requests, as in production (CONN_MAX_AGE > 0).
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 600)
    connection.close()
    client.force_login(service_user)  # connects again, with the kept-connection settings
    assert wsgi_get(client, reverse("admin:index")).startswith("200")
    assert connection.connection is not None  # kept after the request
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        [pid] = cursor.fetchone()

    # The server ends that backend (a restart, a failover, an idle timeout would too).
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
            assert cursor.fetchone() == (True,)
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
            assert cursor.fetchone() == (0,)
    finally:
        other.close()

    # The next request on this worker notices the dead connection and opens a new one.
    assert wsgi_get(client, reverse("admin:orders_order_changelist")).startswith("200")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid


@pytest.mark.skipif(not ON_POSTGRESQL, reason="JIT compilation is PostgreSQL's")
@pytest.mark.django_db
def test_postgresql_connections_compile_no_jit():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)
