"""Intake from monitoring and e-mail (issue 8): payload parsers, mapping rules,
mail handling and the intake API. The verbs are in ``integrations.services``."""
