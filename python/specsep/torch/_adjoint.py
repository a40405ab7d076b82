"""The adjoints of the STFT and of the least-squares iSTFT, on torch tensors, computed by specsep's
own kernels: the adjoint STFT is the iSTFT kernel's overlap-add of inverse DFTs with the envelope
division undone, the adjoint iSTFT the STFT kernel's analysis of the envelope-divided gradient.

Gradients follow torch's convention for complex tensors: the gradient of a real loss ``L`` with
respect to ``X`` is ``dL/dRe X + i dL/dIm X``, so that ``dL = Re sum conj(G) dX``. The backward
passes of :mod:`specsep.torch` and of its phase retrieval all go through these two functions.
"""

from __future__ import annotations

import numpy as np
import torch

from .. import _transforms
from .._arrays import as_array, callers_kind


def on_kernels(function, data, *args):
    """``function(array, *args)`` on the array of tensor ``data``; the result as a tensor on
    ``data``'s device (zero-copy both ways, kernels on the data's device and stream)."""
    return callers_kind(lambda tensor: function(as_array(tensor), *args))(data.detach())


# Note [onesided weights]: the STFT keeps bins f = 0 .. n_fft // 2 of a real frame's DFT, so
# its adjoint maps G to Re sum_f G_f exp(+2 pi i f m / n_fft), f over the kept bins only. The
# inverse real DFT computes irfft(H)_m = (1 / n_fft) (Re H_0 + 2 Re sum_{0<f<n_fft/2} H_f e^(...)
# + Re H_(n_fft/2) (-1)^m), the Nyquist term only for even n_fft: every bin strictly inside
# counts twice, for itself and its mirror image. So with H = G times 1/2 inside and 1 at DC and
# Nyquist, n_fft * irfft(H) is the adjoint exactly (the imaginary parts irfft drops at DC and
# Nyquist are those the real part discards). The other way, the adjoint of irfft is
# rfft / n_fft with the inside bins doubled: the reciprocal weights.
def onesided_weights(n_fft, dtype, device):
    """Weights ``(n_fft // 2 + 1, 1)`` of Note [onesided weights]: 1 at DC (and Nyquist for even
    ``n_fft``), 1/2 in between."""
    weights = torch.full((n_fft // 2 + 1, 1), 0.5, dtype=dtype, device=device)
    weights[0] = 1.0
    if n_fft % 2 == 0:
        weights[-1] = 1.0
    return weights


def envelope_divisor(plan, n_frames, dtype, device):
    """What the iSTFT divides each un-trimmed output sample by: the window-sum-square envelope
    where it covers the sample, 1 elsewhere (samples left undivided, see the reference iSTFT)."""
    envelope = plan.envelope(n_frames)
    covered = envelope > float(np.finfo(plan.dtype).tiny) * plan.synthesis_scale ** 2
    return torch.from_numpy(np.where(covered, envelope, 1.0)).to(device=device, dtype=dtype)


def _scale(plan):
    """The forward transform's scale: ``n_fft ** -0.5`` when ``normalized``."""
    return plan.n_fft ** -0.5 if plan.normalized else 1.0


def stft_adjoint(plan, G, n_samples, backend):
    """Adjoint of ``stft(plan, .)`` for signals of ``n_samples``: ``G (..., F, T)`` complex to
    ``(..., n_samples)`` real. Overlap-add of ``n_fft * window * irfft(weights * G)`` (the iSTFT
    kernel, its envelope division undone), then the centre padding folded back onto the samples
    it copied (:func:`fold_padding`)."""
    n_frames = G.shape[-1]
    bare = plan.bare()
    span = plan.n_fft + plan.hop_length * (n_frames - 1)
    real = G.real.dtype
    weighted = G.resolve_conj() * onesided_weights(plan.n_fft, real, G.device)
    padded = on_kernels(lambda X: _transforms.istft(bare, X, span, backend), weighted)
    padded = padded * (envelope_divisor(bare, n_frames, real, G.device) * (plan.n_fft * _scale(plan)))
    return fold_padding(padded, n_samples, plan.padding, plan.pad_mode)


def istft_adjoint(plan, g, n_frames, backend):
    """Adjoint of ``istft(plan, ., length)``: ``g (..., length)`` real to ``(..., F, n_frames)``
    complex. The gradient placed on the un-trimmed output, divided by the envelope, analysed by
    the STFT kernel and weighted by ``2 / n_fft`` inside, ``1 / n_fft`` at DC and Nyquist."""
    bare = plan.bare()
    span = plan.n_fft + plan.hop_length * (n_frames - 1)
    kept = min(g.shape[-1], span - plan.padding)
    full = g.new_zeros(g.shape[:-1] + (span,))
    full[..., plan.padding:plan.padding + kept] = g[..., :kept]
    full = full / envelope_divisor(bare, n_frames, g.dtype, g.device)
    X = on_kernels(lambda x: _transforms.stft(bare, x, backend), full)
    return X / (onesided_weights(plan.n_fft, g.dtype, g.device) * (plan.n_fft * _scale(plan)))


def fold_padding(padded, n_samples, padding, pad_mode):
    """Adjoint of the centre padding: ``padded (..., S)`` holds gradients of the padded positions
    ``-padding .. S - padding - 1``; each is added to the sample it was read from (reflect and edge
    padding read samples twice, constant padding reads zeros)."""
    # the sample each padded position reads, by the padding's definition (the reference's np.pad)
    samples = np.arange(n_samples)
    if pad_mode == "constant":
        sources = np.pad(samples, padding, constant_values=-1)
    else:
        sources = np.pad(samples, padding, mode=pad_mode)
    sources = sources[:padded.shape[-1]]
    read = sources >= 0
    index = torch.from_numpy(sources[read]).to(padded.device)
    out = padded.new_zeros(padded.shape[:-1] + (n_samples,))
    return out.index_add_(-1, index, padded[..., torch.from_numpy(read).to(padded.device)])
