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


class _FlatGroup:
    """Parameters of one dtype whose ``data`` and ``grad`` are views of two flat buffers.

    An update rule then runs once over ``self.data`` and ``self.grad`` (one numpy
    call per term of its formula) instead of once per parameter. A parameter whose
    ``data`` or ``grad`` was replaced by a new array (``load_parameters``,
    ``p.grad = ...``) is copied back into the buffers by :meth:`sync`.
    """

    def __init__(self, params: list[Tensor]) -> None:
        self.params = params
        self.dtype = params[0].dtype
        self.bounds = np.cumsum([0] + [p.size for p in params])
        self.data = np.empty(self.bounds[-1], self.dtype)
        self.grad = np.zeros(self.bounds[-1], self.dtype)
        self._data_views = self.views(self.data)
        self._grad_views = self.views(self.grad)
        self.sync()

    def views(self, flat: np.ndarray) -> list[np.ndarray]:
        """Each parameter's slice of a flat buffer, in the parameter's shape."""
        return [
            flat[start:stop].reshape(p.shape)
            for p, start, stop in zip(self.params, self.bounds, self.bounds[1:], strict=False)
        ]

    def sync(self) -> None:
        """Point every parameter's ``data`` and ``grad`` at the buffers, copying in new arrays."""
        for p, data, grad in zip(self.params, self._data_views, self._grad_views, strict=True):
            if p.data is not data:
                if p.data.shape != data.shape:
                    raise ValueError(
                        f"a parameter changed shape from {data.shape} to {p.data.shape}; "
                        "make a new optimizer for the new parameters"
                    )
                data[...] = p.data
                p.data = data
            if vars(p).get("grad") is not grad:
                grad[...] = vars(p).get("grad", 0)
                p.grad = grad


class Optimizer:
    """Holds the parameters; subclasses define ``step``.

    The parameters' values and gradients are kept in one contiguous buffer each
    (per dtype), so ``step`` and ``zero_grad`` touch all parameters in one pass.
    """

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        if lr < 0:
            raise ValueError(f"learning rate must be >= 0, got {lr}")
        self.lr = lr
        unique = list({id(p): p for p in self.params}.values())
        dtypes = list(dict.fromkeys(p.dtype for p in unique))
        self._groups = [_FlatGroup([p for p in unique if p.dtype == dt]) for dt in dtypes]

    def _state(self) -> list[np.ndarray]:
        """One zero-filled flat buffer per dtype group, laid out like the parameters."""
        return [np.zeros_like(group.data) for group in self._groups]

    def _per_parameter(self, flats: list[np.ndarray]) -> list[np.ndarray]:
        """The per-parameter views of flat state buffers, in ``self.params`` order."""
        views = {
            id(p): view
            for group, flat in zip(self._groups, flats, strict=True)
            for p, view in zip(group.params, group.views(flat), strict=True)
        }
        return [views[id(p)] for p in self.params]

    def _synced(self) -> list[_FlatGroup]:
        for group in self._groups:
            group.sync()
        return self._groups

    def zero_grad(self) -> None:
        """Reset every parameter's gradient (call before each backward)."""
        for group in self._synced():
            group.grad.fill(0)

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
        self._momentum = self._state()
        self.buffers: list[np.ndarray | None] = [None] * len(self.params)  # views once stepped

    def step(self) -> None:
        first_step = self.buffers[0] is None
        if self.momentum and first_step:
            self.buffers = list(self._per_parameter(self._momentum))
        for group, buf in zip(self._synced(), self._momentum, strict=True):
            p = group.data
            g = group.grad + self.weight_decay * p if self.weight_decay else group.grad
            if self.momentum:
                if first_step:
                    buf[...] = g
                else:
                    buf *= self.momentum
                    buf += (1 - self.dampening) * g
                g = g + self.momentum * buf if self.nesterov else buf
            p -= (self.lr * g).astype(p.dtype, copy=False)


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
        self._m, self._v = self._state(), self._state()
        self._scratch = [np.empty_like(m) for m in self._m]  # no allocation per step
        self.m = self._per_parameter(self._m)  # each parameter's view of the flat state
        self.v = self._per_parameter(self._v)

    def step(self) -> None:
        self.t += 1
        b1, b2 = self.betas
        correction1 = 1 - b1**self.t
        correction2 = 1 - b2**self.t
        groups = self._synced()
        for group, m, v, tmp in zip(groups, self._m, self._v, self._scratch, strict=True):
            p, g = group.data, group.grad  # every parameter of this dtype at once
            if self.weight_decay and self.decoupled:
                p *= 1 - self.lr * self.weight_decay
            elif self.weight_decay:
                g = g + self.weight_decay * p
            m *= b1  # m = b1 m + (1 - b1) g
            m += np.multiply(g, 1 - b1, out=tmp)
            v *= b2  # v = b2 v + (1 - b2) g^2
            v += np.multiply(np.square(g, out=tmp), 1 - b2, out=tmp)
            np.sqrt(v, out=tmp)  # tmp = sqrt(v_hat) + eps, then the step
            tmp /= math.sqrt(correction2)
            tmp += self.eps
            np.divide(m, tmp, out=tmp)
            tmp *= self.lr / correction1
            p -= tmp


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
