"""axe-core's WCAG rules, as every browser test runs them (the axe-playwright-python
package: axe's script comes with it, nothing is downloaded)."""

from axe_playwright_python.sync_playwright import Axe

WCAG_2_A_AA = ["wcag2a", "wcag2aa"]
WCAG_21_A_AA = [*WCAG_2_A_AA, "wcag21a", "wcag21aa"]


def axe_results(page, *, context=None, tags=WCAG_2_A_AA):
    return Axe().run(page, context=context, options={"runOnly": {"type": "tag", "values": list(tags)}})


def assert_accessible(page, *, context=None, tags=WCAG_2_A_AA):
    """No violation of axe's rules with `tags` on the page (or its `context`); the
    failure prints axe's report."""
    results = axe_results(page, context=context, tags=tags)
    assert results.violations_count == 0, results.generate_report()
