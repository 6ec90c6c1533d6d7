#!/usr/bin/python3
"""Drives headless Chromium (Debian's chromium + chromium-driver, python3-selenium) through
even-admin's pages against a running system that admin_browser_test.cpp started.

For each page: it loads, shows what the test appended, has no console errors (the browser's log at
level SEVERE: script errors, failed requests, CSP violations), ran no script from the data (the
store holds a stream named <script>alert(1)</script> and an event type and payload that would set
window.__xss if they were ever parsed as HTML), and leaves a screenshot in --out.

Exit code 0 when every check passed; otherwise 1 with what failed. Chromium or its driver missing
is a failure, never a skip.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException, UnexpectedAlertPresentException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError as e:  # the Debian package python3-selenium (ops/even deps)
    print(f"FAIL: python3-selenium is missing ({e}); install it with ops/even deps", file=sys.stderr)
    sys.exit(1)

SCRIPT_STREAM = "<script>alert(1)</script>"


class Check:
    def __init__(self):
        self.failures = []

    def expect(self, ok, what):
        print(("ok    " if ok else "FAIL  ") + what, flush=True)
        if not ok:
            self.failures.append(what)
        return ok


def find_binary(*names):
    for n in names:
        p = shutil.which(n) or (n if os.path.exists(n) else None)
        if p:
            return p
    return None


def make_driver():
    chromium = find_binary("chromium", "/usr/bin/chromium", "chromium-browser")
    driver_bin = find_binary("chromedriver", "/usr/bin/chromedriver")
    if not chromium or not driver_bin:
        print("FAIL: chromium and chromium-driver are needed (Debian packages chromium chromium-driver; ops/even deps)",
              file=sys.stderr)
        sys.exit(1)
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900",
              "--no-first-run", "--disable-extensions", "--disable-background-networking"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver_bin), options=opts)


def console_errors(driver):
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def wait_for(driver, what, predicate, timeout=20):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: predicate(d))
    except TimeoutException:
        return None


# The pages redraw on every poll, so elements found a moment ago may be gone: read the DOM in one
# script instead of holding element references.
def texts(driver, css):
    return driver.execute_script("return [...document.querySelectorAll(arguments[0])].map(e => e.textContent)", css)


def attrs(driver, css, name):
    return driver.execute_script("return [...document.querySelectorAll(arguments[0])].map(e => e.getAttribute(arguments[1]))",
                                 css, name)


def count(driver, css):
    return driver.execute_script("return document.querySelectorAll(arguments[0]).length", css)


def evenctl_append(args, stream, event_type, data):
    cmd = [args.evenctl, "append", stream, "--type", event_type, "--data", data, "--writer-endpoint",
           args.writer_endpoint, "--insecure", "--timeout-ms", "10000"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise RuntimeError(f"evenctl append failed: {out.stdout} {out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1]) if out.stdout.strip() else {}


def page(driver, check, args, name, fragment, ready, timeout=20):
    """Loads #/fragment, waits for ready(driver), checks the console and no script from the data ran,
    writes NAME.png."""
    driver.get(args.url + "#/" + fragment)
    ok = wait_for(driver, name, ready, timeout)
    check.expect(ok, f"{name}: the page shows what it should (#/{fragment})")
    check.expect(driver.execute_script("return window.__xss === undefined"), f"{name}: no script from the data ran")
    stray = driver.execute_script("""
        const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        const out = [];
        for (let n = w.nextNode(); n; n = w.nextNode())
          if (/^(null|undefined|NaN|\[object Object\])+$/.test(n.nodeValue.trim())) out.push(n.nodeValue);
        return out;""")
    check.expect(not stray, f"{name}: no stray null/undefined text {stray if stray else ''}")
    errors = console_errors(driver)
    check.expect(not errors, f"{name}: no console errors {errors if errors else ''}")
    path = os.path.join(args.out, f"{name}.png")
    driver.save_screenshot(path)
    print(f"      screenshot {path}", flush=True)
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True, help="even-admin's URL, http://HOST:PORT/")
    ap.add_argument("--out", required=True, help="folder for the screenshots")
    ap.add_argument("--evenctl", required=True)
    ap.add_argument("--writer-endpoint", required=True)
    ap.add_argument("--stream", required=True, help="a stream the test appended before")
    ap.add_argument("--projection", required=True, help="a projection the projector runs")
    ap.add_argument("--tail-max", type=int, required=True, help="even-admin's --admin.tail-max-events")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    check = Check()
    driver = make_driver()
    try:
        run(driver, check, args)
    except UnexpectedAlertPresentException as e:
        check.expect(False, f"an alert was opened: a script from the data ran ({e.alert_text})")
    finally:
        driver.quit()
    if check.failures:
        print(f"{len(check.failures)} check(s) failed", file=sys.stderr)
        return 1
    print("all browser checks passed")
    return 0


def run(driver, check, args):
    # Dashboard: a card per service (writer, dispatcher, reader, projector) and the charts drawn
    # from at least two scrapes (the legends appear with the first draw).
    page(driver, check, args, "dashboard", "dashboard",
         lambda d: count(d, ".card.service[data-kind]") >= 4 and count(d, ".legend span") >= 3)
    kinds = sorted(attrs(driver, ".card.service[data-kind]", "data-kind"))
    check.expect(kinds == ["dispatcher", "projector", "reader", "writer"], f"dashboard: one card per service {kinds}")
    badges = " ".join(texts(driver, ".card.service .badge"))
    check.expect("master" in badges and "live" in badges, f"dashboard: writer master, dispatcher live ({badges})")

    # Streams: the recently written list holds the appended stream and the <script> one, as text.
    page(driver, check, args, "streams", "streams",
         lambda d: args.stream in texts(d, "#stream-list td.name a") and SCRIPT_STREAM in texts(d, "#stream-list td.name a"))
    names = texts(driver, "#stream-list td.name a")
    check.expect(SCRIPT_STREAM in names, "streams: the <script> stream's name is shown as text")
    check.expect(not driver.find_elements(By.CSS_SELECTOR, "#stream-list script, #stream-list img"),
                 "streams: no element was made from a name")
    # A search by prefix finds the stream through the store's streams table.
    box = driver.find_element(By.ID, "stream-search")
    box.clear()
    box.send_keys(args.stream[:-2])
    driver.find_element(By.CSS_SELECTOR, ".toolbar button.primary").click()
    found = wait_for(driver, "search", lambda d: args.stream in texts(d, "#stream-list td.name a")
                     and SCRIPT_STREAM not in texts(d, "#stream-list td.name a"))
    check.expect(found, f"streams: a prefix search for '{args.stream[:-2]}' finds the stream")

    # One stream: events newest first, the newest one's payload pretty-printed, the markup in it as text.
    page(driver, check, args, "stream", "stream/" + args.stream,
         lambda d: count(d, "tbody tr.clickable") >= 3 and count(d, "pre.body-payload") == 1)
    seqs = [int(t.replace(",", "")) for t in texts(driver, "tbody tr.clickable td:first-child")]
    check.expect(seqs == sorted(seqs, reverse=True), f"stream: newest first {seqs}")
    payload = texts(driver, "pre.body-payload")[0]
    check.expect('<img src=x onerror=window.__xss=1>' in payload and "\n" in payload,
                 "stream: the payload is pretty-printed JSON, its markup shown as text")
    corr = driver.find_elements(By.CSS_SELECTOR, "#event-detail a[href^='#/event/']")
    check.expect(len(corr) >= 1, "stream: the correlation/causation ids are links")
    if corr:
        corr[0].click()
        ok = wait_for(driver, "event", lambda d: d.execute_script("return location.hash").startswith("#/event/")
                      and count(d, "#event-detail dd") > 0)
        check.expect(ok, "stream: the causation link opens the event it names")
        driver.save_screenshot(os.path.join(args.out, "event.png"))

    # Live tail: an event appended after the page opened shows up; pause holds it back.
    page(driver, check, args, "tail", "tail", lambda d: count(d, "#tail-list .event") >= 1)
    live_stream = args.stream.rsplit("-", 1)[0] + "-live"
    evenctl_append(args, live_stream, "Arrived", '{"after":"the page opened"}')
    shown = wait_for(driver, "tail", lambda d: live_stream in texts(d, "#tail-list .event a"), 15)
    check.expect(shown, "tail: an event appended after the page opened appears")
    driver.find_element(By.ID, "tail-pause").click()
    evenctl_append(args, live_stream, "WhilePaused", "{}")
    time.sleep(2)
    check.expect(not any("WhilePaused" in t for t in texts(driver, "#tail-list")), "tail: paused, nothing new is shown")
    driver.find_element(By.ID, "tail-pause").click()
    check.expect(wait_for(driver, "tail", lambda d: any("WhilePaused" in t for t in texts(d, "#tail-list")), 15),
                 "tail: resumed, the event appended meanwhile appears")
    # Never more than --admin.tail-max-events rows, however many events arrive.
    for i in range(args.tail_max + 5):
        evenctl_append(args, live_stream, "Burst", json.dumps({"i": i}))
    full = wait_for(driver, "tail", lambda d: count(d, "#tail-list .event") >= args.tail_max
                    and "Burst" in texts(d, "#tail-list .event")[0], 20)
    time.sleep(1.5)  # a few more polls: the page must stay at the limit
    rows = count(driver, "#tail-list .event")
    check.expect(full and rows == args.tail_max, f"tail: the page holds {rows} events, at most {args.tail_max}")
    errors = console_errors(driver)
    check.expect(not errors, f"tail: no console errors after the appends {errors if errors else ''}")
    driver.save_screenshot(os.path.join(args.out, "tail.png"))

    # Projections: the projector's projection with its position; the rebuild button asks first.
    page(driver, check, args, "projections", "projections",
         lambda d: count(d, f"tr[data-projection='{args.projection}']") == 1)
    button = f"tr[data-projection='{args.projection}'] button.rebuild"
    # The table is redrawn every 2 s: click from a script (after it returned, as confirm() blocks).
    click = "setTimeout(() => document.querySelector(arguments[0]).click(), 0)"
    check.expect(count(driver, button) == 1, "projections: a rebuild button (--admin.allow-admin-actions)")
    if count(driver, button) == 1:
        driver.execute_script(click, button)
        alert = wait_for(driver, "confirm", lambda d: d.switch_to.alert, 5)
        check.expect(alert is not None and "Rebuild" in alert.text, "projections: the rebuild asks to confirm")
        if alert:
            alert.dismiss()
            time.sleep(0.5)
            check.expect(not any("requested" in t for t in texts(driver, "#status")),
                         "projections: dismissed, nothing was requested")
            driver.execute_script(click, button)
            wait_for(driver, "confirm", lambda d: d.switch_to.alert, 5).accept()
            check.expect(wait_for(driver, "rebuild", lambda d: any("requested" in t for t in texts(d, "#status")), 10),
                         "projections: confirmed, the rebuild was requested")
    errors = console_errors(driver)
    check.expect(not errors, f"projections: no console errors {errors if errors else ''}")


if __name__ == "__main__":
    sys.exit(main())
