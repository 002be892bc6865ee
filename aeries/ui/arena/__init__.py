"""The arena page's parts: contestants, concurrent rounds and the blind vote, the leaderboard."""

from aeries.ui.arena.leaderboard import leaderboard_section
from aeries.ui.arena.rounds import arena_body

__all__ = ["arena_body", "leaderboard_section"]
