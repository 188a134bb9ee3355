"""An import collects cycles less often, and puts the collector back as it found it."""

from __future__ import annotations

import gc

import pytest
from cardcrm.core.csv_io.collector import OLD, YOUNG, fewer_collections


@pytest.fixture(autouse=True)
def _thresholds():
    saved = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*saved)


def test_an_import_collects_less_often_and_puts_the_thresholds_back():
    with fewer_collections():
        young, _middle, old = gc.get_threshold()
        assert (young, old) == (YOUNG, OLD)
    assert gc.get_threshold() == (700, 10, 10)


def test_the_thresholds_come_back_when_the_import_fails():
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("bad row")
    assert gc.get_threshold() == (700, 10, 10)


def test_overlapping_imports_put_the_thresholds_back_when_the_last_ends():
    first, second = fewer_collections(), fewer_collections()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold()[0] == YOUNG  # the second is still running
    second.__exit__(None, None, None)
    assert gc.get_threshold() == (700, 10, 10)


def test_higher_thresholds_set_by_the_operator_are_kept():
    gc.set_threshold(50_000, 10, 10)
    with fewer_collections():
        assert gc.get_threshold()[0] == 50_000
    assert gc.get_threshold() == (50_000, 10, 10)
