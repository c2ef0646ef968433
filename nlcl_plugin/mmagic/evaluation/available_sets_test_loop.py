"""Multi-set test (and val) loops that evaluate only the sets present on disk.

MMagic's :class:`~mmagic.engine.runner.MultiTestLoop` builds every dataloader of
``test_dataloader`` up front, so one missing benchmark folder (say ``data/Test2800``)
aborts the whole evaluation: ``BasicImageDataset`` raises while scanning it, and an
empty folder fails later with a division by zero in the metric. The loops here look at
the folders each *dataset config* reads (``data_root`` joined with every
``data_prefix`` entry, and ``ann_file`` if given) **before** anything is built, skip the
sets whose data is absent with one log line naming the set and the path, and evaluate
the rest. Metrics keep MMagic's per-set ``prefix=`` (``'Rain100L/PSNR'``) and
``runner.test()`` / ``runner.val()`` return the merged dict.

Use in a config::

    test_cfg = dict(type='AvailableSetsTestLoop')
    test_dataloader = [rain100l_dataloader, rain100h_dataloader, ...]
    test_evaluator = [rain100l_evaluator, rain100h_evaluator, ...]  # same order

Only sets given as config dicts are checked; already built dataloaders, datasets given
as objects and remote paths (``s3://...``) are always kept. For datasets that create
their data when built (the plugin's demo datasets) set ``skip_missing=False``: every set
is then built, as in ``MultiTestLoop``, and the metrics are still returned (MMagic's
``Multi{Val,Test}Loop.run`` returns ``None``, so ``runner.test()`` does too).
"""
import logging
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Tuple

from mmagic.datasets.basic_image_dataset import IMG_EXTENSIONS
from mmagic.engine.runner import MultiTestLoop, MultiValLoop
from mmagic.engine.runner.loop_utils import is_evaluator
from mmagic.registry import LOOPS
from mmengine.logging import print_log

__all__ = [
    'AvailableSetsTestLoop', 'AvailableSetsValLoop', 'dataset_paths', 'find_missing_data',
    'select_available_sets'
]

_MODE_WORDS = {'test': 'test set', 'val': 'validation set'}


def _is_uri(path: str) -> bool:
    return '://' in path


def _join(root: Optional[str], path: str) -> str:
    """Join like mmengine's ``BaseDataset``: relative paths go under ``data_root``."""
    if root and not (osp.isabs(path) or _is_uri(path)):
        return osp.join(root, path) if path else root
    return path


def dataset_paths(dataset_cfg: Any) -> List[Tuple[str, str]]:
    """The folders and files a dataset config reads, as ``(path, kind)`` pairs.

    ``kind`` is ``'dir'`` for a ``data_prefix`` folder, ``'root'`` for ``data_root``
    when the config gives no prefix (the dataset class's default prefixes are unknown
    here) and ``'file'`` for ``ann_file``. Wrapper configs (``dataset=`` /
    ``datasets=``) are followed. Remote paths and non-dict datasets yield nothing.

    Args:
        dataset_cfg (Any): The ``dataset`` entry of a dataloader config.

    Returns:
        list[tuple[str, str]]: Paths as the dataset would open them.
    """
    if not isinstance(dataset_cfg, dict):
        return []
    if 'dataset' in dataset_cfg:
        return dataset_paths(dataset_cfg['dataset'])
    if 'datasets' in dataset_cfg:
        return [p for sub in dataset_cfg['datasets'] for p in dataset_paths(sub)]
    root = dataset_cfg.get('data_root')
    prefixes = dataset_cfg.get('data_prefix') or {}
    paths = []
    ann_file = dataset_cfg.get('ann_file') or ''
    if ann_file:
        paths.append((_join(root, ann_file), 'file'))
    if isinstance(prefixes, dict) and prefixes:
        paths.extend((_join(root, str(p)), 'dir') for p in prefixes.values())
    elif isinstance(prefixes, str) and prefixes:
        paths.append((_join(root, prefixes), 'dir'))
    elif root:
        paths.append((root, 'root'))
    return [(p, kind) for p, kind in paths if not _is_uri(p)]


