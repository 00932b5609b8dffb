"""The app in real headless Chromium (Debian's package), driven by Playwright through every tab as a new user
would. A screenshot of each tab after use is saved to ``test-artifacts/`` for a person to look at. Checks: the
banner's verdict word is not covered, gallery images keep their aspect ratio, a bad file's reason is on the
page, an upload the browser cannot play gets a preview that plays, and the annotated clip plays."""

import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

from tests.helpers import ffmpeg_clip, free_port, two_cameras

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.system,
              pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
                 "--no-first-run", "--disable-component-update", "--disable-sync"]
from tests.helpers import SAMPLES

# Whether the top-left part of a displayed image or video (where the banner's verdict word is drawn) is the
# element itself at every probe point, i.e. no label, button or other element covers it.
BANNER_UNCOVERED = """([selector, banner_fraction]) => {
    const el = document.querySelector(selector);
    const box = el.getBoundingClientRect();
    el.scrollIntoView({block: 'center'});
    const now = el.getBoundingClientRect();
    const scale = el.videoWidth ? Math.min(now.width / el.videoWidth, now.height / el.videoHeight)
                                : Math.min(now.width / el.naturalWidth, now.height / el.naturalHeight);
    const shownW = (el.videoWidth || el.naturalWidth) * scale, shownH = (el.videoHeight || el.naturalHeight) * scale;
    const left = now.left + (now.width - shownW) / 2, top = now.top + (now.height - shownH) / 2;
    const y = top + shownH * banner_fraction / 2;
    const hits = [0.02, 0.1, 0.2, 0.3].map(f => document.elementFromPoint(left + shownW * f, y));
    return hits.map(h => h === el || el.contains(h));
}"""


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page(browser):
    """The app as a user starts it: the embedded default model and the shipped samples."""
    from ripdetect.app.layout import launch

    port = free_port()
    demo = launch(None, port=port, block=False, samples_dir=SAMPLES)
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(f"http://127.0.0.1:{port}/", wait_until="load")  # never network-idle: Gradio's heartbeat stays open
    page.get_by_role("tab", name="About").wait_for(timeout=60_000)
    yield page
    page.close()
    demo.close()


def banner_fraction(image_height: int) -> float:
    from ripdetect.viz.draw import banner_height

    return banner_height(image_height) / (image_height + banner_height(image_height))


def wait_until_plays(page, selector: str) -> dict:
    return page.evaluate("""async (selector) => {
        const v = document.querySelector(selector);
        for (let i = 0; i < 150 && v.readyState < 2 && !v.error; i++) await new Promise(r => setTimeout(r, 100));
        return {ready: v.readyState, error: v.error ? v.error.code : null, width: v.videoWidth,
                height: v.videoHeight};
    }""", selector)


