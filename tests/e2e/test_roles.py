"""Who a page belongs to, in the browser: a participant stays themselves while clicking around,
pages opened by URL show nothing that is not theirs, a participant never sees the endpoints'
credentials or the database path, and the researcher signs in with the secret.

Every test here fails on the code before signed identity (``git show 1a4ba6f^:…``): there the
chat page had no start page ("Your name or participant ID" / Start), so ``open_chat`` cannot
enrol anyone, and identity was a bare ``?u=`` that the sidebar's page links dropped. Each test
says what else it catches there.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.e2e.helpers import (
    ASSISTANT,
    CHAT_BOX,
    USER,
    Stack,
    click_nav,
    conversation_id,
    link_token,
    nav_titles,
    no_tracebacks,
    open_chat,
    open_sidebar_expander,
    page_url,
    researcher_cookie,
    send,
    sign_in_researcher,
    submit_researcher_secret,
    wait_for,
    wait_idle,
)

pytestmark = pytest.mark.e2e

PARTICIPANT_PAGES = ["Chat", "Arena", "Personas"]
RESEARCH_PAGES = ("Analytics", "Participants")
START_PAGE = "Welcome to Aeries"


def _heading(page: Page) -> Locator:
    """The page's first heading (the main area's, not the sidebar's)."""
    return page.get_by_test_id("stMainBlockContainer").get_by_test_id("stHeading").first


def _url_token(page: Page) -> str | None:
    return page.evaluate("new URLSearchParams(location.search).get('p')")


def _signed_in_as(page: Page, name: str, token: str) -> None:
    """The sidebar names ``name``, the URL carries their link, no research page is offered."""
    expect(page.get_by_test_id("stSidebar")).to_contain_text(f"Signed in as {name}")
    # The link is put back into the URL by the run the click started.
    wait_for(lambda: _url_token(page) == token, 10, f"?p= of {name} in the URL")
    assert nav_titles(page) == PARTICIPANT_PAGES


def test_navigation_by_clicking_keeps_the_identity(stack: Stack, page: Page) -> None:
    """Before 1a4ba6f: Streamlit's page links drop ``?u=``, so after one click the participant
    was the shared default account (which was also the researcher, with Analytics)."""
    open_chat(page, stack.url, "navigator")
    token = link_token(stack.url, "navigator")
    _signed_in_as(page, "navigator", token)
    for title, rendered in (("Arena", CHAT_BOX), ("Personas", None), ("Chat", CHAT_BOX)):
        click_nav(page, title, rendered=rendered)
        expect(_heading(page)).to_have_text("New chat" if title == "Chat" else title)
        _signed_in_as(page, "navigator", token)
        no_tracebacks(page)
    send(page, "Written after clicking through every page")
    conv = conversation_id(page)
    assert conv

    stack.stop_app()
    [user] = stack.rows("SELECT id FROM users WHERE name = 'navigator'")
    assert token.split(".")[0] == user["id"], "the link names another account"
    [mine] = stack.rows("SELECT id, user_id FROM conversations WHERE id = ?", [conv])
    assert mine["user_id"] == user["id"]
    owners = stack.rows(
        "SELECT DISTINCT c.user_id FROM messages m JOIN conversations c ON c.id = m.conversation_id"
        " WHERE m.content = 'Written after clicking through every page'"
    )
    assert owners == [{"user_id": user["id"]}]
    exchanges = stack.rows(
        "SELECT user_id FROM exchanges WHERE source = 'chat' AND conversation_id = ?", [conv]
    )
    assert [e["user_id"] for e in exchanges] == [user["id"]]


# A page refused to this visitor says so: Streamlit's "Page not found" (the page is not in their
# navigation, so the start or chat page runs instead), or the page's own check.
_REFUSED = re.compile(
    "Page not found|This page is for researchers|Sign in on the start page first|" + START_PAGE
)
_RESEARCH_VIEW = (
    "[data-testid=stVegaLiteChart], [data-testid=stDataFrame], [data-testid=stTable],"
    " [data-testid=stArrowVegaLiteChart], [data-testid=stPlotlyChart]"
)


def _shows_nothing_of_others(page: Page, stack: Stack, secrets: list[str]) -> None:
    assert page.locator(_RESEARCH_VIEW).count() == 0, "a chart or a table is shown"
    body = page.locator("body").inner_text()
    assert str(stack.db_path) not in body and stack.db_path.name not in body, "the database path"
    for secret in secrets:
        assert secret not in body, f"{secret!r} (another participant's words) is shown"
    assert not set(RESEARCH_PAGES) & set(nav_titles(page)), "research pages are offered"
    no_tracebacks(page)


def test_pages_opened_by_url_show_no_one_elses_data(
    stack: Stack, new_page: Callable[[], Page]
) -> None:
    """Before 1a4ba6f: a visitor without a name was the default (researcher) account and every
    page showed the database path in the sidebar; Analytics opened for anyone."""
    owner = new_page()
    open_chat(owner, stack.url, "diarist")
    secret = "Diarist's private entry about the orchard"
    send(owner, secret)
    participant = new_page()
    open_chat(participant, stack.url, "url-typer")

    for path in ("analytics", "participants", "personas", "arena"):
        # A visitor with no link: a fresh browser, the address typed in.
        visitor = new_page()
        visitor.goto(page_url(stack.url, path))
        wait_idle(visitor, rendered=None, timeout=30_000)
        expect(visitor.locator("body")).to_contain_text(_REFUSED)
        _shows_nothing_of_others(visitor, stack, [secret])

        # The participant, their own link in the address (a new tab: no session yet).
        mine = new_page()
        mine.goto(page_url(stack.url, path, "url-typer"))
        wait_idle(mine, rendered=None, timeout=30_000)
        if path in ("analytics", "participants"):
            expect(mine.locator("body")).to_contain_text(_REFUSED)
        else:  # their own pages: open, as themselves
            expect(_heading(mine)).to_have_text(path.capitalize())
        expect(mine.get_by_test_id("stSidebar")).to_contain_text("Signed in as url-typer")
        _shows_nothing_of_others(mine, stack, [secret])
        for other in (visitor, mine):
            other.context.close()


