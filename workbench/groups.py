"""Layer groups of any ``nn.Module``: what per-group statistics, attribution and the fix use.

A group is a name and a tuple of *prefixes*: module or parameter names of the model. Its
parameters are the trainable parameters whose name is a prefix or starts with
``prefix + "."``; its activation is the output of the module named like the group (none when
no module has that name, e.g. a bare ``nn.Parameter``).

**Automatic groups** (:func:`auto_groups`), for a model that declares none (a model with a
``groups`` attribute of module names, as the built-in ones, keeps them):

1. Start from the model's children that hold trainable parameters, plus its own direct
   parameters (one group each). Modules without parameters (ReLU, Dropout, pooling) are
   never a group.
2. A container of repeated blocks (``nn.ModuleList``/``ModuleDict``, whose ``forward`` is
   never called) is always replaced by its blocks, grouped by index (``blocks.0``,
   ``layer.3``…).
3. While a group holds more than ``max_share`` (40%) of the parameters and its module has at
   least two parts with parameters, it is split into them (a chain of single parts is
   followed down). A leaf that alone is over the share stays: the structure allows no
   better.
4. In a split of a repeated block, a normalisation layer (class name containing ``Norm``)
   is folded into its neighbour: the part after it in a pre-norm block (one that starts
   with a norm, as most transformers), the part before it otherwise (conv, BatchNorm), so
   each norm stays with what it normalises; elsewhere (embeddings, the final norm, the
   head) every part stands alone.
5. Tied (shared) parameters are counted once, in the group that reaches them first in
   ``named_parameters()`` order.

Examples
--------
>>> import torch
>>> from torch import nn
>>> m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.1), nn.Linear(8, 2))
>>> resolve_groups(m)
{'0': ('0',), '3': ('3',)}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from torch import nn

#: Largest share of the parameters one automatic group may hold where the structure allows.
MAX_SHARE = 0.4


def owned_parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    """Trainable parameters by their first name (a tied parameter appears once)."""
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _is_norm(module) -> bool:
    return module is not None and "norm" in type(module).__name__.lower()


def _unwrap(model: nn.Module) -> nn.Module:
    """The user's module inside ``torch.compile``'s and DDP/FSDP wrappers."""
    for _ in range(8):
        inner = getattr(model, "_orig_mod", None) or (
            getattr(model, "module", None) if type(model).__name__ in
            ("DistributedDataParallel", "DataParallel", "FullyShardedDataParallel") else None)
        if not isinstance(inner, nn.Module):
            return model
        model = inner
    return model


unwrap = _unwrap


class _Tree:
    """Parameter counts per module/parameter name of one model."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.params = owned_parameters(model)
        self.modules = dict(model.named_modules())
        self.total = sum(p.numel() for p in self.params.values()) or 1

    def count(self, prefix: str) -> int:
        return sum(p.numel() for n, p in self.params.items() if _under(n, prefix))

    def parts(self, prefix: str) -> list[str]:
        """Children (and direct parameters) of module ``prefix`` that hold parameters."""
        module = self.modules.get(prefix)
        if module is None:
            return []
        children = [_join(prefix, n) for n, _ in module.named_children()
                    if self.count(_join(prefix, n))]
        if not children:  # a leaf (Linear, Embedding): its parameters are not split apart
            return []
        own = [_join(prefix, n) for n, _ in module.named_parameters(recurse=False)
               if _join(prefix, n) in self.params]
        return own + children

    def is_container(self, prefix: str) -> bool:
        return isinstance(self.modules.get(prefix), (nn.ModuleList, nn.ModuleDict))


def auto_groups(model: nn.Module, *, max_share: float = MAX_SHARE) -> dict[str, tuple[str, ...]]:
    """Groups of any module by the rules of the module docstring: name → prefixes.

    Examples
    --------
    >>> from torch import nn
    >>> class Block(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.ln, self.fc = nn.LayerNorm(8), nn.Linear(8, 8)
    >>> class Net(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.emb = nn.Embedding(10, 8)
    ...         self.blocks = nn.ModuleList([Block(), Block()])
    ...         self.head = nn.Linear(8, 10)
    >>> list(auto_groups(Net()))
    ['emb', 'blocks.0', 'blocks.1', 'head']
    """
    tree = _Tree(_unwrap(model))
    units = [[p] for p in _expand(tree, tree.parts(""))]
    if not units:  # the model is one leaf module: one group of all its parameters
        return {type(tree.model).__name__.lower(): tuple(tree.params)} if tree.params else {}
    changed = True
    while changed:
        changed = False
        for i, unit in enumerate(units):
            if len(unit) != 1 or tree.count(unit[0]) / tree.total <= max_share:
                continue
            parts = _descend(tree, unit[0])
            if len(parts) < 2:
                continue
            units[i:i + 1] = _fold_norms(tree, unit[0], parts)
            changed = True
            break
    return {_name(tree, u): tuple(u) for u in units}


def _expand(tree: _Tree, parts: list[str]) -> list[str]:
    """Replace repeated-block containers by their blocks (recursively)."""
    out = []
    for p in parts:
        out += _expand(tree, tree.parts(p)) if tree.is_container(p) else [p]
    return out


def _descend(tree: _Tree, prefix: str) -> list[str]:
    parts = _expand(tree, tree.parts(prefix))
    while len(parts) == 1 and parts[0] in tree.modules:
        parts = _expand(tree, tree.parts(parts[0]))
    return parts


