"""Lab 1.7.4 — optimizers: turning gradients into parameter updates.

Update rules follow ``torch.optim`` exactly (same defaults, same order of
operations), so a learner's optimizer can be checked step by step against
PyTorch's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from micrograd_plus.tensor import Tensor


class Optimizer:
    """Holds the parameters; subclasses define ``step``."""

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        if lr < 0:
            raise ValueError(f"learning rate must be >= 0, got {lr}")
        self.lr = lr

    def zero_grad(self) -> None:
        """Reset every parameter's gradient (call before each backward)."""
        for p in self.params:
            p.zero_grad()

    def step(self) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    r"""g = grad + wd p;  buf = mu buf + (1 - dampening) g;  p -= lr (g + mu buf or buf)"""

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(params, lr)
        if momentum < 0 or weight_decay < 0:
            raise ValueError(f"momentum ({momentum}), weight_decay ({weight_decay}) must be >= 0")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires momentum > 0 and dampening = 0")
        self.momentum, self.dampening = momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, nesterov
        self.buffers: list[np.ndarray | None] = [None] * len(self.params)

    def step(self) -> None:
        for i, p in enumerate(self.params):
            g = p.grad + self.weight_decay * p.data if self.weight_decay else p.grad
            if self.momentum:
                buf = self.buffers[i]
                if buf is None:
                    buf = self.buffers[i] = np.array(g, dtype=p.dtype)
                else:
                    buf *= self.momentum
                    buf += (1 - self.dampening) * g
                g = g + self.momentum * buf if self.nesterov else buf
            p.data -= (self.lr * g).astype(p.dtype, copy=False)


class Adam(Optimizer):
    r"""m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  p -= lr * m_hat / (sqrt(v_hat) + eps)

    ``m_hat = m / (1 - b1^t)`` and ``v_hat = v / (1 - b2^t)`` undo the bias of
    starting the averages at zero. ``weight_decay`` adds ``wd * p`` to the
    gradient (L2 regularisation, as ``torch.optim.Adam`` does).
    """

    decoupled = False

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas must lie in [0, 1), got {betas}")
        if eps < 0 or weight_decay < 0:
            raise ValueError(f"eps ({eps}) and weight_decay ({weight_decay}) must be >= 0")
        self.betas, self.eps, self.weight_decay = betas, eps, weight_decay
        self.t = 0
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]
        self._scratch = [np.empty_like(p.data) for p in self.params]  # no allocation per step

    def step(self) -> None:
        self.t += 1
        b1, b2 = self.betas
        correction1 = 1 - b1**self.t
        correction2 = 1 - b2**self.t
        for p, m, v, tmp in zip(self.params, self.m, self.v, self._scratch, strict=True):
            g = p.grad
            if self.weight_decay and self.decoupled:
                p.data *= 1 - self.lr * self.weight_decay
            elif self.weight_decay:
                g = g + self.weight_decay * p.data
            m *= b1  # m = b1 m + (1 - b1) g
            m += np.multiply(g, 1 - b1, out=tmp)
            v *= b2  # v = b2 v + (1 - b2) g^2
            v += np.multiply(np.square(g, out=tmp), 1 - b2, out=tmp)
            np.sqrt(v, out=tmp)  # tmp = sqrt(v_hat) + eps, then the step
            tmp /= math.sqrt(correction2)
            tmp += self.eps
            np.divide(m, tmp, out=tmp)
            tmp *= self.lr / correction1
            p.data -= tmp


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p *= 1 - lr*wd`` before the Adam step."""

    decoupled = True

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)


class StepLR:
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        self.optimizer, self.step_size, self.gamma = optimizer, step_size, gamma
        self.base_lr, self.epoch = optimizer.lr, 0

    def step(self) -> None:
        self.epoch += 1
        self.optimizer.lr = self.base_lr * self.gamma ** (self.epoch // self.step_size)


class CosineAnnealingLR:
    r"""lr_t = eta_min + (lr_0 - eta_min) (1 + cos(pi t / T_max)) / 2"""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        self.optimizer, self.T_max, self.eta_min = optimizer, T_max, eta_min
        self.base_lr, self.epoch = optimizer.lr, 0

    def step(self) -> None:
        self.epoch += 1
        cos = math.cos(math.pi * self.epoch / self.T_max)
        self.optimizer.lr = self.eta_min + (self.base_lr - self.eta_min) * (1 + cos) / 2
