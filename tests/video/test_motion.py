"""Motion evidence: seaward from the scene, seaward flow in a rip and not in plain surf, nothing from camera shake."""

import cv2
import numpy as np
import pytest

from ripdetect.synth.projection import SceneCamera
from ripdetect.synth.writer import scene_for
from ripdetect.video.motion import MotionWindow, land_and_sky, offshore_field, optical_flow, seaward_speed, small_grey


def test_seaward_points_away_from_the_land_and_sky_is_not_land():
    # a shore camera: sky above a level horizon, sea, beach below
    water = np.zeros((60, 80), bool)
    water[20:45] = True
    land, oblique = land_and_sky(water)
    ux, uy = offshore_field(water)
    assert oblique and land[50:].all() and not land[:20].any()
    assert uy[water].mean() < -0.9  # up the frame, toward the horizon
    # a drone: beach on the left, sea on the right, no sky
    water = np.zeros((60, 80), bool)
    water[:, 30:] = True
    land, oblique = land_and_sky(water)
    ux, uy = offshore_field(water)
    assert not oblique and land[:, :30].all()
    assert ux[water].mean() > 0.9  # to the right, away from the beach
    # a diagonal shore seen from above: land top left, sea bottom right
    ys, xs = np.mgrid[0:60, 0:80]
    water = xs + ys > 60
    ux, uy = offshore_field(water)
    assert ux[water].mean() > 0.5 and uy[water].mean() > 0.5


def _window(camera: SceneCamera, shake=None, seconds: float = 8.0) -> float:
    """The motion strength after ``seconds`` of frame pairs 0.2 s apart, sampled at 2 fps, seen through the exact sea."""
    window = MotionWindow(10.0)
    summary = None
    for k in range(int(seconds * 2)):
        t = 0.5 + k * 0.5
        a = camera.render(t - 0.2, shake=(0.0, 0.0) if shake is None else shake(2 * k))
        b = camera.render(t, shake=(0.0, 0.0) if shake is None else shake(2 * k + 1))
        grey_a, grey_b = small_grey(a.image), small_grey(b.image)
        sea = cv2.resize(b.water_mask.astype(np.uint8), grey_b.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
        offshore = offshore_field(sea)
        summary = window.update(t, seaward_speed(optical_flow(grey_a, grey_b), offshore, 0.2), sea, offshore)
    return summary.strength


@pytest.mark.slow
def test_a_rip_flows_seaward_and_plain_surf_does_not():
    """Seen from a drone (the rip close and large): the rip's channel carries foam seaward; the no-rip scene's
    breaking waves travel shoreward only."""
    rip = _window(SceneCamera(scene_for(11, 2, True, "mixed"), 192, 128))
    calm = _window(SceneCamera(scene_for(11, 3, False, "aerial"), 192, 128))
    assert rip > 3 * max(calm, 1e-3), (rip, calm)


def test_camera_shake_alone_raises_no_motion_evidence():
    """A still frame seen through a shaking camera (up to 2 px each way): the shake is the frame's median flow, taken
    off, and nothing flows seaward."""
    camera = SceneCamera(scene_for(11, 3, False, "aerial"), 192, 128)
    still = camera.render(1.0)
    rng = np.random.default_rng(0)
    window = MotionWindow(10.0)
    grey = small_grey(still.image)
    sea = cv2.resize(still.water_mask.astype(np.uint8), grey.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
    offshore = offshore_field(sea)
    previous = grey
    for k in range(16):
        dx, dy = rng.uniform(-2, 2, 2)
        moved = cv2.warpAffine(grey, np.float32([[1, 0, dx], [0, 1, dy]]), grey.shape[::-1],
                               borderMode=cv2.BORDER_REPLICATE)
        summary = window.update(k * 0.5, seaward_speed(optical_flow(previous, moved), offshore, 0.2), sea, offshore)
        previous = moved
    assert summary.strength < 0.002, summary.strength
