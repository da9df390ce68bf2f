import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from torch import nn

from workbench.probes.ntk import empirical_ntk


def tiny_mlp(seed=0, d=5, o=3):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, 7), nn.Tanh(), nn.Linear(7, 6), nn.ReLU(),
                         nn.Linear(6, o)).double()


def autograd_jacobian(model, x):
    """Brute force: one backward per (sample, class); rows are (sample, class)."""
    params = [p for p in model.parameters() if p.requires_grad]
    rows = []
    for n in range(x.shape[0]):
        z = model(x[n:n + 1])[0]
        for c in range(z.shape[0]):
            g = torch.autograd.grad(z[c], params, retain_graph=True)
            rows.append(torch.cat([t.reshape(-1) for t in g]))
    return torch.stack(rows).detach().numpy()


def reference(model, xi, xj):
    ji, jj = autograd_jacobian(model, xi), autograd_jacobian(model, xj)
    o = ji.shape[0] // xi.shape[0]
    return (ji @ jj.T).reshape(xi.shape[0], o, xj.shape[0], o)


@pytest.mark.parametrize("method", ["jacobian", "ntk_vp"])
@pytest.mark.parametrize("symmetric", [True, False])
def test_matches_product_of_autograd_jacobians(method, symmetric):
    model = tiny_mlp()
    xi = torch.randn(4, 5, dtype=torch.float64)
    xj = None if symmetric else torch.randn(3, 5, dtype=torch.float64)
    k = empirical_ntk(model, xi, xj, method=method)
    assert k.dims == ("sample_i", "label_i", "sample_j", "label_j")
    assert_allclose(k.values, reference(model, xi, xi if symmetric else xj),
                    rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("method", ["jacobian", "ntk_vp"])
def test_linear_model_kernel_is_dot_product_plus_one_times_identity(method):
    torch.manual_seed(1)
    model = nn.Linear(4, 3).double()
    xi = torch.randn(5, 4, dtype=torch.float64)
    xj = torch.randn(2, 4, dtype=torch.float64)
    k = empirical_ntk(model, xi, xj, method=method)
    expected = np.einsum("ij,ab->iajb", xi.numpy() @ xj.numpy().T + 1, np.eye(3))
    assert_allclose(k.values, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", ["jacobian", "ntk_vp"])
@pytest.mark.parametrize("symmetric", [True, False])
def test_trace_and_diagonal_consistent_with_full(method, symmetric):
    model = tiny_mlp(2)
    xi = torch.randn(4, 5, dtype=torch.float64)
    xj = None if symmetric else torch.randn(3, 5, dtype=torch.float64)
    full = empirical_ntk(model, xi, xj, method=method).values
    diag = empirical_ntk(model, xi, xj, method=method, mode="diagonal")
    trace = empirical_ntk(model, xi, xj, method=method, mode="trace")
    assert diag.dims == ("sample_i", "sample_j", "label")
    assert trace.dims == ("sample_i", "sample_j")
    want_diag = np.stack([full[:, c, :, c] for c in range(3)], axis=-1)
    assert_allclose(diag.values, want_diag, rtol=1e-12)
    assert_allclose(trace.values, want_diag.sum(-1), rtol=1e-12)


@pytest.mark.parametrize("mode", ["full", "trace", "diagonal"])
@pytest.mark.parametrize("symmetric", [True, False])
def test_chunked_equals_unchunked(mode, symmetric):
    model = tiny_mlp(3)
    xi = torch.randn(5, 5, dtype=torch.float64)
    xj = None if symmetric else torch.randn(3, 5, dtype=torch.float64)
    whole = empirical_ntk(model, xi, xj, mode=mode)
    for chunk in (1, 2):
        part = empirical_ntk(model, xi, xj, mode=mode, chunk_size=chunk)
        assert part.attrs["chunk_size"] == chunk
        assert_allclose(part.values, whole.values, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("method", ["jacobian", "ntk_vp"])
@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_symmetric_kernel_in_chunks_matches_the_loop(method, chunk):
    """x_j = None computes the chunk pairs on and above the diagonal only (and, by Jacobian,
    the diagonal ones by the symmetric product): the mirrored kernel is the loop's J Jᵀ."""
    model = tiny_mlp(6)
    x = torch.randn(5, 5, dtype=torch.float64)
    k = empirical_ntk(model, x, method=method, chunk_size=chunk)
    ref = reference(model, x, x)
    assert_allclose(k.values, ref, rtol=1e-10, atol=1e-12)
    if method == "jacobian":                         # every block mirrored: exactly symmetric
        flat = k.values.reshape(15, 15)
        assert np.array_equal(flat, flat.T)


@pytest.mark.parametrize("rows", [1, 7, 31, 32, 33, 70, 300])
@pytest.mark.parametrize("batch", [(), (3,)])
def test_symmetric_product_equals_the_plain_product(rows, batch):
    """_gram multiplies only the row blocks on and right of the diagonal; any row count
    (one block, a ragged last block, many blocks) and batched blocks (the diagonal mode)."""
    from workbench.probes.ntk import _gram

    gen = torch.Generator().manual_seed(rows)
    blocks = [torch.randn(*batch, rows, p, dtype=torch.float64, generator=gen)
              for p in (5, 40, 1)]
    plain = sum(a.numpy() @ np.swapaxes(a.numpy(), -1, -2) for a in blocks)
    assert_allclose(_gram(blocks).numpy(), plain, rtol=1e-12, atol=1e-12)


def test_memory_budget_chunks_automatically_and_refuses_too_small():
    model = tiny_mlp(4)
    n_params = sum(p.numel() for p in model.parameters())
    per_sample = 3 * n_params * 8
    x = torch.randn(6, 5, dtype=torch.float64)
    whole = empirical_ntk(model, x)
    assert whole.attrs["chunk_size"] == 6
    small = empirical_ntk(model, x, memory_budget=4 * per_sample)
    assert small.attrs["chunk_size"] == 2
    assert_allclose(small.values, whole.values, rtol=1e-12)
    with pytest.raises(ValueError, match="too small for the Jacobian of one sample"):
        empirical_ntk(model, x, memory_budget=per_sample)


def test_batchnorm_runs_in_eval_mode_and_modes_are_restored():
    torch.manual_seed(5)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Dropout(0.5),
                          nn.Linear(6, 2)).double()
    model.train()
    model(torch.randn(32, 4, dtype=torch.float64))  # non-trivial running stats
    model[3].eval()  # a submodule in its own mode must stay so
    x = torch.randn(3, 4, dtype=torch.float64)
    k = empirical_ntk(model, x)
    assert model.training and model[1].training and not model[3].training
    model.eval()
    ref = reference(model, x, x)
    assert_allclose(k.values, ref, rtol=1e-10)


def test_errors_and_coords():
    model = tiny_mlp()
    x = torch.randn(3, 5, dtype=torch.float64)
    with pytest.raises(ValueError, match="unknown eNTK mode 'dense'"):
        empirical_ntk(model, x, mode="dense")
    with pytest.raises(ValueError, match="unknown eNTK method"):
        empirical_ntk(model, x, method="fast")
    with pytest.raises(ValueError, match="same sample shape"):
        empirical_ntk(model, x, torch.randn(2, 4, dtype=torch.float64))
    with pytest.raises(TypeError, match="torch.Tensor"):
        empirical_ntk(model, x.numpy())
    k = empirical_ntk(model, x, sample_i=[10, 20, 30])
    assert list(k.sample_j.values) == [10, 20, 30]
    assert k.attrs["long_name"] and k.attrs["units"]


def test_float32_model_on_its_device():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 4))
    x = torch.randn(2, 1, 4, 4)
    k = empirical_ntk(model, x)
    expected = np.einsum("ij,ab->iajb", (x.reshape(2, -1) @ x.reshape(2, -1).T + 1).numpy(),
                         np.eye(4))
    assert_allclose(k.values, expected, rtol=1e-5)


