"""``--executor ray`` on a local Ray (started by the command itself, as without ``--ray-address``): the same
results as a local run, the same folders, resume and error records."""

import json
import sys

import pytest

from tests.helpers import two_cameras, write_clip

ray = pytest.importorskip("ray")
TIMING = ("processing_s",)
pytestmark = pytest.mark.system  # a local Ray cluster


@pytest.fixture(scope="module", autouse=True)
def ray_session():
    yield
    if ray.is_initialized():
        ray.shutdown()


def summaries(root) -> dict[str, dict]:
    return {path.parent.name: {k: v for k, v in json.loads(path.read_text()).items() if k not in TIMING}
            for path in sorted(root.glob("*/summary.json"))}


@pytest.mark.slow
def test_video_on_ray_gives_the_local_results(cli, tmp_path, tiny_checkpoint):
    clips = [write_clip(tmp_path / "in" / f"clip{i}.mp4", seconds=1.5 + i * 0.5, rip=i != 1) for i in range(3)]
    (tmp_path / "in" / "broken.mp4").write_bytes(b"not a video")
    args = ["--model", tiny_checkpoint, "--sample-fps", "4", "--window", "1", "--no-video"]
    local = cli("video", tmp_path / "in", "--out", tmp_path / "local", *args)
    on_ray = cli("video", tmp_path / "in", "--out", tmp_path / "ray", *args, "--executor", "ray", "--jobs", "2")
    assert local.returncode == on_ray.returncode == 1  # the broken file is an error record in both
    assert len(summaries(tmp_path / "local")) == 3
    assert summaries(tmp_path / "ray") == summaries(tmp_path / "local")
    rows = {r["input"]: r for r in json.loads((tmp_path / "ray" / "batch.json").read_text())}
    assert [rows[str(c)]["status"] for c in clips] == ["done"] * 3
    assert rows[str(tmp_path / "in" / "broken.mp4")]["status"] == "error"
    again = cli("video", tmp_path / "in", "--out", tmp_path / "ray", *args, "--executor", "ray")  # resumed
    statuses = sorted(json.loads(line).get("status", "error") for line in again.stdout.splitlines())
    assert statuses == ["error", "skipped", "skipped", "skipped"]


@pytest.mark.slow
def test_watch_on_ray_gives_the_local_clip_results(cli, tmp_path, stills, toy_checkpoint):
    two_cameras(tmp_path, stills, toy_checkpoint)

    def clip_results(out):
        found = {}
        for path in sorted(out.glob("*/*/*/summary.json")):
            summary = json.loads(path.read_text())
            found[summary["camera"]] = {k: v for k, v in summary.items() if k not in ("clip_start", "clip_end")}
            found[summary["camera"]]["events"] = [{k: v for k, v in e.items() if not k.endswith("_time")}
                                                  for e in summary["events"]]
        return found

    local = cli("watch", "--cameras", tmp_path / "cameras.yaml", "--out", tmp_path / "local", "--once")
    on_ray = cli("watch", "--cameras", tmp_path / "cameras.yaml", "--out", tmp_path / "ray", "--once",
                 "--executor", "ray")
    assert local.returncode == on_ray.returncode == 0, on_ray.stderr
    assert clip_results(tmp_path / "ray") == clip_results(tmp_path / "local")
    assert clip_results(tmp_path / "ray")["north"]["rip_detected"] is True


@pytest.mark.slow
def test_without_ray_the_executor_says_how_to_install_it(cli, tmp_path, tiny_checkpoint, monkeypatch):
    if ray.is_initialized():
        ray.shutdown()
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    clip = write_clip(tmp_path / "clip.mp4", seconds=1.0)
    result = cli("video", clip, "--out", tmp_path / "out", "--model", tiny_checkpoint, "--executor", "ray")
    assert result.returncode == 2
    # lines Ray's log monitor forwards late from an earlier test's workers ("(VideoWorker pid=...)") are not ours
    ours = [line for line in result.stderr.strip().splitlines() if not line.startswith("\x1b[36m(")]
    assert ours == ["ripdetect: error: --executor ray needs ray, which is not installed: pip install 'ripdetect[ray]'"]
