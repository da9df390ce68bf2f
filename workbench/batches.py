"""Inputs of any model: tensors or dicts of tensors, called one documented way.

The workbench calls a user's model in one place, :func:`call`, and reads its output by one
rule, :func:`output_tensor`:

- **inputs** are a tensor ``(N, ...)`` (images, token ids) or a dict of tensors sharing the
  first dim (``{"input_ids": ..., "attention_mask": ...}``, a :class:`TensorDict`). A tensor
  is passed as ``model(x)``, a dict as ``model(**x)``, unless the user gives
  ``forward(model, inputs) -> output``.
- **outputs** are read as: the tensor itself; else an attribute or key ``logits``; else
  ``last_hidden_state``; else the first tensor found in a tuple, list, dict or dataclass
  (depth first). HuggingFace output objects, attention blocks returning ``(out, weights)``
  and dicts all fit.

:func:`collate` turns a torch ``Dataset`` of ``(x, y)`` pairs or of dicts (with a
``labels``/``label``/``y``/``target``/``targets`` key) into ``(inputs, targets)``.

Examples
--------
>>> import torch
>>> x = TensorDict({"input_ids": torch.arange(6).reshape(3, 2)})
>>> len(x), x[1:]["input_ids"].tolist()
(3, [[2, 3], [4, 5]])
>>> output_tensor((torch.ones(2), torch.zeros(3))).tolist()
[1.0, 1.0]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import torch

#: Keys that hold the label in a dict-shaped dataset item or batch.
LABEL_KEYS = ("labels", "label", "y", "target", "targets")


class TensorDict(dict):
    """A dict of tensors sharing their first (sample) dim, indexed like one tensor.

    ``td[idx]`` indexes every tensor along the sample dim; ``len(td)`` is the number of
    samples; ``td.to(device)`` moves every tensor.
    """

    def __init__(self, data: Mapping):
        super().__init__(data)
        sizes = {k: v.shape[0] for k, v in self.items() if torch.is_tensor(v) and v.ndim}
        if not sizes:
            raise ValueError(f"a dict of inputs needs at least one tensor with a sample dim; "
                             f"got keys {list(self)}")
        if len(set(sizes.values())) > 1:
            raise ValueError(f"the tensors of a dict of inputs must share their first (sample) "
                             f"dim; got sizes {sizes}")
        self._n = next(iter(sizes.values()))

    def __getitem__(self, key):
        if isinstance(key, str):
            return dict.__getitem__(self, key)
        return TensorDict({k: v[key] if torch.is_tensor(v) and v.ndim else v
                           for k, v in self.items()})

    def __len__(self) -> int:  # samples, not keys
        return self._n

    @property
    def shape(self) -> tuple[int]:
        return (self._n,)

    def to(self, *args, **kwargs) -> TensorDict:
        return TensorDict({k: v.to(*args, **kwargs) if torch.is_tensor(v) else v
                           for k, v in self.items()})

    def detach(self) -> TensorDict:
        return TensorDict({k: v.detach() if torch.is_tensor(v) else v for k, v in self.items()})


def as_inputs(x):
    """``x`` as inputs: a tensor stays one, a mapping becomes a :class:`TensorDict`.

    Raises
    ------
    TypeError
        For anything else, naming what was found.
    """
    if torch.is_tensor(x) or isinstance(x, TensorDict):
        return x
    if isinstance(x, Mapping):
        return TensorDict(x)
    raise TypeError(f"model inputs must be a tensor (N, ...) or a dict of tensors; got "
                    f"{type(x).__name__}")


def n_samples(x) -> int:
    """Number of samples in ``x`` (a tensor's first dim)."""
    return len(x) if isinstance(x, TensorDict) else int(x.shape[0])


def call(model, x, forward=None):
    """The model's output on inputs ``x``: ``forward(model, x)``, ``model(**x)`` for a dict,
    else ``model(x)``."""
    if forward is not None:
        return forward(model, x)
    if isinstance(x, Mapping):
        return model(**x)
    return model(x)


def output_tensor(out) -> torch.Tensor | None:
    """The tensor a module's output stands for (the module docstring's rule), or None."""
    if torch.is_tensor(out):
        return out
    for key in ("logits", "last_hidden_state"):
        value = out.get(key) if isinstance(out, Mapping) else getattr(out, key, None)
        if torch.is_tensor(value):
            return value
    if isinstance(out, Mapping):
        items = list(out.values())
    elif isinstance(out, (tuple, list)):
        items = list(out)
    elif dataclasses.is_dataclass(out) and not isinstance(out, type):
        items = [getattr(out, f.name) for f in dataclasses.fields(out)]
    else:
        return None
    for item in items:
        found = output_tensor(item)
        if found is not None:
            return found
    return None


def logits(model, x, forward=None) -> torch.Tensor:
    """The model's logits ``(N, classes)`` on ``x``, read by :func:`output_tensor`.

    Raises
    ------
    TypeError
        When the output holds no tensor.
    """
    out = output_tensor(call(model, x, forward))
    if out is None:
        raise TypeError("the model's output holds no tensor to read as logits (expected a "
                        "tensor, .logits, .last_hidden_state or a tuple/dict holding one)")
    return out


def collate(dataset, indices=None) -> tuple[object, torch.Tensor]:
    """``(inputs, targets)`` of a torch ``Dataset`` (all items, or ``indices``).

    Items may be ``(x, y)`` pairs or dicts holding one of :data:`LABEL_KEYS`; inputs are
    stacked into a tensor or a :class:`TensorDict`, targets into a long tensor. A dataset
    with ``.images`` and ``.targets`` (the workbench's own) is indexed directly.

    Raises
    ------
    ValueError
        For an item of another shape, naming what was found.
    """
    if hasattr(dataset, "images") and hasattr(dataset, "targets"):
        if indices is None:
            return dataset.images, dataset.targets
        idx = torch.as_tensor(indices, dtype=torch.long)
        return dataset.images[idx], dataset.targets[idx]
    indices = range(len(dataset)) if indices is None else [int(i) for i in indices]
    xs, ys = [], []
    for i in indices:
        x, y = split_item(dataset[i])
        xs.append(x)
        ys.append(y)
    if not xs:
        raise ValueError("collate: no items to collate (an empty dataset or index list)")
    if isinstance(xs[0], Mapping):
        inputs = TensorDict({k: torch.stack([torch.as_tensor(x[k]) for x in xs])
                             for k in xs[0]})
    else:
        inputs = torch.stack([torch.as_tensor(x) for x in xs])
    return inputs, torch.as_tensor([int(y) for y in ys], dtype=torch.long)


def split_item(item) -> tuple[object, object]:
    """``(inputs, label)`` of one dataset item: a pair, or a dict with a label key."""
    if isinstance(item, Mapping):
        keys = [k for k in LABEL_KEYS if k in item]
        if not keys:
            raise ValueError(f"a dict dataset item needs a label under one of {LABEL_KEYS}; "
                             f"got keys {sorted(item)}")
        return {k: v for k, v in item.items() if k != keys[0]}, item[keys[0]]
    if isinstance(item, (tuple, list)) and len(item) == 2:
        return item[0], item[1]
    raise ValueError(f"a dataset item must be an (inputs, label) pair or a dict with a label "
                     f"key {LABEL_KEYS}; got {type(item).__name__}"
                     + (f" of length {len(item)}" if isinstance(item, (tuple, list)) else ""))


__all__ = ["TensorDict", "LABEL_KEYS", "as_inputs", "n_samples", "call", "output_tensor",
           "logits", "collate", "split_item"]
