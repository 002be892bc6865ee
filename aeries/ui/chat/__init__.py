"""The chat page's parts: what is on screen (state), the conversation list, the messages and
their controls, the model and persona controls, the knowledge panel, starting and streaming a
turn, and the redraw policy for streamed text."""
