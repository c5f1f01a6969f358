"""-ln q(x|z) of a Bernoulli decoder on logits l, per image, in one autograd node:

    -ln q(x|z) = sum over pixels of  softplus(l) - x l,   softplus(l) = max(l, 0) + log1p(exp(-|l|))
    d/dl = sigmoid(l) - x,   d/dx = -l

The same function as ``F.binary_cross_entropy_with_logits`` summed over pixels, computed from vectorised
kernels only: torch's CPU ``log1p`` (inside its log-sigmoid) runs one pixel at a time and cost more than the
model's largest matrix product at batch 128. ``log1p(t)`` for t = exp(-|l|) in (0, 1] is taken as ``log(u)``
with u = 1 + t (Goldberg 1991, "What every computer scientist should know about
floating-point arithmetic") corrected to first order for the rounding of u = 1 + t:
``log(u) - ((u - 1) - t) / u``, within a few ulps of log1p, and exactly t where u rounds to 1.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _softplus(logits: Tensor) -> Tensor:
    t = logits.abs().neg_().exp_()
    u = t + 1.0
    rounding = (u - 1.0).sub_(t)  # exact (Sterbenz): what rounding added to t in u = 1 + t
    return u.log().sub_(rounding.div_(u)).add_(logits.clamp(min=0))


class _BernoulliNLL(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits: Tensor, x: Tensor) -> Tensor:
        ctx.save_for_backward(logits, x)
        return _softplus(logits).sub_(x * logits).flatten(-3).sum(-1)

    @staticmethod
    def backward(ctx, grad: Tensor):
        logits, x = ctx.saved_tensors
        g = grad[..., None, None, None]
        grad_logits = (torch.sigmoid(logits) - x) * g if ctx.needs_input_grad[0] else None
        grad_x = -logits * g if ctx.needs_input_grad[1] else None
        return grad_logits, grad_x


def bernoulli_nll(x: Tensor, logits: Tensor) -> Tensor:
    """-ln q(x|z) per image: x (..., C, H, W) in [0, 1], logits (..., C, H, W) broadcast to it -> (...)."""
    return _BernoulliNLL.apply(logits, x.expand(logits.shape))