def _has_image(folder: str, suffixes: Optional[Tuple[str, ...]], recursive: bool) -> bool:
    """Whether ``folder`` holds a file ending in one of ``suffixes`` (any file if None)."""
    subdirs = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_file() and (suffixes is None or entry.name.endswith(suffixes)):
                    return True
                if recursive and entry.is_dir():
                    subdirs.append(entry.path)
    except OSError:
        return False
    return any(_has_image(d, suffixes, recursive) for d in subdirs)


def find_missing_data(dataset_cfg: Any) -> Optional[Tuple[str, str]]:
    """The first path of a dataset config whose data is absent, and why.

    A ``data_prefix`` folder counts as absent when it does not exist or holds no image
    (files ending in the config's ``img_suffix``, MMagic's image extensions by default;
    searched recursively when ``recursive=True``). Without ``data_prefix``, ``data_root``
    must exist and not be empty. An ``ann_file`` must exist.

    Args:
        dataset_cfg (Any): The ``dataset`` entry of a dataloader config.

    Returns:
        tuple[str, str] or None: ``(path, reason)``, or ``None`` when all data is there.
    """
    suffixes = IMG_EXTENSIONS
    recursive = False
    if isinstance(dataset_cfg, dict):
        suffixes = dataset_cfg.get('img_suffix', IMG_EXTENSIONS)
        if isinstance(suffixes, str):
            suffixes = (suffixes, )
        elif suffixes is not None:
            suffixes = tuple(suffixes)
        recursive = bool(dataset_cfg.get('recursive', False))
    for path, kind in dataset_paths(dataset_cfg):
        if kind == 'file':
            if not osp.isfile(path):
                return path, 'does not exist'
        elif not osp.exists(path):
            return path, 'does not exist'
        elif not osp.isdir(path):
            return path, 'is not a folder'
        elif kind == 'root':
            if not os.listdir(path):
                return path, 'is empty'
        elif not _has_image(path, suffixes, recursive):
            return path, 'holds no images'
    return None


def _metric_prefix(evaluator_cfg: Any) -> Optional[str]:
    """The first ``prefix=`` among an evaluator config's metrics, if any."""
    metrics = evaluator_cfg.get('metrics') if isinstance(evaluator_cfg, dict) else evaluator_cfg
    if isinstance(metrics, dict):
        metrics = [metrics]
    if isinstance(metrics, (list, tuple)):
        for metric in metrics:
            if isinstance(metric, dict) and metric.get('prefix'):
                return str(metric['prefix'])
    return None


def _set_name(loader_cfg: Any, evaluator_cfg: Any, where: str) -> str:
    """A readable name: the dataset's ``metainfo.dataset_type``, a metric prefix, or
    the config position."""
    if isinstance(loader_cfg, dict):
        dataset = loader_cfg.get('dataset')
        if isinstance(dataset, dict):
            metainfo = dataset.get('metainfo') or {}
            if isinstance(metainfo, dict) and metainfo.get('dataset_type'):
                return str(metainfo['dataset_type'])
    return _metric_prefix(evaluator_cfg) or where