def _fold_norms(tree: _Tree, parent: str, parts: list[str]) -> list[list[str]]:
    """One unit per part; inside a repeated block (a name ending in an index) each norm joins
    a neighbour: the part after it when the block starts with a norm (pre-norm, as in most
    transformers), else the part before it (post-norm, as conv-BatchNorm)."""
    if not parent.split(".")[-1].isdigit():
        return [[p] for p in parts]
    pre = _is_norm(tree.modules.get(parts[0]))
    units: list[list[str]] = []
    waiting: list[str] = []
    for p in parts:
        if _is_norm(tree.modules.get(p)) and (pre or not units):
            waiting.append(p)
        elif _is_norm(tree.modules.get(p)):
            units[-1].append(p)
        else:
            units.append([*waiting, p])
            waiting = []
    if waiting:  # norms after the last part
        if units:
            units[-1] += waiting
        else:
            units.append(waiting)
    return units


def _name(tree: _Tree, unit: list[str]) -> str:
    main = [p for p in unit if not _is_norm(tree.modules.get(p))]
    return (main or unit)[0]


def resolve_groups(model: nn.Module, groups=None, *,
                   max_share: float = MAX_SHARE) -> dict[str, tuple[str, ...]]:
    """The model's groups as name → prefixes.

    Parameters
    ----------
    model : nn.Module
        Wrappers of ``torch.compile`` and DDP/FSDP are looked through.
    groups : None, mapping, callable, or sequence of str
        None: the model's ``groups`` attribute (module names) when it has one, else
        :func:`auto_groups`. A mapping: group name → a prefix or a list of prefixes. A
        callable: ``groups(model)`` returning such a mapping. A sequence of names: those of
        the default groups (or module names, each its own group).

    Raises
    ------
    ValueError
        For a prefix that names no module or parameter, a group without trainable
        parameters, or two groups sharing a parameter; the message names them.
    """
    model = _unwrap(model)
    if groups is None:
        declared = getattr(model, "groups", None)
        if declared and not callable(declared):
            return _checked(model, {str(n): (str(n),) for n in declared})
        return auto_groups(model, max_share=max_share)
    if callable(groups) and not isinstance(groups, Mapping):
        groups = groups(model)
    if isinstance(groups, Mapping):
        spec = {str(k): (v,) if isinstance(v, str) else tuple(v) for k, v in groups.items()}
        return _checked(model, spec)
    if isinstance(groups, str):
        groups = [g for g in groups.split(",") if g]
    default = resolve_groups(model)
    return _checked(model, {str(n): default.get(n, (str(n),)) for n in groups}, default)


def _checked(model, spec: dict, default: dict | None = None) -> dict[str, tuple[str, ...]]:
    tree = _Tree(model)
    seen: dict[int, str] = {}
    for name, prefixes in spec.items():
        if not prefixes:
            raise ValueError(f"group {name!r} lists no module or parameter name")
        for prefix in prefixes:
            if prefix not in tree.modules and prefix not in dict(model.named_parameters()) \
                    or prefix == "":
                known = default or resolve_groups(model)
                raise ValueError(f"unknown layer group {prefix!r} (group {name!r}): it names "
                                 f"no module or parameter of this model; this model's groups "
                                 f"are: {', '.join(known)}")
        for pname, p in tree.params.items():
            if any(_under(pname, pre) for pre in prefixes):
                if id(p) in seen and seen[id(p)] != name:
                    raise ValueError(f"groups {seen[id(p)]!r} and {name!r} share the "
                                     f"parameter {pname!r}; a parameter belongs to one group")
                seen[id(p)] = name
    return dict(spec)


def group_parameters(model: nn.Module, groups=None) -> dict[str, list[nn.Parameter]]:
    """Trainable parameters of each group (a tied parameter in its first group only)."""
    model = _unwrap(model)
    spec = resolve_groups(model, groups)
    params = owned_parameters(model)
    return {g: [p for n, p in params.items() if any(_under(n, pre) for pre in prefixes)]
            for g, prefixes in spec.items()}


def group_parameter_names(model: nn.Module, groups=None) -> dict[str, list[str]]:
    """Names of each group's trainable parameters."""
    model = _unwrap(model)
    spec = resolve_groups(model, groups)
    return {g: [n for n in owned_parameters(model) if any(_under(n, pre) for pre in prefixes)]
            for g, prefixes in spec.items()}


def group_modules(model: nn.Module, groups=None) -> dict[str, nn.Module | None]:
    """The module whose output is each group's activation (the module named like the group;
    for a group named otherwise, its last prefix that is a module), or None."""
    model = _unwrap(model)
    spec = resolve_groups(model, groups)
    modules = dict(model.named_modules())
    out = {}
    for g, prefixes in spec.items():
        named = [p for p in (g, *reversed(prefixes)) if p in modules and p != ""]
        out[g] = modules[named[0]] if named else None
    return out


def group_shares(model: nn.Module, groups=None) -> dict[str, float]:
    """Each group's share of the model's trainable parameters (tied ones counted once)."""
    counts = {g: sum(p.numel() for p in ps)
              for g, ps in group_parameters(model, groups).items()}
    total = sum(p.numel() for p in owned_parameters(_unwrap(model)).values()) or 1
    return {g: c / total for g, c in counts.items()}


def describe(model: nn.Module, groups=None) -> str:
    """One line per group: name, parameters and share, for printing when recording starts."""
    params = group_parameters(model, groups)
    shares = group_shares(model, groups)
    width = max((len(g) for g in params), default=5)
    return "\n".join(f"  {g:<{width}}  {sum(p.numel() for p in ps):>10,d} parameters  "
                     f"{100 * shares[g]:5.1f}%" for g, ps in params.items())


GroupSpec = Mapping | Callable | None

__all__ = ["MAX_SHARE", "auto_groups", "resolve_groups", "group_parameters",
           "group_parameter_names", "group_modules", "group_shares", "owned_parameters",
           "describe", "unwrap"]
