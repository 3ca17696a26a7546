"The built site, opened in headless Chromium: every chapter page renders, its images load, no error output, no raw glue markup, no progress bars, no machine paths, no NaN or True/False in a table, no table wider than the text, no parameters cell and no nbdev directive in a code cell, a Colab button."
import functools, http.server, re, shutil, threading
from pathlib import Path

import pytest

from conftest import ROOT
from cxr_lib.book import toc_files

pytestmark = pytest.mark.slow  # it drives headless Chromium over the built site

SITE = ROOT / "book" / "_build" / "html"
SHOTS = ROOT / "book" / "_build" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PAGES = toc_files(ROOT / "_toc.yml")


@pytest.fixture(scope="module")
def site_url():
    assert (SITE / "index.html").exists(), "no built site: run `make site` (or `make test`, which builds it) first"
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(SITE))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    assert Path(CHROMIUM).exists(), "Debian chromium is not installed: `make browser`"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


@pytest.mark.parametrize("page_file", PAGES)
def test_page_renders(site_url, browser, page_file):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{site_url}/{page_file}.html", wait_until="load")
    page.wait_for_load_state("networkidle", timeout=15000)
    title = page.locator("main h1").first.inner_text(timeout=5000)
    assert title.strip(), f"{page_file}: no title"
    broken = page.evaluate("""() => Array.from(document.images)
        .filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.src)""")
    assert not broken, f"{page_file}: images failed to load: {broken}"
    text = page.locator("main").inner_text()
    assert "{glue" not in text, f"{page_file}: raw glue markup on the page"
    assert not re.search(r"\d+%\|[^|\n]*\|", text), f"{page_file}: a progress bar on the page"
    for path in (str(ROOT.resolve()), str(Path.home()) + "/"):
        assert path not in text, f"{page_file}: the build machine's path {path} on the page"
    cells = page.evaluate("""() => Array.from(document.querySelectorAll('main table td, main table th')).map(c => c.innerText.trim())""")
    missing = sorted({c for c in cells if c in ("NaN", "nan", "None", "<NA>")})
    assert not missing, f"{page_file}: table cells read {missing}"
    booleans = sorted({c for c in cells if c in ("True", "False")})
    assert not booleans, f"{page_file}: table cells read {booleans}, where the book says yes / no"
    wide = page.evaluate("""() => Array.from(document.querySelectorAll('article table'))
        .filter(t => t.getBoundingClientRect().width > (document.querySelector('article') || document.querySelector('main')).getBoundingClientRect().width + 2).length""")
    assert not wide, f"{page_file}: {wide} table(s) wider than the text column"
    assert not re.search(r"# Parameters\s*\nsmoke = ", text), f"{page_file}: papermill's injected-parameters cell is on the page"
    sources = page.evaluate("""() => Array.from(document.querySelectorAll('.cell_input pre')).filter(p => p.offsetParent !== null).map(p => p.innerText)""")
    directives = [line.strip() for src in sources for line in src.splitlines() if re.match(r"\s*#\|", line)]
    assert not directives, f"{page_file}: nbdev directives shown in code cells: {sorted(set(directives))[:5]}"
    shown_parameters = page.evaluate("() => Array.from(document.querySelectorAll('.tag_parameters')).filter(c => c.offsetParent !== null).length")
    assert not shown_parameters, f"{page_file}: the parameters cell is shown"
    outputs = page.evaluate("""() => Array.from(document.querySelectorAll('.cell_output')).map(o => o.innerText)""")
    bad = [o[:200] for o in outputs if "Traceback" in o or "Error" in o]
    assert not bad, f"{page_file}: error output on the page: {bad}"
    if (ROOT / f"{page_file}.ipynb").exists():
        n_images = page.evaluate("() => document.querySelectorAll('.cell_output img').length")
        assert page.locator("a[href*='colab.research.google.com']").count() >= 1, f"{page_file}: no Colab launch button"
        if page_file.endswith("01_data"): assert n_images >= 5, "the data chapter should show its figures"
        if page_file.endswith("00b_quickstart"): assert n_images >= 3, "the quick start should show its film with maps, its neighbours and its text hits"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{page_file.replace('/', '__')}.png"), full_page=False)
    page.close()
