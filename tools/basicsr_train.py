#!/usr/bin/env python
"""Train NLCL with BasicSR's training loop (``basicsr.train.train_pipeline``).

    python tools/basicsr_train.py -opt configs/basicsr/nlcl_demo.yml [--root DIR]
        [--auto_resume] [--force_yml train:total_iter=100 val:val_freq=50] [--debug]
        [--malloc keep|default] [--trust-checkpoint]
    torchrun --nproc_per_node=N tools/basicsr_train.py -opt OPT --launcher pytorch

BasicSR writes ``experiments/<name>/`` (models, training states, logs, validation
images) and ``tb_logger/<name>/`` under a root folder: this repository by default, or
``--root DIR``. Relative ``dataroot_*`` paths in the option file are relative to the
current directory, as in BasicSR. ``--force_yml`` takes ``key:subkey=value`` items.

Two narrow fixes to BasicSR 1.4.2 are applied by this script (and nowhere else):

* ``--auto_resume`` looks for ``experiments/<name>/training_states`` under the root
  folder, where BasicSR saves them (BasicSR itself looks under the current directory).
* Without CUDA, ``--launcher pytorch`` initialises the process group with gloo
  (BasicSR calls ``torch.cuda.set_device`` and uses NCCL unconditionally);
  ``NLCLModel`` then wraps its networks in CPU ``DistributedDataParallel``.

The training state (``--auto_resume``, ``path:resume_state``) and the network files
(``path:pretrain_network_*``) are loaded weights-only (see ``nlcl_plugin.compat``); a file
holding anything else ends with one ``error:`` line naming it and exit status 2.
``--trust-checkpoint`` unpickles them in full (trusted files only).
"""
import argparse
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

import nlcl_plugin  # noqa: E402,F401  (compat fixes before any host import)
from nlcl_plugin.checkpoint_safety import (CheckpointError, add_trust_argument,  # noqa: E402
                                           trusting)


def _auto_resume_under_root(train_module) -> None:
    """Make ``load_resume_state`` find ``--auto_resume`` states under ``opt['root_path']``."""
    original = train_module.load_resume_state
    if getattr(original, '_nlcl_root_resume', False):
        return

    def load_resume_state(opt):
        if not opt['auto_resume']:
            return original(opt)
        state_dir = osp.join(opt['root_path'], 'experiments', opt['name'], 'training_states')
        iters = []
        if osp.isdir(state_dir):
            from basicsr.utils import scandir
            iters = [int(float(name[:-len('.state')]))
                     for name in scandir(state_dir, suffix='.state')]
        if not iters:
            return None
        opt['path']['resume_state'] = osp.join(state_dir, f'{max(iters)}.state')
        opt['auto_resume'] = False
        try:
            return original(opt)
        finally:
            opt['auto_resume'] = True

    load_resume_state._nlcl_root_resume = True
    train_module.load_resume_state = load_resume_state


def _gloo_without_cuda(dist_util) -> None:
    """``--launcher pytorch`` on a machine without CUDA: gloo, no ``cuda.set_device``."""
    import torch
    import torch.distributed as dist
    original = dist_util._init_dist_pytorch
    if getattr(original, '_nlcl_gloo', False):
        return

    def _init_dist_pytorch(backend, **kwargs):
        if torch.cuda.is_available():
            return original(backend, **kwargs)
        dist.init_process_group(backend='gloo', **kwargs)

    _init_dist_pytorch._nlcl_gloo = True
    dist_util._init_dist_pytorch = _init_dist_pytorch


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='Train NLCL with BasicSR (other arguments go to BasicSR: -opt, '
        '--launcher, --auto_resume, --debug, --force_yml)', add_help=False)
    parser.add_argument('--root', default=REPO,
                        help='folder that receives experiments/ and tb_logger/ '
                        '(default: the repository)')
    parser.add_argument('--malloc', choices=['keep', 'default'], default='keep',
                        help="keep (default): glibc keeps freed memory for reuse (fewer "
                        "page faults per step; see tools/train.py); default: glibc's own")
    add_trust_argument(parser)
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    sys.argv = [sys.argv[0]] + rest
    if args.malloc == 'keep':
        from nlcl_plugin.models.fast_ops import keep_freed_memory
        keep_freed_memory()

    import basicsr.train
    import basicsr.utils.dist_util
    import nlcl_plugin.basicsr  # noqa: F401  (registers NLCLModel, archs, losses, dataset)
    _auto_resume_under_root(basicsr.train)
    _gloo_without_cuda(basicsr.utils.dist_util)
    try:
        with trusting(args.trust_checkpoint):
            basicsr.train.train_pipeline(osp.abspath(args.root))
    except CheckpointError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
