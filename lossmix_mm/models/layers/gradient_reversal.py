"""Gradient reversal (Ganin & Lempitsky): identity forward, -coeff * grad
backward."""
import torch
from torch import Tensor, nn


class _ReverseGrad(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x: Tensor, coeff: float) -> Tensor:
        ctx.coeff = coeff
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return -ctx.coeff * grad, None


def reverse_grad(x: Tensor, coeff: float = 1.0) -> Tensor:
    """Identity on ``x``; its gradient is multiplied by ``-coeff``.

    Args:
        x (Tensor): any shape.
        coeff (float): scale of the reversed gradient, >= 0.

    Returns:
        Tensor: a view of ``x``.
    """
    return _ReverseGrad.apply(x, coeff)


class GradientReversal(nn.Module):
    """Module form of :func:`reverse_grad`.

    Args:
        coeff (float): scale of the reversed gradient. Defaults to 1.0.
    """

    def __init__(self, coeff: float = 1.0) -> None:
        super().__init__()
        if coeff < 0:
            raise ValueError(f'coeff must be >= 0, got {coeff}')
        self.coeff = float(coeff)

    def forward(self, x: Tensor) -> Tensor:
        return reverse_grad(x, self.coeff)

    def extra_repr(self) -> str:
        return f'coeff={self.coeff}'
