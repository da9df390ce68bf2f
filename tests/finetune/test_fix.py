"""FixResult, the Fix button's and ``workbench fix``'s result: one table with a column per
level, every stored string escaped, and the time of the whole press against full training."""

from html.parser import HTMLParser

import numpy as np
import pytest
from numpy.testing import assert_allclose

from workbench.finetune import FixResult
from workbench.finetune.surgical import SurgicalReport

HOSTILE = "<img src=x onerror=alert(1)>&fc"


def report(level, *, fixed, broken, wall_time, groups=("fc",)):
    target = np.array([0, 1, 2, 3])
    return SurgicalReport(
        level=level, groups=tuple(groups), fixed=fixed, broken=broken, n_test=4,
        errors_before=2, errors_after=2 - fixed + broken, n_params_trained=50,
        n_params_total=200, steps=10, epochs=1, lr=0.01, momentum=0.8,
        momentum_clipped=False, wall_time=wall_time, full_train_steps=100,
        full_train_time=600.0, diagnosis_time=5.0, sample=np.arange(4), target=target,
        pred_before=target, pred_after=target)


class Table(HTMLParser):
    """Rows of <table> cells (th and td) as text, and every tag seen."""

    def __init__(self):
        super().__init__()
        self.rows, self.tags, self._cell = [], [], None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.rows[-1].append(self._cell)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def parse(html):
    t = Table()
    t.feed(html)
    return t


@pytest.fixture
def result():
    return FixResult(4, [HOSTILE], {"layer": report("layer", fixed=2, broken=0, wall_time=22.0,
                                                    groups=(HOSTILE,)),
                                    "parameter": report("parameter", fixed=1, broken=1,
                                                        wall_time=20.0, groups=(HOSTILE,))},
                     why=f"auto ({HOSTILE})", press_time=199.0, full_train_time=520.0)


def test_time_saved_is_the_whole_press_against_full_training_both_stated(result):
    assert_allclose(result.time_saved, 1 - 199.0 / 520.0)
    line = result.time_line()
    assert "199.0 s" in line and "520.0 s" in line and f"{100 * (1 - 199 / 520):.1f}%" in line
    # not the fine-tune loop of one level (22 s) against the training: 95.8% would be wrong
    assert f"{100 * (1 - 22 / 520):.1f}%" not in line
    unknown = FixResult(4, ["fc"], {}, press_time=10.0, full_train_time=None)
    assert np.isnan(unknown.time_saved)
    assert "recorded no training time" in unknown.time_line()


def test_html_is_one_table_with_a_column_per_level(result):
    pngs = {"layer": b"\x89PNG-layer", "parameter": b"\x89PNG-param"}
    html = result.to_html(images=pngs)
    t = parse(html)
    assert t.tags.count("table") == 1
    head, *body = t.rows
    assert head == ["", "layer level", "parameter level"]
    assert all(len(row) == 3 for row in body)      # a label and one cell per level
    rows = {row[0]: row[1:] for row in body}
    assert rows["errors fixed (wrong → right)"] == ["2", "1"]
    assert rows["errors broken (right → wrong)"] == ["0", "1"]
    assert rows["net"] == ["+2", "+0"]
    assert rows["fine-tune time"] == ["22.0 s", "20.0 s"]
    assert t.tags.count("img") == 2                 # each level's gallery in its column
    assert html.count("max-width:100%") == 2 and "min-width:0px" in html
    assert html.count("min-width:360px") == 0
    assert result.to_html(images=pngs, min_width=360).count("min-width:360px") == 2
    assert "199.0 s" in html and "520.0 s" in html
    assert result._repr_html_() == result.to_html()


def test_html_escapes_every_string_from_the_run_store(result):
    html = result._repr_html_()
    assert HOSTILE not in html and "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;&amp;fc" in html
    assert parse(html).tags.count("img") == 0      # no markup from the group name


def test_text_is_one_table_too(result):
    text = str(result)
    lines = text.splitlines()
    assert lines[1].split() == ["layer", "level", "parameter", "level"]
    net = next(ln for ln in lines if ln.startswith("net "))
    assert net.split()[1:] == ["+2", "+0"]
    assert lines[-1] == result.time_line()
