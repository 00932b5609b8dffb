import pytest

from ripdetect.data.labels import RegionLabel, read_desilva_boxes, read_yolo_polygons
from ripdetect.data.layouts import load_samples, manifest_hash, split_samples
from ripdetect.errors import DataError
from tests.helpers import make_scene, write_png


@pytest.mark.parametrize("pos,neg", [("rip", "no_rip"), ("with rips", "without rips"), ("with_rips", "without_rips"),
                                     ("Rip", "No_Rip")])
def test_class_folder_names(tmp_path, rng, pos, neg):
    for name, rip in ((pos, True), (neg, False)):
        for i in range(2):
            write_png(tmp_path / name / f"{i}.png", make_scene(rng, rip))
    samples = load_samples(tmp_path)
    assert sorted(s.label for s in samples) == [0, 0, 1, 1]


def test_masks_are_attached(class_folder):
    samples = load_samples(class_folder)
    rips = [s for s in samples if s.label == 1]
    assert all(s.region.mask_path for s in rips)
    mask = rips[0].region.to_mask(48, 72)
    assert mask[:24, 20:40].all() and not mask[30:].any()


def test_desilva_boxes_several_rows_and_swapped_corners(tmp_path, rng):
    for name, rip in (("with rips", True), ("without rips", False)):
        write_png(tmp_path / name / ("rip-1.png" if rip else "norip-1.png"), make_scene(rng, rip, 100, 200))
    (tmp_path / "data_labels.csv").write_text(
        "Name,x1,y1,x2,y2,label\nrip-1.png,10,10,50,40,1\nrip-1.png,150,60,100,20,1\nbad,row\n")
    boxes = read_desilva_boxes(tmp_path / "data_labels.csv")
    assert boxes["rip-1.png"] == [(10, 10, 50, 40), (100, 20, 150, 60)]
    sample = next(s for s in load_samples(tmp_path) if s.label == 1)
    mask = sample.region.to_mask(50, 100, source_size=(200, 100))  # half size
    assert mask[5:20, 5:25].all() and mask[10:30, 50:75].all() and not mask[40:, :].any()


def test_yolo_polygons(tmp_path, rng):
    for i, rip in enumerate((True, False, False)):
        write_png(tmp_path / "images" / f"{i}.jpg", make_scene(rng, rip))
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "0.txt").write_text("0 0.1 0.1 0.5 0.1 0.5 0.5 0.1 0.5\n")
    (tmp_path / "labels" / "1.txt").write_text("")  # empty label file = no rip; 2.jpg has none at all
    samples = load_samples(tmp_path)
    assert [s.label for s in samples] == [1, 0, 0]
    mask = samples[0].region.to_mask(100, 100)
    assert mask[20:45, 20:45].all() and not mask[60:, 60:].any()
    assert read_yolo_polygons(tmp_path / "labels" / "missing.txt") == []


def test_csv_manifest_with_given_split(tmp_path, rng):
    for i in range(4):
        write_png(tmp_path / "img" / f"{i}.png", make_scene(rng, i % 2 == 0))
    (tmp_path / "m.csv").write_text("path,label,split\nimg/0.png,rip,train\nimg/1.png,no_rip,train\n"
                                    "img/2.png,1,val\nimg/3.png,0,val\n")
    samples = load_samples(tmp_path / "m.csv")
    train, val = split_samples(samples, 0.5, seed=0)
    assert [s.path.endswith(n) for s, n in zip(val, ("2.png", "3.png"))] == [True, True]
    assert len(train) == 2


def test_stratified_split_is_seeded(class_folder):
    samples = load_samples(class_folder)
    a = split_samples(samples, 0.34, seed=1)
    b = split_samples(samples, 0.34, seed=1)
    assert [s.path for s in a[1]] == [s.path for s in b[1]]
    assert sorted(s.label for s in a[1]) == [0, 0, 1, 1]
    assert manifest_hash(a[0] + a[1]) == manifest_hash(samples)


@pytest.mark.parametrize("setup,message", [
    (lambda root: None, "not found"),
    (lambda root: root.mkdir(), "unknown dataset layout"),
    (lambda root: (root / "rip").mkdir(parents=True), "missing the 'no_rip' class folder"),
    (lambda root: ((root / "rip").mkdir(parents=True), (root / "no_rip").mkdir()), "has no images"),
])
def test_bad_layouts_give_one_line_errors_with_expected_layouts(tmp_path, setup, message):
    root = tmp_path / "d"
    setup(root)
    with pytest.raises(DataError, match=message) as info:
        load_samples(root)
    assert "expected one of" in str(info.value) and "\n" not in str(info.value)


def test_region_label_empty():
    assert RegionLabel().is_empty
    assert not RegionLabel().to_mask(4, 4).any()
    box = RegionLabel(boxes=((0, 0, 2, 2),)).to_mask(4, 4)
    assert box.dtype == bool and box.sum() == 4 and box[:2, :2].all()


def test_a_manifest_too_large_or_without_columns_is_one_line(tmp_path, monkeypatch):
    """Manifests, a camera's labels and clip lists are read by one bounded reader."""
    from ripdetect.data import layouts
    from ripdetect.video.evaluation import load_labelled_clips

    manifest = tmp_path / "big.csv"
    manifest.write_text("path,label\n" + "a.jpg,rip\n" * 200)
    monkeypatch.setattr(layouts, "MAX_TABLE_BYTES", 1024)
    with pytest.raises(DataError, match=r"the manifest is 2,011 bytes; at most 1,024 are read") as info:
        load_samples(manifest)
    assert "big.csv" in str(info.value) and "\n" not in str(info.value)
    (tmp_path / "clips.csv").write_text("video,label\nx.mp4,rip\n")
    with pytest.raises(DataError, match=r"a clip manifest needs columns path,label\[,events\]"):
        load_labelled_clips([tmp_path / "clips.csv"])
