"""Models with named layer groups.

Every model built here has an attribute ``groups``: the ordered names of its layer groups,
each a direct child module. The recorder, the attribution and the surgical fix all work on
these groups.

============ ============================================ ===================================
name         groups                                       notes
============ ============================================ ===================================
``cnn``      conv1, conv2, fc1, fc2                       small (19k parameters, no group above
                                                          40%); 90.7% on Fashion-MNIST in 3
                                                          CPU epochs
``resnet18`` conv1, bn1, layer1, layer2, layer3, layer4,  torchvision's, stem adapted to small
             fc                                           images (3x3 conv, no max-pool)
``mlp``      layer1 ... layer<depth>, head                depth, width and LeakyReLU slope
                                                          (slope 1 is a linear network)
============ ============================================ ===================================
"""

from __future__ import annotations

import torch  # noqa: F401  (used in the doctests)
from torch import nn

from .config import MODELS
from .dims import choice
from .groups import group_modules, group_parameters, group_shares


def _conv_block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(),
            nn.MaxPool2d(2)]


class SmallCNN(nn.Module):
    """Three conv blocks and a small head, parameters spread over four groups.

    ``conv1`` holds two conv blocks (1→16→``width`` channels, 28→7 pixels), ``conv2`` one
    (``width``→``width2``, 7→3 pixels), ``fc1`` flattens the 3×3 map (adaptive max-pool to
    3×3 first, for other image sizes) into ``hidden`` units and
    ``fc2`` is the classifier. Each block is Conv 3×3, BatchNorm, ReLU, max-pool 2. With the
    defaults no group holds more than 40% of the 19,154 parameters (26% / 37% / 36% / 2%),
    so a surgical fix of a few groups trains a minority of them; the old design (one big
    dense layer, 97% of the parameters in ``fc1``) made every fix nearly a full fine-tune.
    It reaches 90.7% test accuracy on Fashion-MNIST after the demo's 3 epochs.

    Examples
    --------
    >>> m = SmallCNN(in_channels=1, num_classes=10, image_size=28)
    >>> m.groups
    ('conv1', 'conv2', 'fc1', 'fc2')
    >>> m(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """

    groups = ("conv1", "conv2", "fc1", "fc2")

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28,
                 width: int = 32, width2: int = 24, hidden: int = 32):
        super().__init__()
        self.conv1 = nn.Sequential(*_conv_block(in_channels, 16), *_conv_block(16, width))
        self.conv2 = nn.Sequential(*_conv_block(width, width2))
        # 3x3 whatever the image size (28 px: already 3x3; 32 px: 4x4 pooled to 3x3)
        self.fc1 = nn.Sequential(nn.AdaptiveMaxPool2d(3), nn.Flatten(),
                                 nn.Linear(width2 * 9, hidden), nn.ReLU())
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x):
        return self.fc2(self.fc1(self.conv2(self.conv1(x))))


class MLP(nn.Module):
    """A fully connected network of configurable depth, width and nonlinearity.

    Each hidden group ``layer<k>`` is Linear followed by LeakyReLU(``slope``); ``slope=1``
    makes the network linear (the spring-block "no friction" case), ``slope=0`` is ReLU.

    Examples
    --------
    >>> m = MLP(in_features=4, num_classes=3, depth=2, width=8, slope=0.1)
    >>> m.groups
    ('layer1', 'layer2', 'head')
    """

    def __init__(self, in_features: int = 784, num_classes: int = 10, depth: int = 6,
                 width: int = 128, slope: float = 0.0, dropout: float = 0.0):
        super().__init__()
        if depth < 1:
            raise ValueError(f"MLP depth must be at least 1; got {depth}")
        self.flatten = nn.Flatten()
        names = []
        d_in = in_features
        for k in range(1, depth + 1):
            block = [nn.Linear(d_in, width), nn.LeakyReLU(slope)]
            if dropout:
                block.append(nn.Dropout(dropout))
            setattr(self, f"layer{k}", nn.Sequential(*block))
            names.append(f"layer{k}")
            d_in = width
        self.head = nn.Linear(d_in, num_classes)
        self.groups = (*names, "head")

    def forward(self, x):
        x = self.flatten(x)
        for name in self.groups[:-1]:
            x = getattr(self, name)(x)
        return self.head(x)


def resnet18(in_channels: int = 3, num_classes: int = 10, image_size: int = 32) -> nn.Module:
    """torchvision's ResNet-18 with its stem adapted to small images.

    The 7x7 stride-2 stem and the max-pool are made for 224-pixel images; for 28- or
    32-pixel inputs we use a 3x3 stride-1 ``conv1`` and drop the max-pool (as is usual for
    CIFAR). Groups: conv1, bn1, layer1, layer2, layer3, layer4, fc (the paper's seven).
    """
    from torchvision.models import resnet18 as tv_resnet18

    model = tv_resnet18(num_classes=num_classes)
    model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    model.groups = ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4", "fc")
    return model


def build_model(name: str, *, in_channels: int = 1, num_classes: int = 10,
                image_size: int = 28, **kwargs) -> nn.Module:
    """Build one of :data:`MODELS` for the given input shape.

    Examples
    --------
    >>> build_model("cnn").groups
    ('conv1', 'conv2', 'fc1', 'fc2')
    >>> build_model("vgg")
    Traceback (most recent call last):
    ...
    ValueError: unknown model 'vgg'; expected one of: cnn, resnet18, mlp
    """
    choice(name, MODELS, "model")
    if name == "cnn":
        return SmallCNN(in_channels, num_classes, image_size, **kwargs)
    if name == "resnet18":
        return resnet18(in_channels, num_classes, image_size, **kwargs)
    return MLP(in_channels * image_size * image_size, num_classes, **kwargs)


def layer_groups(model: nn.Module, groups=None) -> dict[str, nn.Module | None]:
    """The model's layer groups, in order, each with the module whose output is its activation
    (``model.groups`` for the built-in models; any other module is grouped by
    :func:`workbench.groups.resolve_groups`).

    Examples
    --------
    >>> list(layer_groups(build_model("cnn")))
    ['conv1', 'conv2', 'fc1', 'fc2']
    """
    return group_modules(model, groups)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = ["MODELS", "SmallCNN", "MLP", "resnet18", "build_model", "model_for",
           "layer_groups", "group_shares",
           "group_parameters", "count_parameters"]


def model_for(cfg) -> nn.Module:
    """The untrained model of a :class:`~workbench.config.TrainConfig` (its data's shape)."""
    in_channels, side, classes = cfg.input_shape
    given = {"in_channels": in_channels, "num_classes": classes, "image_size": side}
    clash = sorted(set(given) & set(cfg.model_kwargs))
    if clash:
        raise ValueError(f"model_kwargs {cfg.model_kwargs!r} set {', '.join(clash)}, which "
                         f"come from the data ({cfg.data}); remove them from model_kwargs")
    try:
        return build_model(cfg.model, **given, **cfg.model_kwargs)
    except TypeError as e:
        raise ValueError(f"model_kwargs {cfg.model_kwargs!r} do not fit model {cfg.model!r} "
                         f"({e}); expected keyword arguments of that model") from None
