"""The fleet table's sortable column headers (web/fleet.py)."""

from django import template
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def sort_header(sort, links, key: str, label: str):
    """A ``<th>`` whose link sorts by ``key`` (reversed when it is the current sort), with
    ``aria-sort`` and an arrow on the current column."""
    current = sort.key == key
    direction = "descending" if sort.descending else "ascending"
    return format_html(
        '<th{}><a href="{}" data-sort="{}">{}{}</a></th>',
        format_html(' aria-sort="{}"', direction) if current else "",
        links["sort"][key],
        key,
        label,
        (" ↓" if sort.descending else " ↑") if current else "",
    )
