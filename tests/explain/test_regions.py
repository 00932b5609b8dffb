"""Regions from maps: several rip channels whose evidence merges below the region threshold are outlined, and
counted, one by one; a single channel stays one region."""

import numpy as np

from ripdetect.explain.regions import region_from_cam


def channels(centres: tuple[int, ...], height: int = 60, width: int = 120, spread: float = 9.0) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return sum(np.exp(-((x - cx) ** 2 / (2 * spread ** 2) + (y - 30) ** 2 / (2 * 12 ** 2)))
               for cx in centres).astype(np.float32)


def test_three_merged_channels_are_three_regions():
    cam = channels((25, 60, 95), spread=12.0)
    merged = cam >= 0.5 * cam.max()
    from cv2 import connectedComponents

    assert connectedComponents(merged.astype(np.uint8))[0] == 2  # one blob at the region threshold
    region = region_from_cam(cam, "fraction", 0.5)
    assert region.count == 3 and len(region.polygons) == 3 and region.to_dict()["count"] == 3
    centres = sorted(np.mean([p[0] for p in polygon["exterior"]]) for polygon in region.polygons)
    assert all(abs(found - true) < 8 for found, true in zip(centres, (25, 60, 95))), centres
    assert region.mask.sum() > 0.95 * merged.sum()  # the cuts are thin


def test_one_channel_and_a_shoulder_stay_one_region():
    assert region_from_cam(channels((60,), spread=15)).count == 1
    shoulder = channels((50,), spread=12) + 0.3 * channels((75,), spread=8)  # a bump that never rises on its own
    assert region_from_cam(shoulder).count == 1
