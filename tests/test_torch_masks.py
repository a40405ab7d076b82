"""Masks and torch: specsep.masks returns tensors for tensors; specsep.torch's masks are the
same functions with gradients (gradcheck in float64)."""

import numpy as np
import pytest

import specsep
from conftest import has_module, requires_torch

pytestmark = requires_torch
if has_module("torch"):
    import torch

    import specsep.torch as st


def _generator(seed):
    return torch.Generator().manual_seed(seed)


def _magnitudes(shape, seed):
    # bounded away from zero and from each other: |S| has no derivative at 0
    return (0.2 + torch.rand(shape, dtype=torch.float64, generator=_generator(seed))).requires_grad_()


def _spectra(shape, seed):
    return torch.randn(shape, dtype=torch.complex128, generator=_generator(seed)).requires_grad_()


@pytest.mark.parametrize("power", [1.0, 2.0, 0.5])
@pytest.mark.parametrize("kind", ["magnitudes", "complex"])
def test_ideal_ratio_gradcheck(power, kind):
    S = _magnitudes((2, 3, 4, 5), 1) if kind == "magnitudes" else _spectra((2, 3, 4, 5), 1)
    assert torch.autograd.gradcheck(lambda S: st.ideal_ratio(S, power), (S,))
    assert torch.autograd.gradcheck(lambda S: st.wiener(S), (S,))


def test_normalize_gradcheck():
    assert torch.autograd.gradcheck(st.normalize, (_magnitudes((3, 4, 5), 2),))


@pytest.mark.parametrize("clip", [(0.0, 1.0), (-10.0, 10.0)], ids=["clipped", "unclipped"])
def test_phase_sensitive_gradcheck(clip):
    X_sources, X_mix = _spectra((2, 3, 4, 5), 3), _spectra((2, 4, 5), 4)
    assert torch.autograd.gradcheck(lambda Xs, X: st.phase_sensitive(Xs, X, clip), (X_sources, X_mix))


@pytest.mark.parametrize("power", [1.0, 2.0, 3.5])
def test_softmask_gradcheck(power):
    X, X_ref = _magnitudes((4, 5), 5), _magnitudes((3, 4, 5), 6)
    assert torch.autograd.gradcheck(lambda X, R: st.softmask(X, R, power), (X, X_ref))


def test_softmask_hard_has_zero_gradient():
    X, X_ref = _magnitudes((4, 5), 7), _magnitudes((4, 5), 8)
    st.softmask(X, X_ref, np.inf).sum().backward()
    assert not X.grad.any() and not X_ref.grad.any()


def test_binary_masks_are_outside_the_graph():
    S = _magnitudes((3, 4, 5), 9)
    for M in (st.ideal_binary(S), st.binarize(S, 0.7)):
        assert isinstance(M, torch.Tensor) and not M.requires_grad


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_numpy_api_masks_return_tensors(dtype):
    """specsep.masks.* take tensors and return tensors of the same values as for arrays, which is
    what the differentiable ones return too."""
    generator = _generator(10)
    S = torch.rand(2, 3, 4, 5, generator=generator, dtype=torch.float64).to(dtype)
    complex_dtype = torch.complex64 if dtype == torch.float32 else torch.complex128
    X_sources = torch.randn(2, 3, 4, 5, generator=generator, dtype=complex_dtype)
    X_mix = X_sources.sum(dim=-3)
    cases = [
        ("ideal_binary", (S,)), ("ideal_ratio", (S,)), ("wiener", (S, 1.0)), ("normalize", (S,)),
        ("phase_sensitive", (X_sources, X_mix)), ("softmask", (S[0], S[1], 2.0)), ("binarize", (S, 0.3)),
    ]
    for name, args in cases:
        result = getattr(specsep.masks, name)(*args)
        expected = getattr(specsep.masks, name)(*(a.numpy() if isinstance(a, torch.Tensor) else a for a in args))
        assert isinstance(result, torch.Tensor) and result.dtype == dtype, name
        np.testing.assert_array_equal(result.numpy(), expected, err_msg=name)
        np.testing.assert_array_equal(getattr(st, name)(*args).numpy(), expected, err_msg=name)


def test_numpy_api_masks_refuse_tensors_that_record_a_graph():
    with pytest.raises(TypeError, match="requires grad.*specsep.torch"):
        specsep.masks.ideal_ratio(_magnitudes((3, 4, 5), 11))
