"""The words Aeries writes into its tables, each defined once, here.

Every module that writes or reads one of these values imports its type (and the tuple of its
values) from this module, the demo included, so a value cannot drift between a writer, a query
and the synthetic data. This module imports nothing from Aeries: the store, the simulator-free
core and the UI can all depend on it. docs/schema.md explains what each value means.
"""

from __future__ import annotations

from typing import Literal, get_args

# --- exchanges ---------------------------------------------------------------------------

# Who made a call to a model.
Source = Literal["chat", "arena", "observer", "bench", "load"]
SOURCES: tuple[Source, ...] = get_args(Source)
# Sources a person's own activity produces (what analytics filters by).
ACTIVITY_SOURCES: tuple[Source, ...] = ("chat", "arena", "observer")

# How a call ended, as an exchange row says: 'aborted' is stopped by the user (Stop, a rerun,
# leaving the page); 'cut_off' is ended by the server before the answer was complete (vLLM's
# finish_reason 'abort' — paused, drained, shutting down — or 'repetition'), its text kept;
# 'interrupted' is an answer still streaming when the app stopped, filed from its in-flight
# record at the next start. Only 'ok' answers count in latency figures.
ExchangeStatus = Literal["ok", "error", "aborted", "cut_off", "interrupted"]
EXCHANGE_STATUSES: tuple[ExchangeStatus, ...] = get_args(ExchangeStatus)
# How one call can end (a live call is never 'interrupted').
CallStatus = Literal["ok", "error", "aborted", "cut_off"]
# vLLM 0.33's finish reasons that end an answer early on the server's side, and the error kind
# each is logged with.
SERVER_ENDINGS: dict[str, ErrorKind] = {"abort": "server_abort", "repetition": "repetition"}

# Why a call failed; an HTTP error without a kind of its own is ``http_<status>``.
ErrorKind = Literal[
    "timeout",
    "connection_lost",
    "server_down",
    "unknown_model",
    "context_length",
    "max_tokens",
    "bad_request",
    "server_busy",
    "server_failed",
    "midstream_error",
    "server_abort",
    "repetition",
    "aborted",
    "interrupted",
]
ERROR_KINDS: tuple[ErrorKind, ...] = get_args(ErrorKind)


def http_error_kind(status: int) -> str:
    """The error kind of an HTTP error answer without a kind of its own."""
    return f"http_{status}"


# --- signals -------------------------------------------------------------------------------

SignalKind = Literal["feedback", "observer", "heuristic", "implicit"]
SIGNAL_KINDS: tuple[SignalKind, ...] = get_args(SignalKind)

FeedbackName = Literal["thumbs", "comment"]
ObserverName = Literal[
    "sentiment",
    "satisfaction",
    "confidence",
    "corrected",
    "intent",
    "topic",
    "preference",
    "correction",
    "observer_error",
]
HeuristicName = Literal["user_chars", "answer_chars", "answer_latency_ms", "reply_delay_s"]
ImplicitName = Literal["regenerate", "edit", "abort"]
SignalName = FeedbackName | ObserverName | HeuristicName | ImplicitName
SIGNAL_NAMES: dict[SignalKind, tuple[str, ...]] = {
    "feedback": get_args(FeedbackName),
    "observer": get_args(ObserverName),
    "heuristic": get_args(HeuristicName),
    "implicit": get_args(ImplicitName),
}
# What the brief learns from (observer signals with a text value).
LearnedName = Literal["preference", "topic", "correction"]
LEARNED_NAMES: tuple[LearnedName, ...] = get_args(LearnedName)

# --- arena and preferences -------------------------------------------------------------------

# A vote on a round: with two sides a, b, tie or both_bad; with more, 'best' (and its
# position) or both_bad ("all bad").
VoteOutcome = Literal["a", "b", "tie", "both_bad", "best"]
VOTE_OUTCOMES: tuple[VoteOutcome, ...] = get_args(VoteOutcome)
# A pairwise preference's winner, relative to its contestant_a / contestant_b.
Winner = Literal["a", "b", "tie", "both_bad"]
WINNERS: tuple[Winner, ...] = get_args(Winner)
PreferenceKind = Literal["explicit", "implicit"]
PREFERENCE_KINDS: tuple[PreferenceKind, ...] = get_args(PreferenceKind)

