"""The Studies pages: a participant's way through a study, and the researcher's view."""