@pytest.mark.slow
def test_image_tab(page, tmp_path):
    image = SAMPLES / "synthetic_rip_oblique.jpg"
    page.get_by_role("tab", name="Image").click()
    page.locator("#image-in input[type=file]").set_input_files(str(image))
    page.locator("#image-photo img").first.wait_for(timeout=60_000)  # the upload shows the photo itself
    page.locator("#image-button").click()
    overlay = page.locator("#image-overlay img").first
    overlay.wait_for(timeout=60_000)
    page.locator("#image-summary").get_by_text("RIP CURRENT").wait_for(timeout=60_000)
    page.wait_for_timeout(500)
    assert all(page.evaluate(BANNER_UNCOVERED, ["#image-overlay img", banner_fraction(448)]))
    summary = page.locator("#image-summary").inner_text()
    headline = page.locator("#image-verdict").inner_text()
    from ripdetect.config import decision_threshold
    from ripdetect.models.checkpoint import load_checkpoint

    shown = f"threshold {decision_threshold(load_checkpoint().threshold):.2f}"  # the embedded model's, as applied
    assert "RIP CURRENT" in summary and shown in summary and "Region:" in summary
    assert headline.startswith("RIP CURRENT") and shown in headline and "synthetic_rip_oblique.jpg" in headline
    details = page.locator("#image-details").inner_text()
    assert "synthetic_rip_oblique_details" in details and ".json" in details  # the full JSON, as a download
    height = page.evaluate("() => document.documentElement.scrollHeight")
    page.screenshot(path=str(ARTIFACTS / "tab_image.png"), full_page=True)
    assert height < 2200, height  # compact details: no page-long JSON

    # the headline is the decision at the threshold in use: a threshold just above and just below p flips both
    p = float(re.search(r"p = ([0-9.]+)", headline).group(1))
    for threshold, word in ((min(1.0, p + 0.02), "no rip"), (max(0.0, p - 0.02), "RIP CURRENT")):
        slider = page.locator("#image-threshold input[type=number]")
        slider.fill(f"{threshold:.2f}")
        slider.press("Enter")
        page.locator("#image-button").click()
        page.locator("#image-verdict").get_by_text(f"threshold {threshold:.2f}").wait_for(timeout=60_000)
        headline = page.locator("#image-verdict").inner_text()
        assert headline.startswith(word) and page.locator("#image-summary").inner_text().startswith(word), headline
    page.screenshot(path=str(ARTIFACTS / "tab_image_threshold.png"), full_page=True)

    # a new upload clears the last result: no verdict stands beside a file it was not made for
    page.locator("#image-in button[aria-label='Clear']").first.click()
    page.locator("#image-in input[type=file]").set_input_files(str(SAMPLES / "synthetic_norip_oblique.jpg"))
    page.wait_for_function("() => !document.querySelector('#image-verdict').innerText.trim()", timeout=30_000)
    page.locator("#image-photo img").first.wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "tab_image_new_upload.png"), full_page=True)
    assert "RIP CURRENT" not in page.locator("#image-summary").inner_text()


@pytest.mark.slow
def test_video_tab(page, tmp_path):
    page.get_by_role("tab", name="Video").click()
    unplayable = ffmpeg_clip(tmp_path / "old_camera.avi", 2, 10, "320x192", "-c:v", "mpeg4")
    page.locator("#video-in input[type=file]").set_input_files(str(unplayable))
    page.locator("#video-upload-info").get_by_text("a copy made for the browser").wait_for(timeout=60_000)
    page.locator("#video-preview video").wait_for(timeout=30_000)
    preview = wait_until_plays(page, "#video-preview video")
    assert preview["error"] is None and preview["ready"] >= 2 and preview["width"] == 320, preview

    page.locator("#video-in button[aria-label='Clear']").first.click()
    page.locator("#video-in input[type=file]").set_input_files(str(SAMPLES / "synthetic_clip.mp4"))
    page.locator("#video-upload-info").get_by_text("synthetic_clip.mp4").wait_for(timeout=30_000)
    page.locator("#video-button").click()
    video = page.locator("#video-out video")
    try:
        video.first.wait_for(timeout=180_000)
        played = wait_until_plays(page, "#video-out video")
    finally:
        page.screenshot(path=str(ARTIFACTS / "tab_video.png"), full_page=True)
    assert played["error"] is None and played["ready"] >= 2 and played["width"] > 0, played
    verdict = page.locator("#video-verdict").inner_text()
    assert "RIP CURRENT" in verdict or "no rip detected" in verdict
    assert all(page.evaluate(BANNER_UNCOVERED, ["#video-out video", banner_fraction(played["height"])]))
    page.screenshot(path=str(ARTIFACTS / "tab_video.png"), full_page=True)
    # inside an event (from the events table) the annotated clip's banner is the rip colour
    cells = page.locator("#video-events").inner_text().split("mean_prob")[1].split()
    start, end = float(cells[0]), float(cells[1])  # the first event
    colour = page.evaluate("""async ([time]) => {
        const v = document.querySelector('#video-out video');
        v.currentTime = time;
        await new Promise(r => v.addEventListener('seeked', r, {once: true}));
        const canvas = document.createElement('canvas');
        canvas.width = v.videoWidth; canvas.height = v.videoHeight;
        const ctx = canvas.getContext('2d');
        ctx.drawImage(v, 0, 0);
        return Array.from(ctx.getImageData(v.videoWidth - 6, 4, 1, 1).data.slice(0, 3));
    }""", [(start + end) / 2])
    page.locator("#video-out").screenshot(path=str(ARTIFACTS / "tab_video_during_event.png"))
    from ripdetect.viz.draw import RIP_COLOUR

    assert max(abs(a - b) for a, b in zip(colour, RIP_COLOUR)) < 40, colour


