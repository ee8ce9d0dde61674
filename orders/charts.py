"""Charts drawn on the server as inline SVG.

No JavaScript library and nothing fetched from another site: the page works offline
and behind a strict content policy. Each chart is one image for assistive technology
(role="img", named by its <title> and described by its <desc>); the figures it
draws are on the page as a table too. Colours come from CSS classes (see
orders/dashboard.css), so the light and dark admin themes both apply.
"""

from dataclasses import dataclass
from math import ceil

from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext

WIDTH, HEIGHT = 960, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 32
# More date labels than this under the bars would overlap.
MAX_X_LABELS = 16


@dataclass(frozen=True)
class Series:
    label: str
    values: list
    css_class: str


def nice_step(maximum, ticks=5):
    """The gridline step (1, 2 or 5 × 10ⁿ) that reaches `maximum` in at most `ticks` steps."""
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            if factor * magnitude * ticks >= maximum:
                return factor * magnitude
        magnitude *= 10


def _number(value):
    return f"{value:.1f}".rstrip("0").rstrip(".")


def bar_chart(*, chart_id, title, description, categories, series, axis_labels=None):
    """Bars side by side for each category (a day, say), one colour per series.

    `categories`: what each group of bars is (shown when pointing at a bar);
    `axis_labels`: shorter labels under the bars (default: the categories);
    `series`: Series whose values are counts, one per category. Returns safe HTML
    (an <svg> element).
    """
    axis_labels = categories if axis_labels is None else axis_labels
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    highest = max((value for s in series for value in s.values), default=0)
    step = nice_step(highest)
    top = step * max(ceil(highest / step), 1)
    slot = plot_width / max(len(categories), 1)
    bar = slot * 0.8 / max(len(series), 1)

    def y(value):
        return TOP + plot_height - value / top * plot_height

    grid = format_html_join(
        "",
        '<line class="chart__grid" x1="{}" x2="{}" y1="{}" y2="{}"></line>'
        '<text class="chart__tick" x="{}" y="{}" text-anchor="end">{}</text>',
        (
            (LEFT, WIDTH - RIGHT, _number(y(value)), _number(y(value)), LEFT - 6, _number(y(value) + 4), value)
            for value in range(0, top + 1, step)
        ),
    )
    bars = format_html_join(
        "",
        '<rect class="{}" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>',
        (
            (
                s.css_class,
                _number(LEFT + index * slot + slot * 0.1 + position * bar),
                _number(y(value)),
                _number(bar),
                _number(TOP + plot_height - y(value)),
                gettext("%(category)s, %(series)s: %(value)s")
                % {"category": category, "series": s.label, "value": value},
            )
            for position, s in enumerate(series)
            for index, (category, value) in enumerate(zip(categories, s.values))
            if value
        ),
    )
    every = ceil(len(categories) / MAX_X_LABELS) or 1
    labels = format_html_join(
        "",
        '<text class="chart__label" x="{}" y="{}" text-anchor="middle">{}</text>',
        (
            (_number(LEFT + index * slot + slot / 2), HEIGHT - BOTTOM + 18, label)
            for index, label in enumerate(axis_labels)
            if index % every == 0
        ),
    )
    return format_html(
        '<svg class="chart" id="{id}" role="img" aria-labelledby="{id}-title {id}-desc" '
        'viewBox="0 0 {width} {height}" preserveAspectRatio="xMidYMid meet">'
        '<title id="{id}-title">{title}</title><desc id="{id}-desc">{description}</desc>'
        '{grid}<line class="chart__axis" x1="{left}" x2="{right}" y1="{base}" y2="{base}"></line>'
        "{bars}{labels}</svg>",
        id=chart_id,
        width=WIDTH,
        height=HEIGHT,
        title=title,
        description=description,
        grid=grid,
        left=LEFT,
        right=WIDTH - RIGHT,
        base=TOP + plot_height,
        bars=bars,
        labels=labels,
    )
