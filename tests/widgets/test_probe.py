from numpy.testing import assert_allclose

from workbench.widgets import ProbeView

from .synthetic import SAMPLES, images_da, line_by_gid, probs_da


def test_sample_slider_options_are_the_probe_samples():
    view = ProbeView(probs_da(), images_da())
    assert list(view.controls["sample"].options) == SAMPLES
    assert view.state.sample == SAMPLES[0]


def test_changing_sample_redraws_image_and_true_class_line():
    probs, images = probs_da(), images_da()
    view = ProbeView(probs, images, classes=["a", "b", "c", "d"])
    view.controls["sample"].value = 20              # target 2
    ax_img, ax_p = view.axes
    assert_allclose(line_by_gid(ax_p, "selected").get_ydata(),
                    probs.sel(sample=20, label=2))
    assert_allclose(ax_img.images[0].get_array(), images.sel(sample=20).values[..., 0])
    assert "true: c" in ax_img.get_title()


def test_epoch_slider_moves_the_marker_and_the_prediction():
    probs = probs_da()
    view = ProbeView(probs, images_da(), classes=list("abcd"))
    view.controls["epoch"].value = 2
    ax_img, ax_p = view.axes
    assert_allclose(line_by_gid(ax_p, "selection").get_xdata(), [2, 2])
    pred = "abcd"[int(probs.sel(sample=SAMPLES[0], epoch=2).argmax("label"))]
    assert ax_img.get_title().endswith(f"epoch 2: {pred}")


def test_without_images_draws_probabilities_only():
    view = ProbeView(probs_da())
    assert len(view.fig.axes) == 1
    assert line_by_gid(view.axes, "selected") is not None