def test_researcher_secret_signs_in_survives_a_reload_and_signs_out(
    stack: Stack, page: Page
) -> None:
    """Before 1a4ba6f there was no researcher secret, nor a start page to type it in."""
    submit_researcher_secret(page, stack.url, "certainly not the researcher secret")
    expect(page.get_by_test_id("stAlertContentError")).to_contain_text("not the researcher secret")
    expect(_heading(page)).to_have_text(START_PAGE)
    assert "Analytics" not in nav_titles(page)
    assert researcher_cookie(page) is None

    sign_in_researcher(page, stack.url)
    assert set(RESEARCH_PAGES) <= set(nav_titles(page))
    expect(page.get_by_test_id("stSidebar")).to_contain_text("(researcher)")

    # A reload is a new session: the signed cookie keeps the researcher signed in.
    page.reload()
    wait_idle(page, timeout=30_000)
    expect(page.get_by_test_id("stSidebar")).to_contain_text("(researcher)")
    assert set(RESEARCH_PAGES) <= set(nav_titles(page))
    click_nav(page, "Analytics")
    expect(_heading(page)).to_have_text("Analytics")
    expect(page.get_by_text("This page is for researchers")).to_have_count(0)
    no_tracebacks(page)

    page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
    expect(_heading(page)).to_have_text(START_PAGE, timeout=15_000)
    wait_for(lambda: researcher_cookie(page) is None, 15, "the sign-in cookie to be cleared")
    page.reload()
    wait_idle(page, rendered=None, timeout=30_000)
    expect(_heading(page)).to_have_text(START_PAGE)
    expect(page.get_by_role("textbox", name="Your name or participant ID")).to_be_visible()
    assert "Analytics" not in nav_titles(page)
    no_tracebacks(page)


ENDPOINT_USER = "e2e-endpoint-user"
ENDPOINT_PASSWORD = "pw-e2e-9Xq7-never-shown"


def _open_list(page: Page, combobox: Locator) -> list[str]:
    """Open a select box's list and return its options' texts (it stays open)."""
    options = page.get_by_role("option")
    for _ in range(3):  # a click landing while the box is redrawn opens nothing: click again
        combobox.click()
        try:
            options.first.wait_for(timeout=3_000)
        except PlaywrightTimeoutError:
            page.keyboard.press("Escape")
            continue
        return options.all_inner_texts()
    raise AssertionError("the list of the select box never opened")


def _page_text(page: Page) -> str:
    """What the page shows, and its markup (attributes such as titles and labels too)."""
    return page.locator("body").inner_text() + "\n" + page.content()


def test_participant_never_sees_endpoint_credentials_or_the_database_path(
    make_stack: Callable[..., Stack], page: Page
) -> None:
    """Two endpoints of one simulator, the first with a user and password in its URL (Settings
    refuses the same endpoint twice only once normalised; these two differ in their userinfo).
    Before 1a4ba6f the sidebar showed ``Data: <database path>`` to everyone."""
    stack = make_stack(
        base_url=f"http://{ENDPOINT_USER}:{ENDPOINT_PASSWORD}@127.0.0.1:{{sim_port}}/v1,{{sim}}/v1"
    )
    open_chat(page, stack.url, "curious")
    send(page, "Which servers answer me?")
    assert page.locator(ASSISTANT).count() == 1 and page.locator(USER).count() == 1
    details = open_sidebar_expander(page, "Model & sampling")
    model = details.get_by_role("combobox", name="Model")
    expect(model).to_be_visible()
    wait_idle(page)
    labels = _open_list(page, model)  # the models (one per endpoint) are drawn while it is open
    # With several endpoints, each model is labelled with its endpoint (without credentials).
    assert len(labels) >= 2 and all("127.0.0.1" in label for label in labels), labels
    listed = _page_text(page)
    page.keyboard.press("Escape")
    texts = {"chat": listed}
    click_nav(page, "Arena", rendered=CHAT_BOX)
    texts["arena"] = _page_text(page)
    click_nav(page, "Personas")
    page.get_by_test_id("stRadio").get_by_text("New persona").click()
    wait_idle(page, rendered=None)
    texts["personas"] = _page_text(page)
    for where, text in texts.items():
        assert ENDPOINT_PASSWORD not in text, f"the endpoint's password is on the {where} page"
        assert f"{ENDPOINT_USER}:" not in text, f"the endpoint's user is on the {where} page"
        assert str(stack.db_path) not in text, f"the database path is on the {where} page"
        assert stack.db_path.name not in text, f"the database file is named on the {where} page"
    no_tracebacks(page)


def test_local_mode_makes_this_machines_browser_the_researcher(
    make_stack: Callable[..., Stack], page: Page
) -> None:
    """No researcher sign-in configured, the app on loopback, the browser on this machine: no
    start page, the visitor is the researcher. (Before 1a4ba6f: no "Local mode" at all.)"""
    stack = make_stack(local=True)
    page.goto(f"{stack.url}/")
    page.locator(CHAT_BOX).wait_for(timeout=30_000)
    wait_idle(page, timeout=30_000)
    expect(page.get_by_test_id("stSidebar")).to_contain_text("Local mode")
    assert set(RESEARCH_PAGES) <= set(nav_titles(page))
    expect(page.get_by_text(START_PAGE)).to_have_count(0)
    no_tracebacks(page)
