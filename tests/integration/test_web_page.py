#!/usr/bin/python3
"""contimg-web's page in headless Chromium (python3-selenium + chromedriver),
run by tests/integration/test_web_page.sh against the database of
web_fixture.inc.  Prints TAP lines; exit 0.

Environment: WEB (http://127.0.0.1:PORT), CTL, G_OLD, SHOT (screenshot PNG),
SHOT_PHONE (the phone-width one).
"""
import os
import shlex
import subprocess
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

NAME = "test_web_page"
BASE = os.environ["WEB"]
CTL = shlex.split(os.environ["CTL"])


def ok(cond, what, detail=""):
    print(("ok - " if cond else "not ok - ") + NAME + ": " + what, flush=True)
    if not cond and detail:
        for line in str(detail).splitlines()[:20]:
            print("    " + line, file=sys.stderr)
    return cond


def wait(fn, timeout=15):
    end = time.time() + timeout
    v = None
    while time.time() < end:
        try:
            v = fn()
            if v:
                return v
        except Exception:
            pass
        time.sleep(0.2)
    return v


opts = webdriver.ChromeOptions()
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--window-size=1280,1700", "--hide-scrollbars", "--force-device-scale-factor=1"):
    opts.add_argument(a)
opts.binary_location = "/usr/bin/chromium"
opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
try:
    drv.get(BASE + "/?source=J0834%2B5512")
    ok(drv.title.startswith("contimg"), "the page loads (title %r)" % drv.title)
    rows = wait(lambda: len(drv.find_elements(By.CSS_SELECTOR, "#groups tbody tr")) == 31)
    ok(rows, "the groups table holds the 31 groups",
       len(drv.find_elements(By.CSS_SELECTOR, "#groups tbody tr")))
    first = drv.find_elements(By.CSS_SELECTOR, "#groups tbody tr")[0]
    cells = [c.text for c in first.find_elements(By.TAG_NAME, "td")]
    ok(cells[0] == "2026-03-03T05:41:22" and cells[1] == "completed" and cells[5] not in ("", "–"),
       "the newest group comes first with its image rms", cells)
    cands = wait(lambda: [r.get_attribute("data-source") for r in
                          drv.find_elements(By.CSS_SELECTOR, "#candidates tbody tr")])
    ok(cands == ["J0834+5512", "J0900+5500"], "the candidates table holds both candidates, best first",
       cands)
    notes = [e.text for e in drv.find_elements(By.CSS_SELECTOR, "#candidates td.note")]
    ok("RFI epochs; see 2026-02-10 log" in notes, "the vetting note is shown", notes)
    # sort by source name (ascending), then again (descending)
    th = drv.find_element(By.CSS_SELECTOR, '#candidates th[data-key="source"]')
    th.click()
    asc = [r.get_attribute("data-source") for r in drv.find_elements(By.CSS_SELECTOR, "#candidates tbody tr")]
    th.click()
    desc = [r.get_attribute("data-source") for r in drv.find_elements(By.CSS_SELECTOR, "#candidates tbody tr")]
    ok(asc == sorted(cands) and desc == sorted(cands, reverse=True), "clicking a header sorts the table",
       (asc, desc))
    pts = wait(lambda: len(drv.find_elements(By.CSS_SELECTOR, "#lc-svg circle.pt")))
    ok(pts == 31, "the light-curve SVG has its 31 points", pts)
    model = drv.find_elements(By.CSS_SELECTOR, "#lc-svg path#lc-model")
    ok(model and len(model[0].get_attribute("d")) > 100, "the ESE model is drawn over the light curve")
    ok("no image of this source" in drv.find_element(By.ID, "stamps").text,
       "the stamp strip says no image is registered for this source (no broken pictures)")
    img = wait(lambda: drv.execute_script(
        "const i = document.getElementById('quicklook-img');"
        "return i && i.complete && i.naturalWidth > 0 ? [i.naturalWidth, i.naturalHeight] : null;"))
    ok(img == [256, 256], "the quick-look picture of the latest image renders (%s)" % (img,))
    ok(drv.find_elements(By.ID, "quicklook-marks"), "the source overlay is drawn over it")
    counts = drv.find_element(By.CSS_SELECTOR, '.count[data-state="completed"] b').text
    ok(counts == "31", "the queue shows 31 completed groups", counts)
    ok(len(drv.find_elements(By.CSS_SELECTOR, "#timings .bar")) >= 5,
       "stage timings of the last completed group are drawn")
    ok(len(drv.find_elements(By.CSS_SELECTOR, "#caltables tbody tr")) == 1, "the calibration table is listed")
    # search by position lists the sources near it
    box = drv.find_element(By.ID, "q")
    box.clear()
    box.send_keys("128.6 55.2 1")
    drv.find_element(By.CSS_SELECTOR, "#search button").click()
    found = wait(lambda: [a.text for a in drv.find_elements(By.CSS_SELECTOR, "#search-list a")])
    ok(found == ["J0834+5512", "J0836+5430"], "search by position lists the sources nearest first", found)
    # the whole page at laptop width, from the top
    for _ in range(2):  # the height settles once the width is final
        h = drv.execute_script("return document.documentElement.scrollHeight;")
        drv.set_window_size(1280, min(max(h, 900), 4000) + 140)  # + the browser's frame
        time.sleep(0.3)
    drv.execute_script("window.scrollTo(0, 0);")
    time.sleep(0.5)
    drv.save_screenshot(os.environ["SHOT"])
    ok(os.path.getsize(os.environ["SHOT"]) > 20000, "screenshot saved (%s)" % os.environ["SHOT"])
    # a queue change reaches the page by the server's event, without a reload
    p = subprocess.run(CTL + ["requeue", os.environ["G_OLD"]], capture_output=True, text=True)
    t0 = time.time()
    pend = wait(lambda: drv.find_element(By.CSS_SELECTOR, '.count[data-state="pending"] b').text == "1", 8)
    ok(p.returncode == 0 and pend, "a requeue shows on the page within %.1f s (server-sent event)"
       % (time.time() - t0))
    # phone width: nothing wider than the screen
    drv.set_window_size(390, 1400)
    time.sleep(0.5)
    over = drv.execute_script("return document.documentElement.scrollWidth - window.innerWidth;")
    ok(over <= 1, "at phone width (390 px) the page does not scroll sideways (%d px)" % over)
    if os.environ.get("SHOT_PHONE"):
        drv.save_screenshot(os.environ["SHOT_PHONE"])
    logs = drv.get_log("browser")
    severe = [l for l in logs if l.get("level") == "SEVERE"]
    ok(not severe, "no console errors (%d messages, %d errors)" % (len(logs), len(severe)),
       "\n".join(l.get("message", "") for l in severe))
finally:
    drv.quit()
