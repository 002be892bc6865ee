"""Studies: conditions, assignment, consent, questionnaires, exits, outcomes."""
