from django import template

from common.text import person_name

register = template.Library()


@register.filter
def person(user):
    """`{{ event.actor|person|default:_("system") }}`: see common.text.person_name."""
    return person_name(user)
