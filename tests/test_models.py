import pytest
import torch

from workbench.models import build_model, count_parameters, group_parameters, layer_groups


@pytest.mark.parametrize("name, kw, shape, groups", [
    ("cnn", {}, (2, 1, 28, 28), ("conv1", "conv2", "fc1", "fc2")),
    ("cnn", {"in_channels": 3, "image_size": 32}, (2, 3, 32, 32), ("conv1", "conv2", "fc1", "fc2")),
    ("resnet18", {"in_channels": 1}, (2, 1, 28, 28),
     ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4", "fc")),
    ("mlp", {"depth": 3, "width": 16}, (2, 1, 28, 28), ("layer1", "layer2", "layer3", "head")),
])
def test_models_have_named_groups_and_run(name, kw, shape, groups):
    model = build_model(name, **kw)
    assert tuple(layer_groups(model)) == groups
    assert model(torch.randn(shape)).shape == (2, 10)
    # every trainable parameter belongs to exactly one group
    per_group = sum(sum(p.numel() for p in ps) for ps in group_parameters(model).values())
    assert per_group == count_parameters(model)


def test_mlp_slope_one_is_linear():
    torch.manual_seed(0)
    m = build_model("mlp", depth=3, width=8, slope=1.0)
    a, b = torch.randn(4, 1, 28, 28), torch.randn(4, 1, 28, 28)
    bias = m(torch.zeros(1, 1, 28, 28))
    torch.testing.assert_close(m(a + b) - bias, (m(a) - bias) + (m(b) - bias))


def test_unknown_names_list_the_choices():
    with pytest.raises(ValueError, match="expected one of: cnn, resnet18, mlp"):
        build_model("vgg")
    with pytest.raises(ValueError, match="groups are: conv1, conv2, fc1, fc2"):
        group_parameters(build_model("cnn"), ["conv3"])


@pytest.mark.parametrize("data", ["fashion-mnist", "cifar10"])
def test_default_cnn_spreads_parameters_over_its_groups(data):
    """Issue 10: no group above 40%, so a surgical fix trains a minority of the parameters."""
    from workbench.config import TrainConfig
    from workbench.models import count_parameters, group_shares, model_for

    model = model_for(TrainConfig(data=data))
    shares = group_shares(model)
    assert list(shares) == ["conv1", "conv2", "fc1", "fc2"]
    assert max(shares.values()) < 0.4, shares
    # brute force: count every parameter tensor by the group its name starts with
    counts = dict.fromkeys(shares, 0)
    for name, p in model.named_parameters():
        counts[name.split(".")[0]] += p.numel()
    total = count_parameters(model)
    assert sum(counts.values()) == total
    for g, c in counts.items():
        assert shares[g] == pytest.approx(c / total)
