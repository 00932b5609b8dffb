"""One precision per kind of number, and one CSV writer."""

import math

from ripdetect import records


def test_each_kind_of_number_has_one_precision():
    assert records.prob(0.1234567) == 0.12346 and records.share(0.0000049) == 0.0
    assert records.seconds(12.34567) == 12.346 and records.pixels(412.06) == 412.1
    assert records.tenths(59.96) == 60.0
    assert records.prob(None) is None and math.isnan(records.prob(float("nan")))


def test_csv_rows_as_dicts_or_sequences(tmp_path):
    path = records.write_csv(tmp_path / "t.csv", [{"a": 1, "b": None}, {"a": True}, [3, "x,y"]], ["a", "b"])
    assert path.read_text().splitlines() == ["a,b", "1,", "True,", '3,"x,y"']
    assert not [p for p in tmp_path.iterdir() if p.name != "t.csv"]  # written atomically, nothing else left
