"""The model card's sentences come from the numbers a checkpoint carries, and a card file with unknown fields is
one line."""

import pytest

from ripdetect.errors import ConfigError
from ripdetect.models.card import card_text, check_card


def test_card_sentences_count_what_the_confusion_matrices_say():
    metadata = {"model_card": {
        "training_data": "1,200 synthetic scenes and 62 real photos",
        "cross_validation": {"folds": 5, "sites": 42,
                             "overall": {"n": 62, "confusion_matrix": [[36, 4], [6, 16]], "balanced_accuracy": 0.81,
                                         "roc_auc": 0.85, "intervals": {"balanced_accuracy": [0.69, 0.95]}},
                             "by_viewpoint": {"beach_camera": {"n": 48, "confusion_matrix": [[34, 2], [5, 7]],
                                                               "balanced_accuracy": 0.76, "roc_auc": 0.81}}},
        "video": {"false_events": 0, "hours": 50 / 3600, "cameras": 1},
        "localisation": {"centroid_hits": 3, "n": 5, "what": "Haeundae CCTV frames"},
        "limits": ["Weakest on fixed beach cameras."]}}
    text = card_text(metadata)
    assert text.trained_on == "1,200 synthetic scenes and 62 real photos" and text.limits == ["Weakest on fixed beach cameras."]
    joined = "\n".join(text.results)
    assert "5-fold cross-validation grouped by site, 62 photos from 42 sites" in joined
    assert "it caught 16 of 22 rips and raised a false alarm on 4 of 40 calm photos" in joined
    assert "balanced accuracy 0.81 (95 % interval 0.69–0.95)" in joined
    assert "On fixed beach cameras (48 photos): it caught 7 of 12 rips" in joined
    assert "On 50 s of real no-rip beach-camera video (1 camera), it raised 0 false alarms: 0.0 per camera-hour" in joined
    assert "inside the labelled rip box on 3 of 5 Haeundae CCTV frames" in joined


def test_a_viewpoint_with_one_class_and_an_adapted_model_are_told_plainly():
    metadata = {"adapted": {"camera": "pier", "base_model": "ripdetect-default-v3",
                            "report": {"sentence": "On 3 held-out days (30 frames), all calm, it raised 1 false alarm."}},
                "model_card": {"cross_validation": {"folds": 5, "overall": {
                    "n": 10, "confusion_matrix": [[9, 1], [0, 0]], "balanced_accuracy": None, "roc_auc": None}}}}
    results = card_text(metadata).results
    assert results[0] == ("Adapted to the camera 'pier' from ripdetect-default-v3: On 3 held-out days (30 frames), "
                          "all calm, it raised 1 false alarm. The figures below are the base model's.")
    assert results[-1].endswith("it caught 0 of 0 rips and raised a false alarm on 1 of 10 calm photos.")


def test_a_card_without_records_says_so_and_guesses_nothing():
    text = card_text({})
    assert text.trained_on == "not recorded in this checkpoint" and text.results == [] and text.limits == []


@pytest.mark.parametrize("card, message", [([], "expected a mapping"), ({"accuracy": 1}, "unknown field 'accuracy'"),
                                           ({"limits": "none"}, "limits must be a list of sentences")])
def test_a_bad_card_file_is_one_line(card, message):
    with pytest.raises(ConfigError, match=message):
        check_card(card, "card.json")


def test_export_writes_the_card_into_the_checkpoint(cli, tmp_path, tiny_checkpoint):
    import json

    from ripdetect.models.checkpoint import read_metadata

    card = tmp_path / "card.json"
    card.write_text(json.dumps({"training_data": "toy scenes", "limits": ["Toy only."]}))
    result = cli("export", tiny_checkpoint, tmp_path / "carded.safetensors", "--card", card)
    assert result.returncode == 0, result.stderr
    written = read_metadata(tmp_path / "carded.safetensors")["model_card"]
    assert written["training_data"] == "toy scenes" and written["limits"] == ["Toy only."]
    card.write_text(json.dumps({"acuracy": 0.99}))
    result = cli("export", tiny_checkpoint, tmp_path / "other.safetensors", "--card", card)
    assert result.returncode == 2 and "unknown field 'acuracy'" in result.stderr and "\n" == result.stderr[-1:]
    assert not (tmp_path / "other.safetensors").exists()