def select_available_sets(
        dataloader: Any,
        evaluator: Any,
        mode: str = 'test',
        allow_empty: bool = False,
        skip_missing: bool = True) -> Tuple[List[Any], List[Any], List[str]]:
    """Drop the sets whose data is missing from paired dataloader/evaluator configs.

    ``dataloader`` is one dataloader (config or object) or a list of them;
    ``evaluator`` is one evaluator (a list of metric configs, an evaluator config with
    ``metrics=`` or an ``Evaluator``) or a list with one evaluator per dataloader, in
    the same order (MMagic's ``MultiTestLoop`` convention). Each skipped set is logged
    as a warning naming the set and the path looked for.

    Args:
        dataloader (Any): ``<mode>_dataloader`` of the config.
        evaluator (Any): ``<mode>_evaluator`` of the config.
        mode (str): ``'test'`` or ``'val'``, used in messages.
        allow_empty (bool): When no set is available, return empty lists (with a
            warning) instead of raising. Defaults to False.
        skip_missing (bool): Check the data at all; False keeps every set (for datasets
            that create their data when built). Defaults to True.

    Returns:
        tuple: The kept dataloaders, their evaluators and the set names.

    Raises:
        ValueError: The two lists differ in length.
        FileNotFoundError: No set has its data on disk and ``allow_empty`` is False; the
            message lists every path looked for.
    """
    loader_key, evaluator_key = f'{mode}_dataloader', f'{mode}_evaluator'
    what = _MODE_WORDS.get(mode, f'{mode} set')
    loaders = list(dataloader) if isinstance(dataloader, (list, tuple)) else [dataloader]
    if isinstance(evaluator, dict) and 'metrics' not in evaluator:
        evaluator = [evaluator]  # a single metric config
    evaluators = [evaluator] if is_evaluator(evaluator) else list(evaluator)
    if len(loaders) != len(evaluators):
        raise ValueError(
            f'`{loader_key}` has {len(loaders)} entries but `{evaluator_key}` has '
            f'{len(evaluators)}: give one evaluator (a list of metrics, each with '
            f'prefix=<set name>) per dataloader, in the same order')

    kept_loaders, kept_evaluators, names, looked_for = [], [], [], []
    for idx, (loader, evaluator_cfg) in enumerate(zip(loaders, evaluators)):
        where = f'{loader_key}[{idx}]'
        name = _set_name(loader, evaluator_cfg, where)
        missing = None
        if skip_missing and isinstance(loader, dict):
            missing = find_missing_data(loader.get('dataset'))
        if missing is None:
            kept_loaders.append(loader)
            kept_evaluators.append(evaluator_cfg)
            names.append(name)
            continue
        path, reason = missing
        looked_for.append(f'  {name} ({where}): {osp.abspath(path)} {reason}')
        print_log(f'Skipping {what} {name!r} ({where}): {osp.abspath(path)} {reason}.',
                  logger='current', level=logging.WARNING)

    if not kept_loaders:
        if allow_empty:
            print_log(f'No {what} in `{loader_key}` is available: {mode} evaluation is '
                      'skipped.', logger='current', level=logging.WARNING)
            return [], [], []
        raise FileNotFoundError(
            f'None of the {len(loaders)} {what}s in `{loader_key}` is available; looked '
            'for:\n' + '\n'.join(looked_for) + '\nPut each set where its `data_root`/'
            '`data_prefix` point (layout: configs/_base_/datasets/deraining_test_sets.py) '
            f'or override the path, e.g. --cfg-options {loader_key}.0.dataset.data_root=DIR')
    print_log(f'Evaluating {len(kept_loaders)} {what}(s): {", ".join(names)}',
              logger='current', level=logging.INFO)
    return kept_loaders, kept_evaluators, names


