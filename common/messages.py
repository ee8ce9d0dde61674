"""Messages that report on many records at once (a bulk action): a summary line
that can be read at a glance, then one line per record that needs attention."""

from django.contrib import messages
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _

from .text import labelled


def summary_with_list(summary, lines):
    """`summary` followed by a list of `lines`, as safe HTML with every value
    escaped (the admin shows a message's HTML as it is); just `summary` when there
    are no lines."""
    if not lines:
        return summary
    return format_html(
        '{}<ul class="message-list">{}</ul>',
        summary,
        format_html_join("", "<li>{}</li>", ((line,) for line in lines)),
    )


def named_line(name, text):
    """One line of such a list: `text`, led by the record's `name` unless the text
    already names it."""
    if name in text:
        return text
    return labelled(name, text)


def report_bulk(modeladmin, request, *, done, done_summary, refused):
    """A bulk action's one message: `done_summary` ("12 advanced") alone, a success,
    when nothing was refused; otherwise "12 advanced, 3 refused" and the `refused`
    lines, a warning (an error when nothing was done)."""
    if not refused:
        modeladmin.message_user(request, done_summary, messages.SUCCESS)
        return
    summary = _("%(done)s, %(refused)s refused") % {"done": done_summary, "refused": len(refused)}
    modeladmin.message_user(
        request, summary_with_list(summary, refused), messages.WARNING if done else messages.ERROR
    )
