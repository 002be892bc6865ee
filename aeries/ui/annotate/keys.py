"""Keyboard labelling for the rater view: digits choose a Likert point, Enter submits.

Streamlit's own button shortcuts (``shortcut=``) are ignored whenever the focus is in any
``<input>``, a radio button included, so after a rater clicked one point Enter would do
nothing; and nothing in Streamlit maps a key to a radio option. So a small script of ours,
added to the page once (``st.html`` runs it in the app's document, not in an iframe), listens
for keys and clicks what a rater would click: an option of a radio group, the Submit button.
Clicking, not setting values, keeps Streamlit's own state handling in charge.

Rules the script keeps: it acts only while a rater's item is on screen (its container is
present), never while the focus is where text is typed (text areas, text boxes, select boxes,
anything editable — Esc leaves such a field so the keys work again), never with Ctrl, Alt or
Cmd held, and never on a key held down (auto-repeat). Enter on a focused button or link is
left to that button. The script is a constant: no text from the store is ever put in it.
"""

from __future__ import annotations

import streamlit as st

# Class names Streamlit gives keyed elements: ``st-key-`` + the key with ``.`` made ``-``.
RATE_CONTAINER = "aeries-annotate-rate"
LIKERT_PREFIX = "aeries-annotate-likert-"
SUBMIT_KEY = "aeries-annotate-submit"

_SCRIPT = """
<script>
(() => {
  if (window.__aeriesAnnotateKeys) return;
  window.__aeriesAnnotateKeys = true;
  const NOT_TEXT = new Set(["checkbox", "radio", "button", "submit", "reset", "file", "range",
                            "color", "image"]);
  const typing = (el) => {
    if (!el || !el.tagName) return false;
    if (el.isContentEditable) return true;
    if (el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
    if (el.tagName === "INPUT") return !NOT_TEXT.has((el.type || "text").toLowerCase());
    return el.getAttribute && el.getAttribute("role") === "combobox";
  };
  const CONTROL = "button, a, summary, [role=button], [role=option], [role=tab], [role=menuitem]";
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.repeat || event.isComposing) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const form = document.querySelector(".st-key-@CONTAINER@");
    if (!form) return;
    const target = event.target;
    if (typing(target)) {
      if (event.key === "Escape" && form.contains(target)) target.blur();
      return;
    }
    if (/^[1-9]$/.test(event.key)) {
      const groups = Array.from(form.querySelectorAll('[class*="st-key-@LIKERT@"]'));
      const focused = groups.find((g) => g.contains(document.activeElement));
      const group = focused
        || groups.find((g) => !g.querySelector("input[type=radio]:checked"));
      if (!group) return;
      const options = group.querySelectorAll("label:has(input[type=radio])");
      const option = options[Number(event.key) - 1];
      if (!option) return;
      event.preventDefault();
      option.click();
      // The click puts the focus on the option's input; a scale "has the focus" only when
      // the rater put it there, so the next digit goes on to the next unanswered scale.
      if (group.contains(document.activeElement)) document.activeElement.blur();
      return;
    }
    if (event.key === "Enter") {
      if (target && target.closest && target.closest(CONTROL)) return;
      const button = form.querySelector(".st-key-@SUBMIT@ button");
      if (!button || button.disabled) return;
      event.preventDefault();
      button.click();
    }
  }, true);
})();
</script>
"""
_SCRIPT = (
    _SCRIPT.replace("@CONTAINER@", RATE_CONTAINER)
    .replace("@LIKERT@", LIKERT_PREFIX)
    .replace("@SUBMIT@", SUBMIT_KEY)
)


def keyboard_script() -> None:
    """Add the key listener to the page (it installs itself once per browser tab)."""
    st.html(_SCRIPT, unsafe_allow_javascript=True, width="content")
