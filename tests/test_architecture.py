"""The direction of imports between the apps (docs/architecture.md):

    common  ←  reports  ←  inventory  ←  orders  ←  shipping  ←  demo

A module may import its own app and the apps to its left, never one to its right,
not even inside a function, and never the project package; a selectors module reads
and never imports services. The checks read the source (every import statement, at
any depth, and apps.get_model("label", ...) calls), so a function-level import is
caught as surely as one at the top.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["common", "reports", "inventory", "orders", "shipping", "demo"]
PROJECT = "fulfilment_site"


def imported_apps(source, *, module):
    """(line, imported top-level name, imported dotted module) for each import in
    `source`, a module of the package `module` (dotted), relative imports resolved."""
    found = []
    package = module.split(".")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((node.lineno, alias.name.split(".")[0], alias.name))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level]
                dotted = ".".join([*base, *([node.module] if node.module else [])])
            else:
                dotted = node.module or ""
            for name in [f"{dotted}.{alias.name}" for alias in node.names]:
                found.append((node.lineno, name.split(".")[0], name))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get_model"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            label = node.args[0].value.split(".")[0]
            found.append((node.lineno, label, label))
    return found


def violations(source, *, module):
    """What breaks the rules in the source of `module` (dotted, e.g. orders.services)."""
    app = module.split(".")[0]
    level = LAYERS.index(app)
    problems = []
    for line, top, dotted in imported_apps(source, module=module):
        if top == PROJECT:
            problems.append(f"{module}:{line} imports the project package {dotted}")
        elif top in LAYERS and LAYERS.index(top) > level:
            problems.append(f"{module}:{line} imports {dotted}, an app above {app}")
        if module.split(".")[-1] == "selectors" and "services" in dotted.split(".")[1:]:
            problems.append(f"{module}:{line} (a selectors module) imports {dotted}")
    return problems


def app_modules():
    for app in LAYERS:
        for path in sorted((ROOT / app).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
                dotted = ".".join(parts) + ".__init__"
            else:
                dotted = ".".join(parts)
            yield path, dotted


def test_no_app_imports_an_app_above_it_or_the_project():
    problems = []
    for path, module in app_modules():
        problems += violations(path.read_text(encoding="utf-8"), module=module)
    assert not problems, "\n".join(problems)


def test_every_app_is_in_the_layers():
    apps = {path.parent.name for path in ROOT.glob("*/apps.py")}
    assert apps == set(LAYERS)


@pytest.mark.parametrize(
    "module, source",
    [
        ("orders.services", "def f():\n    from shipping import services\n"),
        ("orders.admin.orders", "from shipping.models import Carrier\n"),
        ("inventory.models", "import orders.models\n"),
        ("reports.exporting", "from inventory.models import Product\n"),
        ("common.permissions", "from reports import registry\n"),
        ("orders.checklist", "from fulfilment_site import settings\n"),
        ("orders.selectors", "from .services import step_passed\n"),
        ("shipping.selectors", "from orders import services\n"),
        ("orders.dashboard", "from django.apps import apps\nShipment = apps.get_model('shipping', 'Shipment')\n"),
        ("orders.admin.packing", "from ...shipping import models\n"),
    ],
)
def test_the_check_catches_an_import_against_the_direction(module, source):
    assert violations(source, module=module)


@pytest.mark.parametrize(
    "module, source",
    [
        ("shipping.services", "from orders.services import event_add\nfrom inventory import services\n"),
        ("orders.admin.orders", "from ..selectors import order_for_page\nfrom . import filters\n"),
        ("orders.services", "from .selectors import customer_lookup\nfrom django.db import transaction\n"),
        ("reports.filters", "from common.permissions import has_permission\n"),
    ],
)
def test_the_check_allows_imports_along_the_direction(module, source):
    assert violations(source, module=module) == []
