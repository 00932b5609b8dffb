"""Cameras over the top-down world: an oblique shore camera (horizon, sky, foreshortening, haze, glare)
or a drone / aerial view (rotated, slightly tilted). The rip mask goes through the same warp."""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from ripdetect.synth.noise import fractal_noise, smoothstep
from ripdetect.synth.realism import barrel, paint_headland, sky_colours
from ripdetect.synth.scene import WATER_PALETTES, SceneParams, WorldRenderer

WORLD_SCALE = 1.6  # world map size relative to the output


class Rendered(NamedTuple):
    image: np.ndarray  # uint8 RGB
    rip_mask: np.ndarray  # bool: where the rip is
    water_mask: np.ndarray  # bool: where the sea is (not sky, land or structures)


class SceneCamera:
    """Renders frames of one scene at ``width x height``; static layers are built once."""

    def __init__(self, params: SceneParams, width: int, height: int):
        self.p, self.width, self.height = params, width, height
        world_w = int(max(width, height) * WORLD_SCALE)
        world_h = int(world_w * 0.75)
        self.world = WorldRenderer(params, world_h, world_w)
        rng = np.random.default_rng(params.seed + 1)
        self.horizon = 0
        if params.view == "oblique":
            self.matrix, self.horizon = self._oblique_matrix(rng, world_w, world_h)
            self.sky = self._sky(rng)
        else:
            self.matrix = self._aerial_matrix(rng, world_w, world_h)
        self.noise_sigma = float(rng.uniform(1.0, 5.0))
        self.grain = rng

    def _oblique_matrix(self, rng: np.random.Generator, world_w: int, world_h: int) -> tuple[np.ndarray, int]:
        p, width, height = self.p, self.width, self.height
        horizon = int(height * rng.uniform(0.12, 0.45) * (0.6 + p.camera_tilt))
        horizon = int(np.clip(horizon, height * 0.08, height * 0.5))
        inland = p.realism.inland if p.realism is not None else 0.0
        far_y, near_y = rng.uniform(0.0, 0.12), min(0.98, p.shore_y + rng.uniform(0.08, 0.2) + inland)
        centre = rng.uniform(0.35, 0.65)
        far_half, near_half = rng.uniform(0.6, 1.0), rng.uniform(0.12, 0.3)
        src = np.float32([[centre - far_half, far_y], [centre + far_half, far_y],
                          [centre + near_half, near_y], [centre - near_half, near_y]])
        if p.direction == "along":  # look along the beach: the shoreline becomes a diagonal
            skew = rng.uniform(0.25, 0.45) * (1 if p.swap_sides else -1)
            src[:2, 0] += skew
            src[2:, 0] -= skew * 0.6
        src *= np.float32([world_w, world_h])
        v_far = horizon + max(2, int(height * 0.015))
        dst = np.float32([[0, v_far], [width, v_far], [width, height], [0, height]])
        return cv2.getPerspectiveTransform(src, dst), horizon

    def _aerial_matrix(self, rng: np.random.Generator, world_w: int, world_h: int) -> np.ndarray:
        p, width, height = self.p, self.width, self.height
        centre = (world_w * rng.uniform(0.4, 0.6), world_h * (p.shore_y - p.surf_width * rng.uniform(0.2, 0.7)))
        scale = rng.uniform(0.85, 1.3) * min(world_w / width, world_h / height) * 0.6
        rotation = cv2.getRotationMatrix2D(centre, p.aerial_angle, 1.0)
        corners = np.float32([[-width / 2, -height / 2], [width / 2, -height / 2], [width / 2, height / 2],
                              [-width / 2, height / 2]]) * scale
        tilt = rng.uniform(0, 0.25)  # aerial-oblique: the top of the frame is further away
        corners[:2, 0] *= 1 + tilt
        src = corners + np.float32(centre)
        src = cv2.transform(src[None], rotation)[0].astype(np.float32)
        dst = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
        return cv2.getPerspectiveTransform(src, dst)

    def _sky(self, rng: np.random.Generator) -> np.ndarray:
        p = self.p
        rows = max(1, self.horizon)
        top = np.float32((70, 120, 190)) if p.light > 0.85 else np.float32((150, 160, 170))
        haze, cloud_scale = np.float32((205, 215, 225)), 1.0
        if p.realism is not None:
            top, haze, cloud_scale = sky_colours(p.realism.sky_style, p.light)
        t = np.linspace(0, 1, rows, dtype=np.float32)[:, None, None] ** 1.5
        sky = top + (haze - top) * t
        sky = np.repeat(sky, self.width, axis=1)
        clouds = smoothstep(0.0, 0.6, fractal_noise(rng, rows, self.width, 3, 4, aspect=3.0)) * rng.uniform(0, 0.9)
        clouds = np.clip(clouds * cloud_scale, 0, 1)
        return sky + (np.float32((240, 240, 242)) - sky) * clouds[..., None]

    def render(self, t: float = 0.0, rip_level: float = 1.0, shake: tuple[float, float] = (0.0, 0.0)) -> Rendered:
        """The frame at time ``t`` seconds: uint8 RGB image, exact rip mask and exact water mask; ``shake`` moves the
        camera by (dx, dy) pixels (a mast in the wind), masks and all."""
        p = self.p
        world, world_mask, world_water = self.world.render(t, rip_level)
        size = (self.width, self.height)
        image = cv2.warpPerspective(world, self.matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        mask = cv2.warpPerspective(world_mask.astype(np.uint8), self.matrix, size, flags=cv2.INTER_NEAREST,
                                   borderMode=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)
        water = cv2.warpPerspective(world_water.astype(np.uint8), self.matrix, size, flags=cv2.INTER_NEAREST,
                                    borderMode=cv2.BORDER_REPLICATE).astype(bool)
        if p.view == "oblique":
            image = self._atmosphere(image)
            mask[: self.horizon + 1] = False
            water[: self.horizon] = False  # the sky
        if p.realism is not None:
            paint_headland(image, water, self.horizon, p.realism, np.random.default_rng([p.seed, 97]))
            mask &= water
            image, mask, water = barrel([image, mask, water], p.realism.lens_k)
        image = self._grade(image)
        if shake != (0.0, 0.0):
            moved = np.float32([[1, 0, shake[0]], [0, 1, shake[1]]])
            size = (self.width, self.height)
            image = cv2.warpAffine(image, moved, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            mask, water = (cv2.warpAffine(m.astype(np.uint8), moved, size, flags=cv2.INTER_NEAREST,
                                          borderMode=cv2.BORDER_REPLICATE).astype(bool) for m in (mask, water))
        return Rendered(image, mask, water)

    def _atmosphere(self, image: np.ndarray) -> np.ndarray:
        p, h = self.p, self.horizon
        deep = np.float32(WATER_PALETTES[p.palette][0])
        band = max(2, int(self.height * 0.015)) + 1
        image[h:h + band] = deep * 1.1
        image[:h] = self.sky
        rows = np.arange(self.height, dtype=np.float32)[:, None]
        haze = np.exp(-np.maximum(rows - h, 0) / (self.height * (0.08 + 0.3 * p.haze))) * (rows >= h) * (0.35 + p.haze)
        image = image + (np.float32((200, 208, 215)) - image) * np.clip(haze, 0, 0.9)[..., None]
        if p.glare:
            cols = np.arange(self.width, dtype=np.float32)[None, :]
            centre = self.width * (0.3 + 0.4 * ((p.seed * 0.618) % 1))
            spot = np.exp(-((cols - centre) / (self.width * 0.12)) ** 2) * np.exp(-np.maximum(rows - h, 0) / (self.height * 0.25))
            image = image + p.glare * 120 * (spot * (rows > h))[..., None]
        return image

    def _grade(self, image: np.ndarray) -> np.ndarray:
        p = self.p
        image = image * p.light
        image[..., 0] *= 1 + 0.12 * p.warmth
        image[..., 2] *= 1 - 0.12 * p.warmth
        grey = image.mean(axis=2, keepdims=True)
        image = image + (grey - image) * (0.25 * p.haze)
        image = cv2.GaussianBlur(image, (0, 0), 0.6)
        image += self.grain.normal(0, self.noise_sigma, image.shape).astype(np.float32)
        return np.clip(image, 0, 255).astype(np.uint8)


def render_scene(params: SceneParams, width: int, height: int, t: float = 0.0) -> Rendered:
    """One still image with its exact rip and water masks."""
    return SceneCamera(params, width, height).render(t)
