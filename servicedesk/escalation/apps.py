from django.apps import AppConfig


class EscalationConfig(AppConfig):
    name = "servicedesk.escalation"
    label = "escalation"
    verbose_name = "Escalation and SLA"
