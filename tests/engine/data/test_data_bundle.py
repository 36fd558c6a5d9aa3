from kdsweep.engine.data.bundle import batch_spans


def test_spans_cover_every_sample_once():
    assert batch_spans(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert batch_spans(8, 4) == [(0, 4), (4, 8)]
    assert batch_spans(3, 8) == [(0, 3)]


def test_a_last_batch_of_one_joins_the_previous_one():
    assert batch_spans(9, 4) == [(0, 4), (4, 9)]
    assert batch_spans(1, 4) == [(0, 1)]
    assert batch_spans(5, 4) == [(0, 5)]
