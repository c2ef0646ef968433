"""Gradient averaging for parameters that no DistributedDataParallel wrapper owns.

The projection heads live in the objective, whose ``forward`` is never called (the
host models call its loss methods), so DDP's reducer never sees them. Both host
adapters average their gradients by hand between ``backward`` and ``step``.
"""
from typing import Iterable

import torch
import torch.distributed as dist

__all__ = ['average_gradients']


def average_gradients(params: Iterable[torch.nn.Parameter]) -> None:
    """All-reduce (mean) the gradients of ``params`` in one flat buffer.

    A parameter without a gradient on this rank contributes zeros, so every rank ends up
    with the same gradient. A no-op outside an initialised process group of size > 1.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return
    params = [p for p in params if p.requires_grad]
    if not params:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for param in params:
        n = param.numel()
        param.grad = flat[offset:offset + n].view_as(param).clone()
        offset += n
