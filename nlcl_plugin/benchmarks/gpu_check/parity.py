"""Section ``parity``: G_B on CUDA against the authors' outputs (or against the CPU)."""
import os
import os.path as osp
from typing import Any, Dict

from .core import Section, device_name


class tf32:
    """Context: cuDNN convolutions / matmuls with TF32 allowed or not."""

    def __init__(self, allow: bool):
        self.allow = allow

    def __enter__(self):
        import torch
        self.saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
        torch.backends.cudnn.allow_tf32 = self.allow
        torch.backends.cuda.matmul.allow_tf32 = self.allow

    def __exit__(self, *exc):
        import torch
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = self.saved


def grey_stats(ours, ref) -> Dict[str, Any]:
    import numpy as np
    diff = np.abs(ours.astype(np.int32) - ref.astype(np.int32))
    mse = float(np.mean(diff.astype(np.float64)**2))
    psnr = float('inf') if mse == 0 else 10 * np.log10(255.0**2 / mse)
    return dict(max=int(diff.max()), psnr=psnr, differing=float((diff > 0).mean()))


def section_parity(s: Section) -> None:
    import cv2
    import numpy as np
    import torch

    from nlcl_plugin.image_io import read_image
    from nlcl_plugin.inference import Derainer
    from nlcl_plugin.models import DecompositionGenerator
    from nlcl_plugin.models.checkpoint import load_generator
    dev = device_name(s.dry)
    root = s.args.official_dir
    ckpt = osp.join(root, 'checkpoints', 'latest_net_Back.pth')
    photos = sorted(p for p in (os.listdir(osp.join(root, 'rainy'))
                                if osp.isdir(osp.join(root, 'rainy')) else [])
                    if p.lower().endswith(('.jpg', '.png')))
    official = osp.isfile(ckpt) and photos and osp.isdir(osp.join(root, 'derained'))
    modes = [('fp32, TF32 off', 'fp32', False), ('fp32, torch defaults (cuDNN TF32 allowed)',
                                                 'fp32', True)]
    if not s.dry:
        modes.append(('fp16 autocast (opt-in)', 'fp16', True))
    rows = []
    if official:
        s.metrics['reference'] = 'authors\' outputs'
        net = load_generator(DecompositionGenerator(), ckpt, role='background')
        derainers = {label: Derainer(net, device=dev, precision=prec)
                     for label, prec, _ in modes}
        if s.dry:
            photos = photos[:1]
        worst = {label: 0 for label, _, _ in modes}
        for name in photos:
            rgb, _ = read_image(osp.join(root, 'rainy', name))
            ref_path = osp.join(root, 'derained', osp.splitext(name)[0] + '.png')
            ref = cv2.imread(ref_path)[:, :, ::-1]
            for label, _, allow in modes:
                with tf32(allow):
                    out = derainers[label](rgb)[0]
                st = grey_stats(out, ref)
                worst[label] = max(worst[label], st['max'])
                rows.append({'photo': name, 'path': label, 'size': f'{rgb.shape[1]}x{rgb.shape[0]}',
                             'max diff (grey)': st['max'], 'PSNR (dB)': round(st['psnr'], 1),
                             'pixels differing': f'{100 * st["differing"]:.3f} %'})
        s.table(f'G_B ({"CPU dry run" if s.dry else "CUDA"}) with the authors\' weights '
                'against their outputs', rows,
                ['authors\' test path: input in [-1, 1], B clamped, mapped to [0, 255] and '
                 'rounded'])
        if s.dry:
            s.notes.append('dry run: one photo, on the CPU')
        for label, _, _ in modes[:2]:
            s.check(f'{label}: every photo within 1 grey level of the authors\' outputs',
                    worst[label] <= 1, f'largest difference {worst[label]} grey level(s)')
        s.metrics['worst_grey'] = worst
        return
    s.metrics['reference'] = 'CPU fp32 (official files not found)'
    s.notes.append(f'the authors\' files were not found under {osp.abspath(root)}: CUDA is '
                   'compared with the CPU on random weights and inputs')
    torch.manual_seed(0)
    net = DecompositionGenerator()
    rng = np.random.default_rng(0)
    low = rng.integers(0, 256, (24, 40, 3)).astype(np.uint8)
    photo = cv2.resize(low, (640, 384), interpolation=cv2.INTER_CUBIC)
    photo = np.clip(photo.astype(np.int32) + rng.integers(-20, 21, photo.shape), 0, 255)
    photo = photo.astype(np.uint8)
    if s.dry:
        photo = photo[:96, :160]
    ref = Derainer(net, device='cpu', tile=0)(photo)[0]
    worst = {}
    for label, prec, allow in modes:
        with tf32(allow):
            out = Derainer(net, device=dev, precision=prec)(photo)[0]
        st = grey_stats(out, ref)
        worst[label] = st['max']
        rows.append({'path': label, 'size': f'{photo.shape[1]}x{photo.shape[0]}',
                     'max diff (grey)': st['max'], 'PSNR (dB)': round(st['psnr'], 1)})
    s.table('G_B, random weights: CUDA against CPU fp32', rows)
    for label, _, _ in modes[:2]:
        s.check(f'{label}: within 1 grey level of the CPU', worst[label] <= 1,
                f'largest difference {worst[label]}')
    s.metrics['worst_grey'] = worst
