"""No markup from data: every value a store supplies reaches the page escaped (trial: the run
name, config fields and layer names went into ipywidgets.HTML unescaped)."""

import json
import shutil

import xarray as xr
import zarr

EVIL = "<img src=x onerror=alert(1)>"


def _widgets(w):
    yield w
    for child in getattr(w, "children", ()) or ():
        yield from _widgets(child)


def _page_markup(explorer):
    """The markup the page renders: HTML widgets' values and HTML-allowed descriptions."""
    import ipywidgets as widgets

    out = []
    for w in _widgets(explorer.widget):
        if isinstance(w, (widgets.HTML, widgets.HTMLMath)):
            out.append(w.value)
        if getattr(getattr(w, "style", None), "description_allow_html", False) or \
                getattr(w, "description_allow_html", False):
            out.append(w.description)
    return out


def _assert_escaped(markup, must_show=True):
    text = " ".join(markup)
    assert "<img" not in text
    if must_show:
        assert "&lt;img src=x onerror=alert(1)&gt;" in text


def test_explore_escapes_run_name_config_and_classes(mini_run, tmp_path):
    from workbench.widgets.explorer import explore

    run = tmp_path / EVIL
    shutil.copytree(mini_run, run)
    path = str(run / "record.zarr")
    root = zarr.open_group(path, mode="r+", use_consolidated=False)
    cfg = json.loads(root.attrs["config"])
    cfg["momentum"] = EVIL
    root.attrs.update({"config": json.dumps(cfg), "classes": json.dumps([EVIL] * 10)})
    zarr.consolidate_metadata(path)
    ex = explore(run)
    markup = _page_markup(ex)
    _assert_escaped(markup)
    assert sum(EVIL.replace("<", "&lt;").replace(">", "&gt;") in m for m in markup) >= 1


def test_explorer_escapes_layer_names_in_the_status(mini_run):
    from workbench.record.store import open_run
    from workbench.widgets.explorer import Explorer

    tree = open_run(mini_run).load()
    names = [f"{EVIL}{i}" for i in range(tree["layers"].sizes["layer"])]
    nodes = {}
    for node in tree.subtree:
        ds = node.to_dataset(inherit=False)
        if "layer" in ds.dims:
            ds = ds.assign_coords(layer=names)
        nodes[node.path] = ds
    evil_tree = xr.DataTree.from_dict(nodes)
    evil_tree.attrs = dict(tree.attrs)
    ex = Explorer(evil_tree, title=EVIL, classes=[EVIL] * 10)
    ex.state.layer = names[1]
    markup = _page_markup(ex)
    _assert_escaped(markup)
    assert any(f"{EVIL}1".replace("<", "&lt;").replace(">", "&gt;") in m for m in markup)


def test_no_widget_allows_html_descriptions(mini_run):
    from workbench.widgets.explorer import explore

    ex = explore(mini_run)
    for w in _widgets(ex.widget):
        assert not getattr(getattr(w, "style", None), "description_allow_html", False)
