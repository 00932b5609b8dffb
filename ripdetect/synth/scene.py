"""Procedural surf zone, top-down ("world") frame: y = 0 is offshore, y = H is land.

A scene is sampled once (``sample_scene``) and then rendered at any time ``t`` by ``WorldRenderer``,
so clips reuse the static layers and only the waves and rip pulses change.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from ripdetect.synth.noise import fractal_noise, lerp_colour, smoothstep
from ripdetect.synth.realism import RealismParams, paint_backshore, sample_realism, swell

WATER_PALETTES = [  # (deep, shallow) RGB
    ((18, 62, 92), (40, 140, 150)),  # temperate blue-green
    ((12, 48, 80), (30, 110, 130)),  # dark Atlantic
    ((20, 90, 120), (70, 190, 185)),  # tropical turquoise
    ((40, 70, 80), (90, 120, 115)),  # overcast grey-green
    ((25, 60, 70), (80, 110, 90)),  # turbid green-brown
]
SAND_COLOURS = [(210, 190, 150), (190, 170, 130), (225, 210, 175), (170, 150, 115), (200, 175, 140)]


@dataclass
class RipParams:
    x: float  # alongshore position of the channel at the shoreline (0..1)
    width: float  # channel width (fraction of world width)
    angle_deg: float  # deviation from shore-normal
    neck: float  # how far past the bar the neck reaches (fraction of height)
    head_radius: float  # mushroom-head radius (fraction of width)
    strength: float  # 0..1 darkness and foam suppression


@dataclass
class SceneParams:
    seed: int
    view: str  # oblique | aerial
    direction: str  # cross | along (oblique camera heading)
    shore_y: float  # mean shoreline position (fraction of height)
    surf_width: float  # shoreline to outer bar (fraction of height)
    n_crests: int
    breaking: float  # whitewater intensity 0..1 (low = calm)
    palette: int
    sand: int
    rips: list[RipParams] = field(default_factory=list)
    timex: bool = False
    light: float = 1.0
    warmth: float = 0.0
    haze: float = 0.2
    cloud_shadow: float = 0.0
    glare: float = 0.0
    small_gaps: int = 0
    groyne: bool = False
    pier: bool = False
    rocks: bool = False
    people: int = 0
    boats: int = 0
    camera_tilt: float = 0.5
    aerial_angle: float = 0.0
    swap_sides: bool = False
    realism: RealismParams | None = None  # real-camera detail (see ripdetect.synth.realism); None: plain scenes

    def to_dict(self) -> dict:
        return asdict(self)


def sample_scene(rng: np.random.Generator, seed: int, rip: bool, view: str = "mixed",
                 realism: bool = False, uniform_surf: float = 0.0) -> SceneParams:
    """Random scene parameters; ``rip=False`` scenes get more hard negatives; ``realism`` adds real-camera
    detail, drawn from its own stream (the other parameters are the same with or without it). A share
    ``uniform_surf`` of the no-rip scenes (drawn from a stream of its own too) is an ordinary surf zone: breaking
    bands that run unbroken along the shore, with no gap, calm patch or structure in them (the hard negative of a
    rip detector that fires on any breaking band)."""
    view = view if view != "mixed" else ("oblique" if rng.random() < 0.55 else "aerial")
    calm = not rip and rng.random() < 0.15
    rips = []
    if rip:
        for _ in range(1 if rng.random() < 0.6 else int(rng.integers(2, 4))):
            rips.append(RipParams(x=float(rng.uniform(0.15, 0.85)), width=float(rng.uniform(0.04, 0.12)),
                                  angle_deg=float(rng.uniform(-25, 25)), neck=float(rng.uniform(0.05, 0.18)),
                                  head_radius=float(rng.uniform(0.05, 0.12)), strength=float(rng.uniform(0.6, 1.0))))
    params = SceneParams(
        seed=seed, view=view, direction="cross" if rng.random() < 0.6 else "along",
        shore_y=float(rng.uniform(0.62, 0.78)), surf_width=float(rng.uniform(0.18, 0.36)),
        n_crests=int(rng.integers(2, 6)), breaking=float(rng.uniform(0.05, 0.25) if calm else rng.uniform(0.55, 1.0)),
        palette=int(rng.integers(len(WATER_PALETTES))), sand=int(rng.integers(len(SAND_COLOURS))), rips=rips,
        timex=bool(rng.random() < 0.12), light=float(rng.uniform(0.7, 1.15)), warmth=float(rng.uniform(-0.1, 0.3)),
        haze=float(rng.uniform(0.05, 0.5)), cloud_shadow=float(rng.uniform(0, 0.4) if rng.random() < 0.35 else 0),
        glare=float(rng.uniform(0.2, 0.7) if rng.random() < 0.3 else 0),
        small_gaps=int(rng.integers(2, 7) if not rip and rng.random() < 0.6 else rng.integers(0, 2)),
        groyne=bool(rng.random() < (0.25 if not rip else 0.08)), pier=bool(rng.random() < (0.15 if not rip else 0.05)),
        rocks=bool(rng.random() < (0.3 if not rip else 0.15)), people=int(rng.integers(0, 12)),
        boats=int(rng.integers(0, 3)), camera_tilt=float(rng.uniform(0.25, 0.6)),
        aerial_angle=float(rng.uniform(-35, 35) + (180 if rng.random() < 0.15 else 0)),
        swap_sides=bool(rng.random() < 0.5),
    )
    if realism:
        params.realism = sample_realism(seed, params.view)
    if not rip and uniform_surf > 0:
        own = np.random.default_rng([seed, 96])
        if own.random() < uniform_surf:
            params.breaking = float(own.uniform(0.7, 1.0))
            params.small_gaps, params.groyne, params.pier, params.rocks = 0, False, False, False
            params.n_crests = int(own.integers(3, 6))
    return params


class WorldRenderer:
    """Static layers of one scene, rendered at time ``t`` (seconds) into a top-down RGB map and rip mask."""

    def __init__(self, params: SceneParams, height: int, width: int):
        self.p, self.h, self.w = params, height, width
        rng = np.random.default_rng(params.seed)
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        self.ys, self.xs = ys / height, xs / width
        self.shore = params.shore_y + 0.03 * fractal_noise(rng, 1, width, 2, 2)[0] + 0.02 * np.sin(
            self.xs[0] * np.pi * rng.uniform(1, 3) + rng.uniform(0, 6))
        self.bar = self.shore - params.surf_width * (1 + 0.25 * fractal_noise(rng, 1, width, 3, 2)[0])
        self.foam_texture = fractal_noise(rng, height, width, 10, 4, aspect=4.0)
        self.fine_texture = fractal_noise(rng, height, width, 40, 3, aspect=2.0)
        self.water_noise = fractal_noise(rng, height, width, 3, 3)
        self.sand_noise = fractal_noise(rng, height, width, 20, 3)
        self.cloud = fractal_noise(rng, height, width, 2, 3)
        self.crest_jitter = [fractal_noise(rng, 1, width, 4, 3)[0] * 0.012 for _ in range(params.n_crests + 2)]
        self.gaps = [(rng.uniform(0.05, 0.95), rng.uniform(0.006, 0.02), int(rng.integers(0, params.n_crests)))
                     for _ in range(params.small_gaps)]
        self.rip_fields = [self._rip_field(r, rng) for r in params.rips]
        self.people = [(rng.uniform(0, 1), rng.uniform(-0.08, 0.12)) for _ in range(params.people)]
        self.boats = [(rng.uniform(0.1, 0.9), rng.uniform(0.05, 0.3)) for _ in range(params.boats)]
        self.structure_x = rng.uniform(0.1, 0.9)
        self.rock_centre = (rng.choice([0.02, 0.98]), rng.uniform(-0.1, 0.05))
        self.phase0 = rng.uniform(0, 1)
        self.wave_period = rng.uniform(7, 12)
        # motion of clips, drawn from a stream of its own (stills of a seed stay as they were): how fast the rip
        # carries foam seaward (width units per second), how fast the surf drifts alongshore, how boats move
        motion = np.random.default_rng([params.seed, 95])
        self.rip_speed = float(motion.uniform(0.03, 0.06))
        self.drift = float(motion.uniform(-0.006, 0.006)) if motion.random() < 0.6 else 0.0
        self.boat_speed = [float(motion.uniform(-0.01, 0.01)) for _ in range(params.boats)]
        self.cloud_speed = float(motion.uniform(-0.02, 0.02))
        if params.realism is not None:
            self.realism_texture = fractal_noise(np.random.default_rng([params.seed, 98]), height, width, 30, 3)

    def _rip_field(self, rip: RipParams, rng: np.random.Generator) -> dict:
        """Channel (shore to bar and neck) and mushroom head, as soft 0..1 fields, plus along/across coords."""
        column = min(self.w - 1, int(rip.x * self.w))
        shore_y, bar_y = float(self.shore[column]), float(self.bar[column])
        angle = np.deg2rad(rip.angle_deg)
        aspect = self.h / self.w
        dx, dy = self.xs - rip.x, (shore_y - self.ys) * aspect  # dy: seaward distance in width units
        along = dy * np.cos(angle) + dx * np.sin(angle)
        across = dx * np.cos(angle) - dy * np.sin(angle)
        end = (shore_y - bar_y) * aspect + rip.neck * aspect
        wobble = 1 + 0.35 * fractal_noise(rng, self.h, self.w, 6, 2)
        half_width = rip.width / 2 * wobble * (1 - 0.35 * smoothstep(0, end, along))  # narrows seaward
        channel = smoothstep(1.0, 0.6, np.abs(across) / half_width) * smoothstep(-0.01, 0.02, along) \
            * smoothstep(end + 0.02, end - 0.01, along)
        head_r = rip.head_radius * (1 + 0.3 * fractal_noise(rng, self.h, self.w, 5, 2))
        head_d = np.sqrt(((along - end) / (head_r * 0.75)) ** 2 + (across / (head_r * 1.2)) ** 2)
        head = smoothstep(1.0, 0.55, head_d)
        streaks = 0.5 + 0.5 * fractal_noise(rng, self.h, self.w, 5, 2)
        return {"channel": channel, "head": head, "along": along, "across": across, "streak_phase": streaks,
                "rip": rip}

    def render(self, t: float = 0.0, rip_level: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Top-down RGB float image (0..255), the rip mask and the water mask at time ``t``; ``rip_level`` scales
        rips (0 = none)."""
        p = self.p
        deep, shallow = WATER_PALETTES[p.palette]
        depth = smoothstep(0.0, 1.0, (self.ys - (self.bar - 0.15)) / (self.shore - self.bar + 0.15))
        water = lerp_colour(deep, shallow, np.clip(depth * 0.8 + 0.12 * self.water_noise, 0, 1))
        if p.realism is not None:
            water *= swell(self.ys, self.xs, self.bar, p.realism, self.realism_texture)[..., None]
        foam = self._foam(t)
        mask = np.zeros((self.h, self.w), bool)
        pulse = 0.85 + 0.15 * np.sin(2 * np.pi * t / 23.0 + self.phase0 * 6)
        for field_ in self.rip_fields:
            level = rip_level * field_["rip"].strength * pulse
            if level <= 0.05:
                continue
            channel, head = field_["channel"], field_["head"]
            water = water * (1 - 0.35 * level * channel[..., None]) + np.float32(deep) * 0.35 * level * channel[..., None]
            foam *= 1 - 0.92 * level * channel
            turbid = np.float32((150, 135, 95)) if p.palette in (3, 4) or self.phase0 > 0.5 else np.float32(deep)
            water += (turbid - water) * (0.35 * level * head)[..., None]
            wiggle = np.sin(field_["across"] * 70 + field_["streak_phase"] * 9 + 4 * self.water_noise)
            streak = smoothstep(0.35, 0.95, 0.55 * wiggle + 0.6 * self.fine_texture + 0.2)
            foam = np.maximum(foam, 0.6 * level * streak * np.maximum(head, channel * 0.3))
            # foam and sediment carried seaward: patches that travel along the channel and into the head at the
            # rip's speed (what optical flow sees of a rip)
            carried = np.sin(2 * np.pi * (field_["along"] - self.rip_speed * t) * 24 + 3 * field_["streak_phase"])
            patches = smoothstep(0.3, 0.8, 0.6 * carried + 0.5 * self.fine_texture)
            foam = np.maximum(foam, 0.75 * level * patches * np.maximum(channel, 0.6 * head))
            mask |= (np.maximum(channel, head) > 0.5) & (level > 0.3)
        land = self.ys > self.shore
        wet = smoothstep(0.035, 0.0, self.ys - self.shore) * land
        sand = lerp_colour(SAND_COLOURS[p.sand], np.float32(SAND_COLOURS[p.sand]) * 0.7, wet)
        sand *= (1 + 0.06 * self.sand_noise)[..., None]
        image = np.where(land[..., None], sand, water)
        if p.realism is not None:
            paint_backshore(image, self.ys, self.shore, p.realism, self.realism_texture)
        image = image * (1 - foam[..., None]) + np.float32((245, 247, 245)) * foam[..., None]
        water = ~land
        self._structures(image, mask, water, t)
        if p.cloud_shadow:
            cloud = self._moved(self.cloud, self.cloud_speed * t)
            image *= (1 - p.cloud_shadow * smoothstep(0.1, 0.6, cloud))[..., None]
        mask &= ~land
        return image, mask, water

    def _foam(self, t: float) -> np.ndarray:
        """Breaking bands moving shoreward, shaped by the bar, plus inner-surf residual foam."""
        p = self.p
        span = self.shore - self.bar
        foam = np.zeros((self.h, self.w), np.float32)
        foam_texture, fine_texture = self.foam_texture, self.fine_texture
        if self.drift and t:  # the surf's texture drifts alongshore (a longshore current); the bands stay
            foam_texture, fine_texture = self._moved(foam_texture, self.drift * t), self._moved(fine_texture,
                                                                                             self.drift * t)
        phase = (t / self.wave_period + self.phase0) % 1.0
        for k in range(p.n_crests):
            position = (k + phase) / p.n_crests  # 0 = at the bar, 1 = at the shore
            crest_y = self.bar + span * position + self.crest_jitter[k]
            thickness = (0.008 + 0.02 * (1 - position)) * (1 + 0.6 * foam_texture)
            distance = (self.ys - crest_y) / np.maximum(thickness, 1e-3)
            band = np.exp(-np.where(distance > 0, distance * 0.6, distance * 2.0) ** 2)  # trailing foam shoreward
            band *= np.clip(0.85 + 0.45 * foam_texture + 0.25 * fine_texture, 0, 1)
            for gx, gw, gk in self.gaps:
                if gk == k:
                    band *= 1 - np.exp(-((self.xs - gx) / gw) ** 2)
            foam = np.maximum(foam, band * (0.4 + 0.6 * (1 - position)))
        inner = smoothstep(0, 1, (self.ys - self.bar) / np.maximum(span, 1e-3)) * (self.ys < self.shore)
        residual = np.clip(0.35 * inner * (0.5 + fine_texture + 0.5 * foam_texture), 0, 1)
        foam = np.maximum(foam, residual)
        foam = smoothstep(0.08, 0.6, foam * (0.85 + 0.3 * fine_texture)) * p.breaking  # sharp whitewater
        swash = np.exp(-((self.ys - self.shore + 0.004) / 0.006) ** 2) * (0.5 + 0.5 * fine_texture)
        foam = np.maximum(foam, 0.7 * swash * (self.ys <= self.shore + 0.003))
        if p.timex:
            foam = cv2.GaussianBlur(foam, (0, 0), sigmaX=self.w * 0.004, sigmaY=self.h * 0.012) * 1.3
        return np.clip(foam, 0, 1)

    def _moved(self, layer: np.ndarray, shift: float) -> np.ndarray:
        """``layer`` moved ``shift`` width units alongshore (wrapping round: the textures are noise)."""
        return np.roll(layer, int(round(shift * self.w)), axis=1)

    def _structures(self, image: np.ndarray, mask: np.ndarray, water: np.ndarray, t: float = 0.0) -> None:
        """Groynes, piers, rocks, people and boats: hard negatives drawn over the scene (structures are not water)."""
        p, h, w = self.p, self.h, self.w
        sx = int(self.structure_x * w)
        column = min(w - 1, sx)
        shore_px, bar_px = int(self.shore[column] * h), int(self.bar[column] * h)
        if p.groyne:
            top = max(0, bar_px - int(0.04 * h))
            rocks = (95, 90, 80) * (1 + 0.25 * self.sand_noise[top:shore_px + 5, sx - 6:sx + 6, None])
            rows, cols = slice(top, shore_px + 5), slice(max(0, sx - 6), sx + 6)
            image[rows, cols] = rocks[:, : image[rows, cols].shape[1]]
            water[rows, cols] = False
        if p.pier:
            px = int((1 - self.structure_x) * w)
            image[max(0, bar_px - int(0.1 * h)):shore_px, max(0, px - 3):px + 3] = (70, 60, 50)
            water[max(0, bar_px - int(0.1 * h)):shore_px, max(0, px - 3):px + 3] = False
        if p.rocks:
            cx, cy = self.rock_centre
            distance = np.sqrt(((self.xs - cx) / 0.12) ** 2 + ((self.ys - self.shore - cy) / 0.2) ** 2)
            blob = distance + 0.35 * self.water_noise < 1.0
            image[blob] = np.float32((70, 72, 55)) * (1 + 0.3 * self.sand_noise[blob, None])
            mask &= ~blob
            water &= ~blob
        for x, dy in self.people:
            px, py = int(x * w), int((self.shore[min(w - 1, int(x * w))] + dy * 0.5) * h)
            cv2.circle(image, (px, py), max(1, w // 300), (40, 30, 30), -1)
        for (x, y), speed in zip(self.boats, self.boat_speed):
            x = (x + speed * t) % 1.0
            cv2.ellipse(image, (int(x * w), int(y * h)), (max(3, w // 90), max(2, w // 220)), 0, 0, 360,
                        (235, 235, 235), -1)