@pytest.mark.slow
def test_batch_tab(page, tmp_path):
    landscape = SAMPLES / "synthetic_rip_aerial.jpg"
    portrait = tmp_path / "portrait_norip.jpg"
    Image.open(SAMPLES / "synthetic_norip_oblique.jpg").transpose(Image.Transpose.ROTATE_90).save(portrait)
    bad = tmp_path / "notes.jpg"
    bad.write_text("a text file with a photo's name")
    page.get_by_role("tab", name="Batch").click()
    page.locator("#batch-in input[type=file]").set_input_files([str(landscape), str(portrait), str(bad)])
    page.wait_for_timeout(1000)
    page.locator("#batch-button").click()
    try:
        page.locator("#batch-gallery img").nth(1).wait_for(timeout=60_000)
        page.wait_for_timeout(1000)
    finally:
        page.screenshot(path=str(ARTIFACTS / "tab_batch.png"), full_page=True)
    table = page.locator("#batch-not-analysed").inner_text()
    assert "notes.jpg" in table and "not an image or unsupported format" in table
    # every picture and caption lies wholly inside the gallery's visible area and inside its own tile, and the
    # picture is scaled to fit its tile (object-fit: contain), so it is shown whole at its own aspect ratio
    shown = page.evaluate("""() => {
        const inside = (a, b) => a.left >= b.left - 1 && a.right <= b.right + 1 && a.top >= b.top - 1
                                 && a.bottom <= b.bottom + 1;
        const area = document.querySelector('#batch-gallery .grid-wrap').getBoundingClientRect();
        return [...document.querySelectorAll('#batch-gallery .thumbnail-item')].map(tile => {
            const img = tile.querySelector('img'), label = tile.querySelector('.caption-label');
            const box = img.getBoundingClientRect(), tileBox = tile.getBoundingClientRect();
            return {fit: getComputedStyle(img).objectFit, natural: img.naturalWidth / img.naturalHeight,
                    inside: inside(box, tileBox) && inside(tileBox, area),
                    caption: label.innerText, captionShown: inside(label.getBoundingClientRect(), area),
                    width: box.width};
        });
    }""")
    assert len(shown) == 2 and all(s["fit"] == "contain" and s["inside"] and s["width"] > 50 for s in shown), shown
    assert all(s["captionShown"] for s in shown), shown
    assert sorted(s["natural"] > 1 for s in shown) == [False, True]  # the portrait stays a portrait
    captions = {s["caption"].split(" · ")[-1]: s["caption"] for s in shown}
    assert captions["synthetic_rip_aerial.jpg"].startswith("RIP CURRENT p = "), captions
    assert captions["portrait_norip.jpg"].split(" p = ")[0] in ("RIP CURRENT", "no rip"), captions


@pytest.mark.slow
def test_about_tab(page):
    page.get_by_role("tab", name="About").click()
    page.get_by_text("Not a swim / no-swim tool").last.wait_for()
    page.screenshot(path=str(ARTIFACTS / "tab_about.png"), full_page=True)
    text = page.locator("body").inner_text()
    assert "What it learnt from" in text and "How well it does" in text and "Limits" in text
    assert "it caught" in text and "false alarm" in text  # the cross-validated results, in sentences


