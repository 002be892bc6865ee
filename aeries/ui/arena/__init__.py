"""The arena page's parts: contestants, concurrent rounds and the blind vote, the leaderboard."""
