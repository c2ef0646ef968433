#!/usr/bin/env python
"""Derain photos with a trained NLCL model.

Examples:
    python tools/derain.py photo.jpg more_photos/ 'shots/*.png' \\
        --checkpoint work_dirs/nlcl_real_rain/iter_80000.pth --out-dir derained --save-rain
    python tools/derain.py rainy/ --checkpoint latest_net_Back.pth --out-dir out
    python tools/derain.py rainy/ --checkpoint latest_net_Back.pth --out-dir out --precision bf16

CHECKPOINT is the authors' ``latest_net_Back.pth`` or a checkpoint written by the plugin's
training (which holds both generators). Writes ``OUT_DIR/<stem>.png`` (8-bit RGB, same size
as the input) per image, and ``OUT_DIR/<stem>_rain.png`` with ``--save-rain``. Unreadable
files are reported and skipped; the command then exits with status 1 listing them.
Folders are searched recursively for the extensions in
:data:`nlcl_plugin.image_io.IMAGE_EXTENSIONS`; the other files there are passed over and
counted by extension. Any image of at least 1x1 pixel is derained: a side shorter than
16 pixels is padded as training pads crops, and the output cropped back.

``--tile N`` streams each photo through the network in bands of N rows with exact
whole-image InstanceNorm statistics (same output, about 256 bytes of memory per pixel
plus the interpreter's: a 4000x3000 photo derains in about 3.4 GiB; see
``nlcl_plugin.inference.streamed_forward``); it is the default on CPU (64 rows), ``--tile
0`` runs the whole photo at once. ``--precision bf16`` (CPU or GPU) / ``fp16`` (GPU)
trade exactness for speed.

Checkpoints are loaded weights-only; ``--trust-checkpoint`` unpickles them in full
(trusted files only).
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import nlcl_plugin  # noqa: E402,F401  (activates the compat fixes)
from nlcl_plugin.checkpoint_safety import add_trust_argument  # noqa: E402
from nlcl_plugin.image_io import (IMAGE_EXTENSIONS, ImageReadError,  # noqa: E402
                                  collect_inputs, read_image, write_image)


def parse_args(argv=None):
    exts = ' '.join(IMAGE_EXTENSIONS)
    p = argparse.ArgumentParser(
        description='Derain photos with a trained NLCL model.',
        epilog=f'Images read: {exts} (any case); grayscale, RGBA, palette and 16-bit images '
        'are converted to 8-bit RGB. Folders are searched recursively for these extensions; '
        'other files there are passed over and counted. Any size from 1x1 pixel: sides '
        'shorter than 16 pixels are padded as in training and the output cropped back.')
    p.add_argument('inputs', nargs='+',
                   help=f'image files, folders (recursive) or globs; images: {exts}')
    p.add_argument('--checkpoint', required=True,
                   help="G_B weights: official latest_net_Back.pth or a plugin checkpoint")
    p.add_argument('--rain-checkpoint', default=None,
                   help='G_R weights (official latest_net_Rain.pth); default: --checkpoint')
    p.add_argument('--out-dir', required=True, help='output folder')
    p.add_argument('--device', default='cpu', help='cpu or cuda[:i] (default: cpu)')
    p.add_argument('--save-rain', action='store_true', help='also write <stem>_rain.png')
    p.add_argument('--raw-weights', action='store_true',
                   help='for training checkpoints with moving averages of the generators '
                   '(model.is_use_ema): use the trained weights instead of the averages')
    add_trust_argument(p)
    p.add_argument('--no-progress', action='store_true', help='no progress bar')
    p.add_argument('--tile', type=int, default=None, metavar='N',
                   help='stream each photo in bands of N rows with exact whole-image '
                   'statistics (same output, a fraction of the memory); 0: the whole photo '
                   'at once; default: 64-row bands on CPU (fastest there), whole photo on GPU')
    p.add_argument('--precision', default='fp32', choices=['fp32', 'bf16', 'fp16'],
                   help='fp32 (default, exact); bf16 (CPU/GPU) or fp16 (GPU): faster, '
                   'not exact')
    p.add_argument('--malloc', choices=['keep', 'default'], default='keep',
                   help="keep (default): glibc keeps freed memory for reuse instead of "
                   "page-faulting large buffers in again (about 1.3x faster on CPU); "
                   "default: glibc's own settings")
    args = p.parse_args(argv)
    if args.tile is not None and args.tile < 0:
        p.error(f'--tile must be >= 0, got {args.tile}')
    if args.precision == 'fp16' and not str(args.device).startswith('cuda'):
        p.error('--precision fp16 needs a CUDA device; use --precision bf16 on CPU')
    return args


def describe_passed_over(passed_over) -> str:
    """One line for the files passed over for their extension, e.g.
    ``passed over 3 files in folders (.gif: 2, .txt: 1): not an image extension``."""
    total = sum(passed_over.values())
    counts = ', '.join(f'{ext or "no extension"}: {n}' for ext, n in
                       sorted(passed_over.items(), key=lambda kv: (-kv[1], kv[0])))
    return (f'passed over {total} file{"s" if total != 1 else ""} in folders ({counts}): not '
            f'an image extension ({" ".join(IMAGE_EXTENSIONS)})')


def output_names(files):
    """``<stem>`` per file; repeated stems get ``-2``, ``-3``... so nothing is overwritten."""
    counts, names = {}, []
    for f in files:
        stem = osp.splitext(osp.basename(f))[0]
        counts[stem] = counts.get(stem, 0) + 1
        names.append(stem if counts[stem] == 1 else f'{stem}-{counts[stem]}')
    return names


def main(argv=None):
    args = parse_args(argv)
    if args.malloc == 'keep':
        from nlcl_plugin.models.fast_ops import keep_freed_memory
        keep_freed_memory()
    from tqdm import tqdm

    from nlcl_plugin.inference import Derainer
    from nlcl_plugin.models.checkpoint import CheckpointError, UntrustedCheckpointError

    files, failures, passed_over = collect_inputs(args.inputs)
    if passed_over:
        print(describe_passed_over(passed_over), file=sys.stderr)
    if not files:
        for path, why in failures:
            print(f'error: {path}: {why}', file=sys.stderr)
        print('error: no input images', file=sys.stderr)
        return 2
    try:
        derainer = Derainer.from_checkpoints(
            args.checkpoint, args.rain_checkpoint, device=args.device, with_rain=args.save_rain,
            precision=args.precision, tile=args.tile, ema=False if args.raw_weights else None,
            trust=args.trust_checkpoint)
    except CheckpointError as err:
        print(f'error: {err}', file=sys.stderr)
        if (args.save_rain and args.rain_checkpoint is None
                and not isinstance(err, UntrustedCheckpointError)):
            print('hint: --save-rain needs G_R: pass --rain-checkpoint latest_net_Rain.pth or a '
                  'plugin training checkpoint', file=sys.stderr)
        return 2
    os.makedirs(args.out_dir, exist_ok=True)
    names = output_names(files)
    bar = tqdm(zip(files, names), total=len(files), unit='img', disable=args.no_progress,
               desc='derain')
    for path, name in bar:
        try:
            rgb, notes = read_image(path)
        except ImageReadError as err:
            failures.append((path, err.reason))
            tqdm.write(f'skipped {path}: {err.reason}', file=sys.stderr)
            continue
        for note in notes:
            tqdm.write(f'{path}: {note}', file=sys.stderr)
        try:
            bg, rain = derainer(rgb)
        except (RuntimeError, ValueError) as err:  # e.g. out of memory
            failures.append((path, f'{type(err).__name__}: {str(err).splitlines()[0]}'))
            tqdm.write(f'failed {path}: {failures[-1][1]}', file=sys.stderr)
            continue
        write_image(osp.join(args.out_dir, f'{name}.png'), bg)
        if rain is not None:
            write_image(osp.join(args.out_dir, f'{name}_rain.png'), rain)
    done = len(files) - sum(1 for p, _ in failures if p in set(files))
    print(f'derained {done}/{len(files)} images into {args.out_dir}')
    if failures:
        print(f'{len(failures)} failure(s):', file=sys.stderr)
        for path, why in failures:
            print(f'  {path}: {why}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
