"""Who is using Aeries: names, signed links, the researcher secret, roles."""

from aeries.auth.names import NAME_MAX, NameRefused, check_participant_name, display_name, name_key
from aeries.auth.researcher_secret import SignInThrottle, hash_secret, secret_matches
from aeries.auth.roles import ROLES, Identity, Role, Via, local_mode_applies, researcher_auth
from aeries.auth.tokens import (
    SigningKeyError,
    load_or_create_key,
    participant_token,
    read_participant_token,
    read_researcher_token,
    read_study_proof,
    researcher_token,
    study_proof,
)

__all__ = [
    "NAME_MAX",
    "ROLES",
    "Identity",
    "NameRefused",
    "Role",
    "SignInThrottle",
    "SigningKeyError",
    "Via",
    "check_participant_name",
    "display_name",
    "hash_secret",
    "load_or_create_key",
    "local_mode_applies",
    "name_key",
    "participant_token",
    "read_participant_token",
    "read_researcher_token",
    "read_study_proof",
    "researcher_auth",
    "researcher_token",
    "secret_matches",
    "study_proof",
]
