"""Drives the Thalo Console in headless Chromium (Debian's) with Playwright (PyPI).

Usage: console_browser.py URL TOKEN SCREENSHOT_FOLDER

Expects a server with the BankAccount example published and entity a1 opened with 100
and deposited 50 (two events). Prints one "ok: ..." line per step; any failed
expectation raises, and the exit status is non-zero.
"""

import json
import os
import sys
import urllib.request

from playwright.sync_api import expect, sync_playwright

# The suite runs beside many other tests on two cores: a page may take seconds to render or
# to show a live update, so each expectation waits up to 30 s (Playwright's default is 5).
expect.set_options(timeout=30_000)

url, token, shots = sys.argv[1], sys.argv[2], sys.argv[3]
chromium = os.environ.get("THALO_CHROMIUM", "/usr/bin/chromium")


def execute(entity, command, payload):
    """A command sent by another client than the console, through the API."""
    request = urllib.request.Request(
        f"{url}/v1/execute/BankAccount/{entity}/{command}",
        data=json.dumps(payload).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 200, response.status


def step(text):
    print("ok:", text, flush=True)


with sync_playwright() as playwright:
    browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.set_default_timeout(60_000)
    problems = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    # Answers such as 401, 400 and 422 are part of the steps; Chromium logs each as a failed
    # resource load. Anything else the page logs as an error is a problem.
    page.on(
        "console",
        lambda message: message.type == "error"
        and not message.text.startswith("Failed to load resource")
        and problems.append(f"console: {message.text}"),
    )

    # The server wants a token: the console asks for it and keeps it for the session.
    page.goto(f"{url}/")
    expect(page.locator("#token-dialog")).to_be_visible()
    page.fill("#token-input", token)
    page.click("#token-save")
    module = page.locator('[data-module="BankAccount"]')
    expect(module).to_be_visible()
    expect(module.locator(".badge.running").first).to_have_text("running 0.1.0")
    expect(page.locator("#store")).to_have_text("sqlite store")
    step("modules listed after the token was asked for")
    page.screenshot(path=f"{shots}/console-modules.png")

    page.reload()
    expect(module).to_be_visible()
    expect(page.locator("#token-dialog")).not_to_be_visible()
    step("the token is kept for the session")

    module.get_by_role("link", name="0.1.0").click()
    expect(page.locator("pre.esdl")).to_contain_text("aggregate BankAccount {")
    expect(page.locator("pre.esdl")).to_contain_text("deposit_funds(amount: Int) -> DepositedFunds")
    expect(page.locator("table").first).to_contain_text("open_account")
    step("the schema is rendered")
    page.screenshot(path=f"{shots}/console-schema.png", full_page=True)

    # Streams: a category with paging and live following.
    page.click("nav >> text=Streams")
    page.click("text=bankAccount >> nth=0")
    rows = page.locator("table.messages tbody tr")
    expect(rows).to_have_count(2)
    page.check("#follow-live")
    expect(page.locator("#live-status")).to_have_text("live")
    execute("b2", "open_account", {"initial_balance": 7})
    expect(rows).to_have_count(3)
    expect(rows.nth(2)).to_contain_text("bankAccount-b2")
    step("a category is browsed and followed live")
    page.screenshot(path=f"{shots}/console-category.png")
    page.goto(f"{url}/console#/streams")
    page.fill("#find-stream input", "bankAccount-a1")
    page.click("#find-stream button")
    expect(rows).to_have_count(2)
    expect(page.locator("h1")).to_have_text("bankAccount-a1")
    step("a stream is found by name")

    # The entity: its timeline, time travel with the slider, commands from the form.
    page.click("text=Open as BankAccount entity")
    timeline = page.locator("#timeline .event")
    expect(timeline).to_have_count(2)
    state = page.locator("#state-json")
    expect(state).to_contain_text('"balance": 150')
    slider = page.locator("#time-slider")
    slider.fill("0")
    expect(state).to_contain_text('"balance": 100')
    expect(page.locator("#slider-label")).to_contain_text("after #0 of 1 · OpenedAccount")
    expect(timeline.nth(1)).to_have_class("event future")
    step("the slider shows the state at position 0, then 1")
    page.screenshot(path=f"{shots}/console-time-travel.png")
    slider.fill("1")
    expect(state).to_contain_text('"balance": 150')
    slider.fill("0")
    expect(state).to_contain_text('"balance": 100')

    page.select_option("#command-select", "deposit_funds")
    page.fill("#field-amount", "25")
    page.click("#command-form button[type=submit]")
    expect(page.locator("#command-outcome")).to_contain_text("Recorded DepositedFunds at #2")
    expect(timeline).to_have_count(3)
    expect(state).to_contain_text('"balance": 175')
    expect(page.locator("#slider-label")).to_contain_text("after #2 of 2 · DepositedFunds")
    step("a command from the form records an event that appears in the timeline")

    page.fill("#field-amount", "ten")
    page.click("#command-form button[type=submit]")
    expect(page.locator('[data-error-for="amount"]')).to_have_text('expected a whole number, found "ten"')
    page.fill("#field-amount", "99999999999")
    page.click("#command-form button[type=submit]")
    expect(page.locator('[data-error-for="amount"]')).to_contain_text("Int")
    expect(page.locator('.field[data-path="amount"]')).to_have_class("field invalid")
    step("validation errors (the browser's and the server's) are shown at the field")

    page.select_option("#command-select", "withdraw_funds")
    page.fill("#field-amount", "100000")
    page.click("#command-form button[type=submit]")
    expect(page.locator("#command-outcome .rejected")).to_have_text("Rejected: insufficient funds")
    expect(timeline).to_have_count(3)
    step("a rejection is shown inline and writes nothing")
    page.screenshot(path=f"{shots}/console-entity.png", full_page=True)

    execute("a1", "withdraw_funds", {"amount": 75})
    expect(timeline).to_have_count(4)
    expect(state).to_contain_text('"balance": 100')
    expect(page.locator("#slider-label")).to_contain_text("after #3 of 3 · WithdrewFunds")
    step("an event written by another client arrives live")

    page.click("nav >> text=Cluster")
    expect(page.locator("h1")).to_have_text("Cluster")
    expect(page.locator("table").first).to_contain_text("live")
    step("the cluster page lists this node")
    page.screenshot(path=f"{shots}/console-cluster-one-node.png")

    # The form builder on a richer schema than the bank account's: a Long beyond a double's
    # precision, an optional Bool, a custom type (nested fields), an optional custom type
    # left out, an array, and a problem placed at a nested field.
    built = page.evaluate(
        """async () => {
          const { commandFields, payloadText, showProblems } = await import("/console/form.js");
          const schema = { types: [{ name: "Address", fields: [{ name: "street", type: "String" }, { name: "zip", type: "String?" }] }] };
          const command = { name: "ship", parameters: [
            { name: "count", type: "Long" }, { name: "gift", type: "Bool" }, { name: "express", type: "Bool?" },
            { name: "note", type: "String?" }, { name: "address", type: "Address" }, { name: "backup", type: "Address?" },
            { name: "tags", type: "[String]" }, { name: "ratio", type: "Double" } ] };
          const form = commandFields(command, schema);
          const holder = document.createElement("form");
          holder.append(form.element);
          document.body.append(holder);
          const set = (name, value) => { holder.querySelector(`[name="${name}"]`).value = value; };
          set("count", "9007199254740993");
          holder.querySelector('[name="gift"]').checked = true;
          set("express", "false");
          set("address.street", "Main 1");
          set("tags", '["a", "b"]');
          set("ratio", "0.5");
          const first = form.read();
          set("tags", "[oops");
          const second = form.read();
          showProblems(holder, [{ path: "address.street", message: "too short" }, { path: "elsewhere", message: "unplaced" }], (rest) => holder.dataset.rest = rest.join());
          return { text: payloadText(first.payload), problems: first.problems, later: second.problems.map((p) => p.path),
                   nested: holder.querySelector('[data-error-for="address.street"]').textContent, rest: holder.dataset.rest };
        }"""
    )
    assert built["text"] == '{"count":9007199254740993,"gift":true,"express":false,"address":{"street":"Main 1"},"tags":["a","b"],"ratio":0.5}', built
    assert built["problems"] == [], built
    assert built["later"] == ["tags"], built
    assert built["nested"] == "too short" and built["rest"] == "unplaced", built
    step("forms for custom types, optionals, arrays and Longs build the exact payload")

    assert not problems, problems
    browser.close()
print("console: all steps passed")
