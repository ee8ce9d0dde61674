from django.urls import reverse


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
