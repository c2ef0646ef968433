#!/usr/bin/env python
"""Train an NLCL config with mmengine's Runner (MMagic's registries).

    python tools/train.py configs/nlcl_real_rain.py [--work-dir DIR] [--resume [CKPT]]
        [--amp [fp16|bf16]] [--compile [MODE]] [--cfg-options key=value ...]
        [--launcher none|pytorch|slurm|mpi] [--malloc keep|default]

Multi-process: ``bash tools/dist_train.sh CONFIG NUM_PROCS [args]`` (torchrun). Without
CUDA the process group uses gloo, so the same command runs several CPU processes.

``--resume`` without a path continues from the work dir's last complete checkpoint.
Problems found before training (a wrong config key, an unusable checkpoint, a missing or
empty data folder) end with one ``error:`` line and exit status 2; training stopped on a
non-finite loss exits with status 1. The checkpoint of ``--resume`` / ``load_from`` is
loaded weights-only; ``--trust-checkpoint`` unpickles it in full (trusted files only).
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import nlcl_plugin  # noqa: E402,F401  (compat fixes before any host import)
from nlcl_plugin.mmagic.runner_utils import build_runner  # noqa: E402


#: Printed when training starts on a CPU with ``--compile`` (or the config's ``compile``):
#: measured at 128x128, 1 thread, on a 2-core AMD EPYC (docs/performance.md).
CPU_COMPILE_NOTE = (
    'note: --compile on a CPU is slower overall unless the run is long: compiling the '
    'training step takes minutes before the first iteration (6 min at 128x128 on a 2-core '
    'AMD EPYC with an empty compile cache), and a compiled step then took 0.87-1.02x the '
    "eager step's time there; it is meant for GPUs")


def parse_args(argv=None):
    from mmengine.config import DictAction

    from nlcl_plugin.checkpoint_safety import add_trust_argument
    p = argparse.ArgumentParser(description='Train an NLCL model')
    p.add_argument('config', help='train config file path')
    p.add_argument('--work-dir', help='where to save logs and checkpoints')
    p.add_argument('--resume', nargs='?', const='auto', default=None,
                   help='resume from the latest checkpoint in the work dir, or from CKPT')
    p.add_argument('--amp', nargs='?', const=True, default=False, choices=['fp16', 'bf16'],
                   help="mixed precision with mmengine's AmpOptimWrapper: fp16 (CUDA, dynamic "
                   'loss scaling) or bf16 (CPU, or a GPU with bf16 support; no loss scaling); '
                   'without a value fp16 on CUDA, bf16 on CPU')
    p.add_argument('--compile', nargs='?', const=True, default=None,
                   choices=['default', 'reduce-overhead', 'max-autotune',
                            'max-autotune-no-cudagraphs'],
                   help="torch.compile the training step (mmengine's config key compile); "
                   'without a value reduce-overhead (CUDA graphs) on CUDA, default on CPU')
    p.add_argument('--auto-scale-lr', action='store_true', help='scale LR by batch size')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config settings, key=value (e.g. train_cfg.max_iters=100)')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                   help='job launcher')
    p.add_argument('--malloc', choices=['keep', 'default'], default='keep',
                   help="keep (default): glibc keeps freed memory for reuse, which saves "
                   "page faults on every step's activations (about 10%% faster at batch 1, "
                   "over 2x at batch 4 on CPU; the process stays at its peak memory); "
                   "default: glibc's own settings")
    add_trust_argument(p)
    p.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = p.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.malloc == 'keep':
        from nlcl_plugin.models.fast_ops import keep_freed_memory
        keep_freed_memory()
    from nlcl_plugin.image_io import ImageReadError
    from nlcl_plugin.mmagic.datasets import DataFolderError
    from nlcl_plugin.mmagic.hooks import NonFiniteLossError
    from nlcl_plugin.mmagic.runner_utils import CheckpointError, ConfigError, error_line
    try:
        runner = build_runner(args.config, work_dir=args.work_dir,
                              cfg_options=args.cfg_options, launcher=args.launcher,
                              resume=args.resume, amp=args.amp,
                              auto_scale_lr=args.auto_scale_lr,
                              trust_checkpoint=args.trust_checkpoint, compile=args.compile)
    except (ConfigError, CheckpointError, FileNotFoundError) as err:
        print(f'error: {error_line(err)}', file=sys.stderr)
        return 2
    from mmagic.utils import print_colored_log
    import torch
    if not torch.cuda.is_available():
        from nlcl_plugin.hardware import bf16_fast, describe_cpu
        print_colored_log(f'CPU: {describe_cpu()}')
        if args.amp and bf16_fast() is False:
            print('note: --amp trains in bf16 on CPU, and this CPU has no bf16 support '
                  '(AVX-512 BF16 or AMX): expect it to be slower than fp32', file=sys.stderr)
        if runner.cfg.get('compile'):
            print(CPU_COMPILE_NOTE, file=sys.stderr)
    print_colored_log(f'Working directory: {runner.work_dir}')
    print_colored_log(f'Log directory: {runner.log_dir}')
    try:
        runner.train()
    except (DataFolderError, ImageReadError) as err:
        print(f'error: {error_line(err)}', file=sys.stderr)
        return 2
    except NonFiniteLossError as err:
        print(f'error: {error_line(err)}', file=sys.stderr)
        return 1
    print_colored_log(f'Checkpoints saved under {runner.work_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
