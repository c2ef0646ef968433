"""Shared by the hooks: decompose the current training batch with the current model."""
from typing import Tuple

import torch
from mmengine.model import is_model_wrapper


@torch.no_grad()
def decompose_batch(runner, data_batch) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(O, B, R) of ``data_batch`` in [-1, 1], each (N, 3, H, W), computed in eval mode."""
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    data = model.data_preprocessor(data_batch, False)
    rainy = data['inputs']
    was_training = model.training
    model.eval()
    try:
        bg = model.generator(rainy)
        rain = model.rain_generator(rainy)
    finally:
        model.train(was_training)
    return rainy, bg, rain