VoteReason = Literal[
    "more accurate",
    "clearer",
    "more concise",
    "more detailed",
    "better format",
    "better tone",
    "faster",
]
VOTE_REASONS: tuple[VoteReason, ...] = get_args(VoteReason)

# --- conversations ---------------------------------------------------------------------------

# How a message came to be: a new one, an edit of a question, a regenerated answer.
MessageOrigin = Literal["new", "edit", "regenerate"]
MESSAGE_ORIGINS: tuple[MessageOrigin, ...] = get_args(MessageOrigin)

# --- studies ---------------------------------------------------------------------------------

# A study's life: a draft is edited freely; live takes participants (its version frozen);
# paused takes no new participants, while those enrolled may finish; closed ends it (nobody
# continues; finished participants still see their code).
StudyStatus = Literal["draft", "live", "paused", "closed"]
STUDY_STATUSES: tuple[StudyStatus, ...] = get_args(StudyStatus)
# What participants do between the questionnaires, in the order the study lists them: chat
# with the condition's model, or blind votes between the condition's arena contestants.
StudyTask = Literal["chat", "arena"]
STUDY_TASKS: tuple[StudyTask, ...] = get_args(StudyTask)
# How participants are put in conditions: balanced blocks in a seeded order, or the same
# within each answer of one pre-questionnaire item.
AssignmentMethod = Literal["blocks", "stratified"]
ASSIGNMENT_METHODS: tuple[AssignmentMethod, ...] = get_args(AssignmentMethod)
# Questionnaire item kinds.
ItemKind = Literal["likert", "single", "multiple", "numeric", "text"]
ITEM_KINDS: tuple[ItemKind, ...] = get_args(ItemKind)
# How a participant leaves a study; each can carry a completion code.
ExitOutcome = Literal["completed", "declined", "screened_out", "failed_attention", "timed_out"]
EXIT_OUTCOMES: tuple[ExitOutcome, ...] = get_args(ExitOutcome)
# An enrolment is in progress until it ends with one of the exits.
EnrolmentStatus = Literal[
    "in_progress", "completed", "declined", "screened_out", "failed_attention", "timed_out"
]
ENROLMENT_STATUSES: tuple[EnrolmentStatus, ...] = get_args(EnrolmentStatus)
# The steps of a study, in order (a task step per task).
StudyStep = Literal["consent", "instructions", "pre", "chat", "arena", "post", "done"]
STUDY_STEPS: tuple[StudyStep, ...] = get_args(StudyStep)
# Which questionnaire an answer belongs to.
Questionnaire = Literal["pre", "post"]
QUESTIONNAIRES: tuple[Questionnaire, ...] = get_args(Questionnaire)

# --- human annotation ----------------------------------------------------------------------

# The kinds of rubric item: a Likert scale with a label per point (its value is the point's
# number, 1 … n), one option of several, yes/no, or free text (which has no agreement).
RubricItemKind = Literal["likert", "categorical", "boolean", "text"]
RUBRIC_ITEM_KINDS: tuple[RubricItemKind, ...] = get_args(RubricItemKind)
# Level of measurement an item's agreement is computed at (Krippendorff's α's metric).
MeasurementLevel = Literal["nominal", "ordinal", "interval"]
MEASUREMENT_LEVELS: tuple[MeasurementLevel, ...] = get_args(MeasurementLevel)
# How a queue's exchanges were drawn from those its filters match.
QueueSampling = Literal["all", "random", "stratified"]
QUEUE_SAMPLINGS: tuple[QueueSampling, ...] = get_args(QueueSampling)
# An open queue hands out items; a closed one does not (its labels stay).
QueueStatus = Literal["open", "closed"]
QUEUE_STATUSES: tuple[QueueStatus, ...] = get_args(QueueStatus)
# What a rater did with an item they were handed.
SubmissionOutcome = Literal["labelled", "skipped"]
SUBMISSION_OUTCOMES: tuple[SubmissionOutcome, ...] = get_args(SubmissionOutcome)
# The observer's quantities a rubric item can ask people for, so the two can be compared.
ObservedQuantity = Literal["satisfaction", "sentiment", "preference", "correction"]
OBSERVED_QUANTITIES: tuple[ObservedQuantity, ...] = get_args(ObservedQuantity)
