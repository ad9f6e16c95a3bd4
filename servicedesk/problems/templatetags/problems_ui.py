"""Template helpers of the problem pages."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from ..models import Problem

register = template.Library()


@register.simple_tag
def problem_status(problem: Problem) -> SafeString:
    return format_html(
        '<span class="status pst-{}">{}</span>', problem.status, problem.get_status_display()
    )