def test_resnet18_sized_jacobian_is_chunked_by_default_budget():
    from workbench.models import build_model, count_parameters
    from workbench.probes.ntk import DEFAULT_MEMORY_BUDGET, _chunk_size

    p = count_parameters(build_model("resnet18", in_channels=1, image_size=28))
    full_bytes = 64 * 10 * p * 4
    assert full_bytes > 25e9  # ~28 GB for the whole Jacobian
    chunk = _chunk_size(None, DEFAULT_MEMORY_BUDGET, 10, p, torch.float32, 64, True)
    assert chunk == DEFAULT_MEMORY_BUDGET // (2 * 10 * p * 4)
    assert 1 <= chunk < 64
    with pytest.raises(ValueError, match="too small"):
        _chunk_size(None, 10 * p * 4, 10, p, torch.float32, 64, True)


def _token_jacobian(model, x):
    """Brute force for any inputs: one backward per (sample, class) through
    workbench.batches.logits on the sample's slice; rows are (sample, class)."""
    from workbench.batches import as_inputs, logits, n_samples

    x = as_inputs(x)
    params = [p for p in model.parameters() if p.requires_grad]
    rows = []
    for n in range(n_samples(x)):
        z = logits(model, x[n:n + 1])[0]
        for c in range(z.shape[0]):
            g = torch.autograd.grad(z[c], params, retain_graph=True)
            rows.append(torch.cat([t.reshape(-1) for t in g]))
    return torch.stack(rows).detach().numpy()


@pytest.mark.parametrize("method", ["jacobian", "ntk_vp"])
@pytest.mark.parametrize("as_dict", [False, True])
def test_transformer_kernel_with_token_and_dict_inputs_matches_a_loop(transformer, method,
                                                                      as_dict):
    """Token ids stay integer (an Embedding cannot take floats); a dict is passed as
    model(**x) and vmapped over the sample dim of each of its tensors; the model returns a
    tuple whose first tensor is the logits."""
    model, ids = transformer(n=5, tuple_out=True)
    model.eval()
    mask = torch.ones_like(ids)
    mask[1, -1] = 0  # one padded position: the dict's second tensor matters
    xi = {"input_ids": ids[:3], "attention_mask": mask[:3]} if as_dict else ids[:3]
    xj = {"input_ids": ids[3:], "attention_mask": mask[3:]} if as_dict else ids[3:]
    k = empirical_ntk(model, xi, xj, method=method, chunk_size=2)
    ji, jj = _token_jacobian(model, xi), _token_jacobian(model, xj)
    o = ji.shape[0] // 3
    assert_allclose(k.values, (ji @ jj.T).reshape(3, o, 2, o), rtol=1e-9, atol=1e-12)
    assert ids.dtype == torch.long


def test_transformer_kernel_through_a_forward_callable(transformer):
    model, ids = transformer(n=4)
    k = empirical_ntk(model, {"tokens": ids}, mode="trace",
                      forward=lambda m, x: m(x["tokens"]))
    j = _token_jacobian(model, ids)
    full = (j @ j.T).reshape(4, 4, 4, 4)
    assert_allclose(k.values, np.einsum("iaja->ij", full), rtol=1e-9, atol=1e-12)
