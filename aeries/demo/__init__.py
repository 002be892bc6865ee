"""A realistic synthetic database, so analytics can be tried without a model server and
benchmarked at scale: ``python -m aeries demo --exchanges N [--db PATH] [--seed S]``.

Five models with different latency profiles drift over the weeks (an upgrade makes one faster,
a move to smaller GPUs makes another slower, one has a bad day of server errors, one arrives
late); busy afternoons are slower; users have conversations of several turns with personas and
the brief on or off, regenerate answers they dislike, give thumbs, and the observer reads most
exchanges. Arena battles get votes that depend on model strength, on which side answered first
and (a little) on which side is on the left. Every row has ``synthetic = true``.

The package: ``catalog`` (models, personas, texts), ``calls`` (time-sorted ids, timestamps,
simulated calls), ``world`` (the cast and text pools), ``chat``, ``arena`` and ``signals`` (the
rows of each), ``run`` (the driver), ``study`` and ``study_rows`` (a synthetic live study with a
planted effect, ``--study``, and the rows its chats leave). Every value it writes that
``aeries.vocabulary`` defines comes from there.
"""

from aeries.demo.run import (
    DemoConfig,
    DemoError,
    DemoReport,
    delete_synthetic,
    existing_synthetic,
    generate,
    run_demo,
    split_exchanges,
    write_demo,
)

__all__ = [
    "DemoConfig",
    "DemoError",
    "DemoReport",
    "delete_synthetic",
    "existing_synthetic",
    "generate",
    "run_demo",
    "split_exchanges",
    "write_demo",
]
