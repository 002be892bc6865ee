"""PostgreSQL migration 9 (twin of m009): human annotation — rubrics and their versions,
annotation queues and the exchanges in them, who is labelling what now, each rater's
submissions and labels, and adjudicated labels.

Released: frozen. Its SQL is a literal here; it imports nothing from runtime code.
"""

from aeries.store.migrations.base import Migration

STATEMENTS = (
    # current_version: the version new queues get; a rubric in use is never edited in place.
    """CREATE TABLE rubrics (
        id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        current_version INTEGER NOT NULL,
        created_by VARCHAR,
        created_at TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL,
        deleted BOOLEAN NOT NULL DEFAULT false
    )""",
    # spec: the rubric's items as JSON (docs/annotation.md); spec_hash: SHA-256 of it.
    """CREATE TABLE rubric_versions (
        rubric_id VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        spec JSON NOT NULL,
        spec_hash VARCHAR NOT NULL,
        created_by VARCHAR,
        created_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (rubric_id, version)
    )""",
    # sampling: all, random or stratified; filters: what the sample was drawn from (JSON);
    # raters_per_item: how many raters label each item; status: open or closed.
    """CREATE TABLE annotation_queues (
        id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        rubric_id VARCHAR NOT NULL,
        rubric_version INTEGER NOT NULL,
        raters_per_item INTEGER NOT NULL,
        sampling VARCHAR NOT NULL,
        filters JSON NOT NULL,
        seed INTEGER NOT NULL,
        status VARCHAR NOT NULL,
        created_by VARCHAR,
        created_at TIMESTAMPTZ NOT NULL
    )""",
    # One row per exchange in a queue, in the order raters get them. labelled: submissions
    # with labels not taken back, kept in step with them (the next-item query reads it).
    """CREATE TABLE queue_items (
        queue_id VARCHAR NOT NULL,
        exchange_id VARCHAR NOT NULL,
        position INTEGER NOT NULL,
        stratum VARCHAR,
        labelled INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (queue_id, exchange_id)
    )""",
    # A rater holding an item: it counts towards the item's raters until it is submitted,
    # skipped, or expires (a rater who walked away).
    """CREATE TABLE queue_claims (
        queue_id VARCHAR NOT NULL,
        exchange_id VARCHAR NOT NULL,
        rater_id VARCHAR NOT NULL,
        claimed_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (queue_id, exchange_id, rater_id)
    )""",
    # One per rater and item seen: outcome 'labelled' (labels below) or 'skipped'; flagged
    # with an optional note; retracted_at set when the rater undid it (the labels are kept).
    """CREATE TABLE submissions (
        id VARCHAR PRIMARY KEY,
        queue_id VARCHAR NOT NULL,
        exchange_id VARCHAR NOT NULL,
        rater_id VARCHAR NOT NULL,
        rubric_id VARCHAR NOT NULL,
        rubric_version INTEGER NOT NULL,
        outcome VARCHAR NOT NULL,
        flagged BOOLEAN NOT NULL DEFAULT false,
        note VARCHAR,
        shown_at TIMESTAMPTZ,
        created_at TIMESTAMPTZ NOT NULL,
        retracted_at TIMESTAMPTZ
    )""",
    # One per rubric item of a labelled submission; value as text (a Likert point, an
    # option, true/false, free text).
    """CREATE TABLE labels (
        submission_id VARCHAR NOT NULL,
        item_key VARCHAR NOT NULL,
        value VARCHAR,
        PRIMARY KEY (submission_id, item_key)
    )""",
    # The label a researcher settled on where raters disagreed; the raw labels stay.
    """CREATE TABLE adjudications (
        queue_id VARCHAR NOT NULL,
        exchange_id VARCHAR NOT NULL,
        item_key VARCHAR NOT NULL,
        value VARCHAR,
        adjudicator_id VARCHAR NOT NULL,
        note VARCHAR,
        created_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (queue_id, exchange_id, item_key)
    )""",
)

MIGRATION = Migration(
    9,
    "annotation: rubrics, rubric_versions, annotation_queues, queue_items, queue_claims, "
    "submissions, labels, adjudications",
    STATEMENTS,
)
