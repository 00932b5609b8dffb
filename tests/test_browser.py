"""The app in real headless Chromium (Debian's package), driven by Playwright. Screenshots of every tab are
saved to ``test-artifacts/`` for a person to look at."""

import shutil
from pathlib import Path

import pytest

from test_app import free_port

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
                 "--no-first-run", "--disable-component-update", "--disable-sync"]


SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"


@pytest.fixture(scope="module")
def page():
    """The app as a user starts it: the embedded default model and the shipped samples."""
    from ripdetect.app.layout import launch

    port = free_port()
    demo = launch(None, port=port, block=False, samples_dir=SAMPLES)
    ARTIFACTS.mkdir(exist_ok=True)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(f"http://127.0.0.1:{port}/", wait_until="networkidle")
        yield page
        browser.close()
    demo.close()


def test_image_tab_in_browser(page):
    image = SAMPLES / "synthetic_rip_oblique.jpg"
    page.get_by_role("tab", name="Image").click()
    page.locator("#image-in input[type=file]").set_input_files(str(image))
    page.wait_for_timeout(500)
    page.locator("#image-button").click()
    label = page.locator("#image-label")
    label.get_by_text("rip", exact=False).first.wait_for(timeout=60_000)
    page.locator("#image-overlay img").first.wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    text = label.inner_text()
    assert "rip" in text and "%" in text
    assert '"label": "rip"' in page.locator("#image-details").inner_text()  # the default model finds this rip
    page.screenshot(path=str(ARTIFACTS / "tab_image.png"), full_page=True)


def test_video_tab_in_browser(page):
    clip = SAMPLES / "synthetic_clip.mp4"
    page.get_by_role("tab", name="Video").click()
    page.locator("#video-in input[type=file]").set_input_files(str(clip))
    page.wait_for_timeout(1000)
    page.locator("#video-button").click()
    video = page.locator("#video-out video")
    try:
        video.first.wait_for(timeout=120_000)
    finally:
        page.screenshot(path=str(ARTIFACTS / "tab_video.png"), full_page=True)
    src = video.first.get_attribute("src")
    assert src and ".mp4" in src
    can_play = page.evaluate("() => document.createElement('video').canPlayType('video/mp4; codecs=\"avc1.42E01E\"')")
    assert can_play in ("probably", "maybe")
    ready = page.evaluate("""async () => {
        const v = document.querySelector('#video-out video');
        for (let i = 0; i < 100 && v.readyState < 2 && !v.error; i++) await new Promise(r => setTimeout(r, 100));
        return {ready: v.readyState, error: v.error ? v.error.code : null, width: v.videoWidth};
    }""")
    assert ready["error"] is None and ready["ready"] >= 2 and ready["width"] > 0, ready
    page.screenshot(path=str(ARTIFACTS / "tab_video.png"), full_page=True)


def test_batch_and_about_tabs_render(page):
    page.get_by_role("tab", name="Batch").click()
    page.locator("#batch-button").wait_for()
    page.screenshot(path=str(ARTIFACTS / "tab_batch.png"), full_page=True)
    page.get_by_role("tab", name="About").click()
    page.get_by_text("Not a swim / no-swim tool").last.wait_for()
    page.screenshot(path=str(ARTIFACTS / "tab_about.png"), full_page=True)
