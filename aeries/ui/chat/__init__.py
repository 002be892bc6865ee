"""The chat page's parts: what is on screen (state), the conversation list, the messages and
their controls, the model and persona controls, the knowledge panel, starting and streaming a
turn, and the redraw policy for streamed text."""

from aeries.ui.chat.controls import ModelChoice, chat_controls, choice_from_state
from aeries.ui.chat.conversations import conversation_heading, conversation_sidebar
from aeries.ui.chat.knowledge import PANEL_ICON, PANEL_TITLE, knowledge_panel
from aeries.ui.chat.messages import render_branch
from aeries.ui.chat.state import current_view, take_pending
from aeries.ui.chat.turns import start_turn, stream_turn

__all__ = [
    "PANEL_ICON",
    "PANEL_TITLE",
    "ModelChoice",
    "chat_controls",
    "choice_from_state",
    "conversation_heading",
    "conversation_sidebar",
    "current_view",
    "knowledge_panel",
    "render_branch",
    "start_turn",
    "stream_turn",
    "take_pending",
]