class _AvailableSetsMixin:
    """Shared ``__init__``/``run`` of the two loops; ``_mode`` is 'test' or 'val'."""

    _mode = 'test'

    def __init__(self, runner, dataloader, evaluator, fp16: bool = False,
                 allow_empty: bool = False, skip_missing: bool = True):
        self._runner = runner
        loaders, evaluators, names = select_available_sets(
            dataloader, evaluator, self._mode, allow_empty=allow_empty,
            skip_missing=skip_missing)
        self.set_names: List[str] = names
        self.dataloaders = self._build_dataloaders(loaders)
        self.evaluators = self._build_evaluators(evaluators) if evaluators else []
        self.fp16 = fp16
        self._total_length = None

    def run(self) -> Dict[str, Any]:
        """Evaluate every available set and return the merged, prefixed metrics.

        Returns:
            dict: e.g. ``{'Rain100L/PSNR': ..., 'Rain100L/SSIM': ..., ...}``; empty, with
            no hook called, when ``allow_empty`` let the loop start without any set.

        Raises:
            ValueError: Two sets report the same metric name (missing ``prefix=``).
        """
        runner, mode = self._runner, self._mode
        if not self.dataloaders:
            self._total_length = 0
            return {}
        runner.call_hook(f'before_{mode}')
        runner.call_hook(f'before_{mode}_epoch')
        runner.model.eval()
        module = runner.model.module if hasattr(runner.model, 'module') else runner.model

        # prepare all metrics first: the total length is known before any iteration
        samplers = []
        self._total_length = 0
        for evaluator, dataloader in zip(self.evaluators, self.dataloaders):
            evaluator.prepare_metrics(module, dataloader)
            pairs = evaluator.prepare_samplers(module, dataloader)
            samplers.append(pairs)
            self._total_length += sum(len(sampler) for _, sampler in pairs)

        merged: Dict[str, Any] = {}
        idx_counter = 0
        for idx, name in enumerate(self.set_names):
            self.evaluator = self.evaluators[idx]
            self.dataloader = self.dataloaders[idx]
            meta_info = getattr(self.dataloader.dataset, 'metainfo', None)
            if meta_info:
                self.evaluator.dataset_meta = meta_info
                runner.visualizer.dataset_meta = meta_info
            if hasattr(runner.visualizer, 'set_name'):  # MultiSetConcatVisualizer
                runner.visualizer.set_name = name
            try:
                for metrics, sampler in samplers[idx]:
                    for data in sampler:
                        self.run_iter(idx_counter, data, metrics)
                        idx_counter += 1
            finally:
                if hasattr(runner.visualizer, 'set_name'):
                    runner.visualizer.set_name = None
            metrics = self.evaluator.evaluate()
            clash = sorted(metrics.keys() & merged.keys())
            if clash:
                raise ValueError(
                    f'{_MODE_WORDS.get(mode, mode)} {name!r} reports {clash}, already '
                    f'reported by another set: give its metrics prefix={name!r} in '
                    f'`{mode}_evaluator`')
            merged.update(metrics)

        runner.call_hook(f'after_{mode}_epoch', metrics=merged)
        runner.call_hook(f'after_{mode}')
        return merged


@LOOPS.register_module()
class AvailableSetsTestLoop(_AvailableSetsMixin, MultiTestLoop):
    """:class:`~mmagic.engine.runner.MultiTestLoop` over the test sets found on disk.

    Before building anything, every dataloader config of ``test_dataloader`` whose
    dataset folder (``data_root`` + each ``data_prefix`` entry) does not exist or holds
    no images is dropped together with its ``test_evaluator`` entry, with one warning
    such as ``Skipping test set 'Test2800' (test_dataloader[4]): /abs/data/Test2800/input
    does not exist.`` If no set is left, a ``FileNotFoundError`` lists every path
    looked for. :meth:`run` returns the merged metrics, so ``runner.test()`` does too.

    Args:
        runner (Runner): The runner.
        dataloader (dict | DataLoader | list): ``test_dataloader``: one or a list.
        evaluator (dict | list | Evaluator): ``test_evaluator``: one, or a list with
            one evaluator per dataloader in the same order.
        fp16 (bool): Run the model under autocast. Defaults to False.
        allow_empty (bool): With no set available, warn and return ``{}`` instead of
            raising. Defaults to False.
        skip_missing (bool): False builds every set without looking at the disk, like
            ``MultiTestLoop`` but returning the metrics (for datasets that create their
            data when built, e.g. the demo's). Defaults to True.
    """

    _mode = 'test'


@LOOPS.register_module()
class AvailableSetsValLoop(_AvailableSetsMixin, MultiValLoop):
    """:class:`~mmagic.engine.runner.MultiValLoop` over the validation sets on disk.

    The validation twin of :class:`AvailableSetsTestLoop` (``val_cfg``,
    ``val_dataloader``, ``val_evaluator``); missing sets are skipped once, when the
    loop is built at the start of training. With ``allow_empty=True`` an optional
    validation set may be absent altogether: training then runs without validation
    (one warning) instead of failing.

    Args:
        runner (Runner): The runner.
        dataloader (dict | DataLoader | list): ``val_dataloader``: one or a list.
        evaluator (dict | list | Evaluator): ``val_evaluator``: one, or one per
            dataloader in the same order.
        fp16 (bool): Run the model under autocast. Defaults to False.
        allow_empty (bool): With no set available, warn and skip validation instead
            of raising. Defaults to False.
        skip_missing (bool): False builds every set without looking at the disk.
            Defaults to True.
    """

    _mode = 'val'
