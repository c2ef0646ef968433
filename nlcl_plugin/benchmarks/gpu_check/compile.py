"""Section ``compile``: ``torch.compile`` against eager."""
import statistics
import time

from .core import Section, device_name, sync


def section_compile(s: Section) -> None:
    import torch
    from ..common import background_generator, rgb_photo, time_runs
    dev = device_name(s.dry)
    height, width = (128, 192) if s.dry else (3000, 4000)
    net, label = background_generator(torch.device(dev))
    rgb, _ = rgb_photo(height, width)
    from ...inference import image_to_tensor, tensor_to_image
    from ...models.fast_ops import fast_paths
    x = image_to_tensor(rgb).contiguous().to(dev)
    rows = []
    for prec in (['fp32'] if s.dry else ['fp32', 'fp16']):
        ctx_dtype = torch.float16 if prec == 'fp16' else None

        def run(fn):
            with torch.inference_mode(), fast_paths(False):
                if ctx_dtype is None:
                    return fn(x)
                with torch.autocast('cuda', dtype=ctx_dtype):
                    return fn(x)
        eager = statistics.median(time_runs(lambda: run(net), torch.device(dev), 3))
        compiled = torch.compile(net)
        t0 = time.perf_counter()
        run(compiled)
        sync(dev)
        compile_s = time.perf_counter() - t0
        comp = statistics.median(time_runs(lambda: run(compiled), torch.device(dev), 3))
        diff = int(abs(tensor_to_image(run(compiled)).astype(int)
                       - tensor_to_image(run(net)).astype(int)).max())
        rows.append({'precision': prec, 'eager ms': round(eager * 1e3, 1),
                     'compiled ms': round(comp * 1e3, 1),
                     'first call (compile) s': round(compile_s, 1),
                     'max diff (grey)': diff})
    s.table(f'G_B forward ({label}, {width}x{height}, tensor on the device): eager vs '
            'torch.compile', rows)
    s.check('torch.compile of G_B runs', bool(rows))