@pytest.mark.slow
def test_teach_a_camera_tab(page, tmp_path):
    """Label uploaded frames of one camera (two days; a click on the rip), adapt, and read the before/after."""
    import numpy as np

    calm, rip = (np.asarray(Image.open(SAMPLES / name).convert("RGB")) for name in
                 ("synthetic_norip_oblique.jpg", "synthetic_rip_oblique.jpg"))
    rng = np.random.default_rng(0)
    frames = []
    for day in (1, 2):
        for index in range(4):
            picture = rip if index == 3 else calm
            noisy = np.clip(picture.astype(np.float32) * rng.uniform(0.85, 1.1) + rng.normal(0, 3, picture.shape), 0,
                            255).astype(np.uint8)
            path = tmp_path / f"cam_2026-07-0{day}_{index}.jpg"
            Image.fromarray(noisy).save(path)
            frames.append(path)
    page.get_by_role("tab", name="Teach a camera").click()
    page.locator("#teach-uploads input[type=file]").set_input_files([str(p) for p in frames])
    page.wait_for_timeout(1000)
    page.locator("#teach-load").click()
    page.locator("#teach-counts").get_by_text("8 frames").wait_for(timeout=60_000)
    for index, path in enumerate(frames):
        page.locator("#teach-caption").get_by_text(path.name).wait_for(timeout=30_000)
        if index % 4 == 3:
            page.locator("#teach-frame img").click(position={"x": 200, "y": 120})  # on the rip
            page.locator("#teach-counts").get_by_text(f"{index + 1} labelled").wait_for(timeout=30_000)
            page.locator("#teach-rip").click()
        else:
            page.locator("#teach-calm").click()
        page.locator("#teach-counts").get_by_text(f"{index + 1} labelled").wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "tab_teach_labelled.png"), full_page=True)
    assert "8 labelled (2 rip, 6 no rip)" in page.locator("#teach-counts").inner_text()
    page.locator("#teach-adapt").click()
    try:
        page.locator("#teach-report").get_by_text("held-out days").wait_for(timeout=300_000)
        page.wait_for_function("() => document.querySelector('#teach-model').innerText.includes('.safetensors')",
                               timeout=30_000)
    finally:
        page.screenshot(path=str(ARTIFACTS / "tab_teach_report.png"), full_page=True)
    table = page.locator("#teach-table").inner_text()
    assert "rips caught" in table and "false alarms" in table and "base model" in table


@pytest.mark.slow
def test_cameras_tab(browser, tmp_path, stills, toy_checkpoint):
    """Two cameras watched to the end of their clips (one with a rip): the tab shows both, each with its state, its
    latest frame, its events and today's timeline, without a click on Refresh."""
    from ripdetect.app.layout import launch
    from ripdetect.cameras.profiles import load_profiles
    from ripdetect.cameras.watch import Watcher

    two_cameras(tmp_path, stills, toy_checkpoint, rip_s=5)
    Watcher(load_profiles(tmp_path / "cameras.yaml"), tmp_path / "out", once=True).run()
    port = free_port()
    demo = launch(None, port=port, block=False, cameras_path=tmp_path / "cameras.yaml", watch_dir=tmp_path / "out")
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(f"http://127.0.0.1:{port}/", wait_until="load")
        page.get_by_role("tab", name="Cameras").click()
        page.wait_for_function("""() => ['north', 'south'].every(name =>
            [...document.querySelectorAll(`#camera-${name} img`)].filter(i => i.naturalWidth > 0).length === 2)""",
                           timeout=120_000)
        north, south = (page.locator(f"#camera-{name}").first.inner_text() for name in ("north", "south"))
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "tab_cameras.png"), full_page=True)
        page.close()
    finally:
        demo.close()
    assert "north: ✔ all files analysed" in north and "south: ✔ all files analysed" in south
    event_row = re.compile(r"north\.mp4 [\d.]+–[\d.]+ s\s+[\d.]+\s+0\.9\d+\s+none: no alert channel configured")
    assert len(event_row.findall(north)) == 1 and not event_row.findall(south)  # north's rip event (p > 0.9)
