from numpy.testing import assert_allclose

from workbench.run import Run
from workbench.widgets import AttributionView, ForcesView, explore

from .synthetic import tree
from .synthetic_analyses2 import attribution_epoch, forces_epoch, store_analyses


def test_a_tab_appears_for_each_stored_analysis_and_follows_the_epoch(tmp_path):
    tree().to_zarr(str(tmp_path / "record.zarr"))
    assert "attribution" not in explore(tmp_path, images=False).views
    store_analyses(tmp_path)
    app = explore(Run(tmp_path), images=False)
    assert isinstance(app.views["attribution"], AttributionView)
    assert isinstance(app.views["forces"], ForcesView)
    assert app.views["attribution"].run is not None and app.views["attribution"].fix
    app.state.epoch = 2                               # moved elsewhere: hidden tabs go stale
    assert app.views["attribution"].stale and app.views["forces"].stale
    app.tabs.selected_index = list(app.views).index("attribution")
    bars = app.views["attribution"].handles["groups"]["bars"]
    assert_allclose([b.get_height() for b in bars], attribution_epoch(2).log_ratio.values)
    app.tabs.selected_index = list(app.views).index("forces")
    view = app.views["forces"]
    want = forces_epoch(2).sel(sample_o=view.sample)
    assert_allclose(view.handles["delta"]["points"].get_ydata(), want.actual.values)
