"""The demo's sample delivery report (seed_demo writes it): it imports cleanly, moves
its orders on and lists its one unknown number."""

from io import StringIO

import pytest
from django.core.management import call_command

from orders.models import Order, OrderStatus
from reports.imports import run_import

pytestmark = pytest.mark.django_db


def test_the_demo_delivery_report_imports_and_completes_its_orders(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    out = StringIO()
    call_command("seed_demo", "--orders", "9", stdout=out)
    path = tmp_path / "demo" / "delivery-report.csv"
    assert str(path) in out.getvalue()
    shipped = Order.objects.filter(status=OrderStatus.SHIPPED).count()
    with path.open("rb") as file:
        report = run_import("deliveries", file, actor=None, dry_run=False)
    assert report.written and not report.errors and report.created
    assert [section.lines for section in report.sections if section.key == "unknown"][0][0].startswith(
        "row %s, 9999999999999" % (len(report.created) + len(report.skipped) + 2)
    )
    assert Order.objects.filter(status=OrderStatus.SHIPPED).count() < shipped
