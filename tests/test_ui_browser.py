"""The web viewer in a real headless Chromium (Playwright on /usr/bin/chromium).

Over a SQLite database seeded by a compiled chat graph (EchoChatModel), served
by `viewer_app` with `--write` on a local port: the sessions page and its
filter; a session's graph with one lane per thread, keyboard navigation; a
branch's conversation, where `<script>` from a message is text; two
checkpoints picked on the graph and their diff; a checkpoint; a rollback from
the page that adds a lane; the read-only pages; narrow and dark layouts; no
console error and no dialog anywhere. Every page is saved as a PNG in the
directory the test prints.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentgit_langgraph import AgentGitSaver
from agentgit_langgraph.ui.serve import viewer_app
from tests.graphs import chat_graph_builder, human
from tests.ui_browser import browser_page, require_browser, served

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SCRIPT = "<script>alert(1)</script>"


def _seed(db: Path) -> int:
    """Alice's chat (main, `retry` from its first answer, `again` from its head) and
    bob's; alice's session id."""
    with AgentGitSaver.from_conn_string(str(db)) as saver:
        graph = chat_graph_builder().compile(checkpointer=saver)
        alice = {"configurable": {"thread_id": "chat", "user_id": "alice"}}
        graph.invoke(human("hi", 1), alice)
        graph.invoke(human(SCRIPT, 2), alice)
        graph.invoke(human("hello", 1), {"configurable": {"thread_id": "bobs", "user_id": "bob"}})
        (session,) = saver.list_sessions("alice")
        assert session.id is not None
        first_answer = saver.log(session.id, user_id="alice")[3]
        saver.tag(first_answer.config, "one", user_id="alice")
        retry = saver.rollback(first_answer.config, user_id="alice", name="retry")
        on_retry = {"thread_id": retry["configurable"]["thread_id"], "user_id": "alice"}
        graph.invoke(human("other", 3), {"configurable": on_retry})
        main_head = saver.resolve(session.id, "main", user_id="alice")
        saver.rollback(main_head, user_id="alice", name="again")
        return session.id


def _lanes(page: Any) -> list[str]:
    return [t.strip() for t in page.locator("svg.graph g.lane .name").all_text_contents()]


def test_viewer_in_chromium(tmp_path: Path) -> None:
    chromium = require_browser()
    db = tmp_path / "agent.db"
    from playwright.sync_api import expect

    sid = _seed(db)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    print(f"\nscreenshots: {shots}")
    app, token = viewer_app(str(db), write=True)
    assert token is not None

    with served(app) as base, browser_page(chromium) as (page, problems):

        def ready(name: str) -> None:
            page.wait_for_selector(f"body[data-ready={name}]", timeout=15_000)

        def panel_shows(label: str) -> None:
            expect(page.locator("#panel h2")).to_have_text(re.compile(f"^{re.escape(label)}"))

        def shot(name: str) -> None:
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

        # sessions: both users' sessions (no --user), the filter hides the others
        page.goto(f"{base}/agentgit/ui/")
        ready("sessions")
        rows = page.locator("table.sessions tbody tr")
        assert rows.count() == 2
        alice_row = page.locator(f'tr[data-session="{sid}"]')
        assert alice_row.locator("td").nth(2).inner_text() == "alice"
        assert alice_row.locator("td").nth(4).inner_text() == "2"  # branches
        shot("sessions")
        page.fill("#filter", "bob")
        assert alice_row.is_hidden() and rows.filter(has_text="bobs").is_visible()
        page.fill("#filter", "")
        assert alice_row.is_visible()

        # the graph: a lane per thread, the current one marked, the panel on it
        alice_row.locator("a").click()
        ready("graph")
        assert _lanes(page) == ["main", "retry", "again"]
        assert page.locator("svg.graph").get_attribute("data-lanes") == "3"
        assert (page.locator("g.lane.current .name").text_content() or "").strip() == "again"
        page.wait_for_selector("#panel ol.history li")
        assert page.locator("#panel h2").inner_text().startswith("again")
        shot("graph")

        # keyboard: Home to main, Down to retry (the panel follows), Enter opens it
        page.keyboard.press("Home")
        panel_shows("main")
        page.keyboard.press("ArrowDown")
        panel_shows("retry")
        assert page.locator("g.lane.selected").get_attribute("data-row") == "1"
        page.keyboard.press("Enter")
        ready("conversation")
        texts = page.locator("#conversation .msg .text").all_inner_texts()
        assert texts == ["hi", "echo: hi (#1)", "other", "echo: other (#2)"]
        shot("conversation")

        # main's conversation: the <script> message is shown as text, never run
        page.goto(f"{base}/agentgit/ui/#/s/{sid}/t/chat")
        ready("conversation")
        texts = page.locator("#conversation .msg .text").all_inner_texts()
        assert SCRIPT in texts and f"echo: {SCRIPT} (#2)" in texts
        assert page.locator("#view script").count() == 0
        # pick main's head as A, from its history
        page.locator("ol.history li").first.locator("button.pick-a").click()

        # ... and retry's head as B, on the graph
        page.goto(f"{base}/agentgit/ui/#/s/{sid}")
        ready("graph")
        page.locator("g.lane", has=page.locator(".name", has_text="retry")).click()
        panel_shows("retry")
        page.wait_for_selector("#panel ol.history li")
        page.locator("#panel ol.history li").first.locator("button.pick-b").click()
        assert "step" in page.locator("#pick-a").inner_text()
        page.click("#pick-go")
        ready("diff")
        only_a = page.locator(".only-a .msg .text").all_inner_texts()
        only_b = page.locator(".only-b .msg .text").all_inner_texts()
        assert only_a == [SCRIPT, f"echo: {SCRIPT} (#2)"]
        assert only_b == ["other", "echo: other (#2)"]
        assert "2 messages in common" in page.locator("#view").inner_text()
        shot("diff")

        # a checkpoint, from the diff's link to A
        page.locator(".summary a").first.click()
        ready("checkpoint")
        headings = page.locator("section.card h2").all_inner_texts()
        assert headings[:3] == ["State", "Interrupts", "Metadata"]
        assert SCRIPT in page.locator("section.card").first.inner_text()
        shot("checkpoint")

        # a rollback from the page (with --write): a new lane, named, current
        page.goto(f"{base}/agentgit/ui/#/s/{sid}")
        ready("graph")
        page.locator("g.lane", has=page.locator(".name", has_text="main")).click()
        panel_shows("main")
        page.wait_for_selector("#panel ol.history li")
        entry = page.locator("#panel ol.history li").nth(2)
        entry.locator("button.rollback-open").click()
        # intent is asked for only when the server records it (its tree has the key)
        tree = httpx.get(f"{base}/agentgit/sessions/{sid}/tree").json()
        assert entry.locator("input[name=intent]").is_disabled() != ("intent" in tree["roots"][0])
        entry.locator("input[name=name]").fill("from-ui")
        entry.locator("input[name=intent]").fill("try it from the page")
        entry.locator("form.rollback button[type=submit]").click()
        expect(page.locator("svg.graph g.lane")).to_have_count(4)
        ready("graph")
        assert _lanes(page) == ["main", "retry", "again", "from-ui"]
        assert (page.locator("g.lane.current .name").text_content() or "").strip() == "from-ui"
        shot("graph-after-rollback")

        # set a branch's status from the page: the panel and the tree say it
        page.locator("g.lane", has=page.locator(".name", has_text="again")).click()
        panel_shows("again")
        page.locator("#panel button.status-open").click()
        page.locator("form.status-form select[name=status]").select_option("abandoned")
        page.locator("form.status-form input[name=reason]").fill("too slow")
        page.locator("form.status-form button[type=submit]").click()
        expect(page.locator("#panel dl.facts")).to_contain_text("abandoned")
        roots = httpx.get(f"{base}/agentgit/sessions/{sid}/tree").json()["roots"]
        nodes = {n.get("name"): n for n in roots[0]["children"]}
        assert (nodes["again"]["status"], nodes["again"]["status_reason"]) == (
            "abandoned",
            "too slow",
        )
        assert nodes["from-ui"]["intent"] == "try it from the page"
        shot("graph-after-status")

        # narrow window: the panel goes under the graph; dark theme by the toggle
        page.set_viewport_size({"width": 400, "height": 800})
        graph_box = page.locator("#graph").bounding_box()
        panel_box = page.locator("#panel").bounding_box()
        assert graph_box and panel_box and panel_box["y"] >= graph_box["y"] + graph_box["height"]
        assert panel_box["width"] <= 400
        shot("graph-narrow")
        page.set_viewport_size({"width": 1280, "height": 800})
        page.click("#theme")
        theme = page.evaluate("document.documentElement.dataset.theme")
        assert theme in ("dark", "light")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == ("rgb(13, 17, 23)" if theme == "dark" else "rgb(255, 255, 255)")
        shot(f"graph-{theme}")

        assert problems == []

        # a write without the run's token is refused, and changes nothing
        tree = httpx.get(f"{base}/agentgit/sessions/{sid}/tree").json()
        refused = httpx.post(f"{base}/agentgit/sessions/{sid}/rollback", json={"ref": "main"})
        assert refused.status_code == 403
        assert httpx.get(f"{base}/agentgit/sessions/{sid}/tree").json() == tree
        with AgentGitSaver.from_conn_string(str(db)) as saver:
            names = [t.name for t in saver.branches(sid, user_id="alice")]
        assert names == [None, "retry", "again", "from-ui"]

    # read-only pages: no write control, no token on the page
    read_only, _ = viewer_app(str(db))
    with served(read_only) as base, browser_page(chromium) as (page, problems):
        page.goto(f"{base}/agentgit/ui/#/s/{sid}")
        page.wait_for_selector("body[data-ready=graph]", timeout=15_000)
        page.wait_for_selector("#panel ol.history li")
        assert page.locator("button.rollback-open").count() == 0
        assert page.locator("#mode").inner_text() == "read-only"
        assert page.locator('meta[name="agentgit-token"]').count() == 0
        assert problems == []


def _seed_trip(db: Path, undone: list[str]) -> tuple[int, str]:
    """A ReAct agent whose model reports usage: two booked cities, then a rollback
    to after the first that undoes the second booking. (session id, thread id)"""
    from langchain_core.tools import tool
    from langgraph.prebuilt import create_react_agent

    from agentgit_langgraph import reversers_from, reversible_tool
    from tests.graphs import UsageToolModel

    def cancel(args: dict[str, Any], result: str) -> None:
        undone.append(args["city"])

    @reversible_tool(undo=cancel)
    @tool
    def book(city: str) -> str:
        """Book a hotel in `city`."""
        return f"booked {city}"

    model = UsageToolModel(
        script={"Lisbon": [("book", {"city": "Lisbon"})], "Porto": [("book", {"city": "Porto"})]}
    )
    with AgentGitSaver.from_conn_string(str(db), reversers=reversers_from([book])) as saver:
        with warnings.catch_warnings():  # deprecated in favour of langchain's create_agent
            warnings.simplefilter("ignore")
            graph = create_react_agent(model, [book], checkpointer=saver)
        config = {"configurable": {"thread_id": "trip", "user_id": "alice"}}
        graph.invoke({"messages": [("user", "Lisbon")]}, config)
        after_lisbon = graph.get_state(config).config
        graph.invoke({"messages": [("user", "Porto")]}, config)
        saver.rollback(after_lisbon, user_id="alice", name="no-porto", reverse_tools=True)
        session = saver.session_for_thread("trip", user_id="alice")
        assert session.id is not None
        return session.id, "trip"


def test_viewer_shows_tokens_and_undone_tool_calls(tmp_path: Path) -> None:
    chromium = require_browser()
    from playwright.sync_api import expect

    undone: list[str] = []
    sid, thread = _seed_trip(tmp_path / "agent.db", undone)
    assert undone == ["Porto"]
    app, _ = viewer_app(str(tmp_path / "agent.db"))
    with served(app) as base, browser_page(chromium) as (page, problems):
        # the sessions page fills in each session's tokens after it shows
        page.goto(f"{base}/agentgit/ui/")
        page.wait_for_selector("body[data-ready=sessions]", timeout=15_000)
        tokens = page.locator(f'tr[data-session="{sid}"] td.tokens')
        expect(tokens).to_have_text(re.compile(r"^[1-9][0-9]*$"))
        total = httpx.get(f"{base}/agentgit/sessions/{sid}/stats").json()["total"]
        assert tokens.inner_text() == str(total["total_tokens"])

        # the graph's panel: the branch's own figures
        page.goto(f"{base}/agentgit/ui/#/s/{sid}")
        page.wait_for_selector("body[data-ready=graph]", timeout=15_000)
        page.locator("g.lane", has=page.locator(".name", has_text="main")).click()
        # the panel shows at once; the branch's stats fill in when they arrive
        expect(page.locator("#panel dl.facts")).to_contain_text(re.compile(r"tool calls\s*2"))

        # the original thread's conversation: the Porto booking is marked undone
        page.goto(f"{base}/agentgit/ui/#/s/{sid}/t/{thread}")
        page.wait_for_selector("body[data-ready=conversation]", timeout=15_000)
        calls = page.locator("#conversation ul.calls li")
        assert calls.count() == 2
        assert "undo: reversed" in calls.filter(has_text="Porto").inner_text()
        assert "undo:" not in calls.filter(has_text="Lisbon").inner_text()
        page.screenshot(path=str(tmp_path / "conversation-undone.png"), full_page=True)
        assert problems == []
