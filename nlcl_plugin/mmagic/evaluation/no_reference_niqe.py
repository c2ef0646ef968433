"""No-reference NIQE for test sets without ground truth (e.g. real rainy photos).

MMagic's :class:`~mmagic.evaluation.metrics.NIQE` inherits
``BaseSampleWiseMetric.process``, which always reads ``gt_img`` from the data sample and
raises ``KeyError('Mapping key was not found')`` on a folder of rainy photos without
clean counterparts. :class:`NoReferenceNIQE` keeps MMagic's NIQE computation (its
``process_image`` and the MATLAB-matching :func:`~mmagic.evaluation.metrics.niqe`) and
only changes where the image comes from: the prediction alone.
"""
from typing import Optional, Sequence

from mmagic.evaluation.metrics import NIQE
from mmagic.evaluation.metrics.metrics_utils import obtain_data
from mmagic.registry import METRICS

__all__ = ['NoReferenceNIQE', 'NIQE_BLOCK_SIZE']

#: Side of the square blocks NIQE fits its statistics on (MMagic and the MATLAB code).
NIQE_BLOCK_SIZE = 96


@METRICS.register_module()
class NoReferenceNIQE(NIQE):
    """NIQE (Natural Image Quality Evaluator) of the prediction only; lower is better.

    Scores a derained image without any reference, so that folders of real rainy photos
    (``BasicImageDataset`` with ``data_prefix=dict(img='input')``) can be evaluated. The
    value is exactly MMagic's NIQE of the same image with the same settings.

    The image is read from ``output.<key>`` of each data sample when ``is_predicted``
    (the model's prediction, ``pred_img`` by default), or from the data sample itself
    otherwise (e.g. ``key='gt_img'`` to score the ground truth as a reference level).
    MMagic's models return ``pred_img`` as a (C, H, W) tensor in [0, 255], BGR (their data
    preprocessor's ``destruct`` converts to BGR), which is what NIQE's ``'y'``/``'gray'``
    conversion expects; hence ``input_order='CHW'`` by default. A (T, C, H, W) stack
    (video frames) is scored frame by frame and averaged, like MMagic's other metrics.

    NIQE fits a Gaussian model to the statistics of 96 x 96 blocks, so an image (after
    ``crop_border``) must hold at least two whole blocks (e.g. 96 x 192); smaller
    images raise a ``ValueError`` naming the file instead of returning NaN.

    Args:
        key (str): Field holding the image. Defaults to ``'pred_img'``.
        is_predicted (bool): Read ``key`` from the model output (``True``) or from the
            data sample (``False``). Defaults to ``True``.
        collect_device (str): ``'cpu'`` or ``'gpu'``, for collecting results across
            ranks. Defaults to ``'cpu'``.
        prefix (str, optional): Metric name prefix, e.g. the test set's name; the
            result is reported as ``'<prefix>/NIQE'``. Defaults to ``None``.
        crop_border (int): Pixels removed from each edge before scoring. Defaults to 0.
        input_order (str): ``'CHW'`` or ``'HWC'`` layout of the image. Defaults to
            ``'CHW'`` (MMagic's data samples).
        convert_to (str): Channel the score is computed on: ``'y'`` (Y of YCbCr, the
            deraining convention, as for PSNR/SSIM with ``convert_to='Y'``) or
            ``'gray'``. Case-insensitive. Defaults to ``'y'``.

    Metrics:
        - NIQE (float): mean NIQE over the set.
    """

    metric = 'NIQE'

    def __init__(self,
                 key: str = 'pred_img',
                 is_predicted: bool = True,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 crop_border: int = 0,
                 input_order: str = 'CHW',
                 convert_to: str = 'y') -> None:
        name = type(self).__name__
        if not isinstance(convert_to, str) or convert_to.lower() not in ('y', 'gray'):
            raise ValueError(f"{name}.convert_to must be 'y' or 'gray', got {convert_to!r}")
        if input_order not in ('CHW', 'HWC'):
            raise ValueError(f"{name}.input_order must be 'CHW' or 'HWC', got {input_order!r}")
        if isinstance(crop_border, bool) or not isinstance(crop_border, int) or crop_border < 0:
            raise ValueError(f'{name}.crop_border must be an int >= 0, got {crop_border!r}')
        super().__init__(
            key=key,
            is_predicted=is_predicted,
            collect_device=collect_device,
            prefix=prefix,
            crop_border=crop_border,
            input_order=input_order,
            convert_to=convert_to)

    def process(self, data_batch: Sequence[dict], data_samples: Sequence[dict]) -> None:
        """Score the image of every data sample; no ground truth is read.

        Args:
            data_batch (Sequence[dict]): A batch from the dataloader (unused).
            data_samples (Sequence[dict]): The model outputs as dicts (MMagic's
                evaluator converts ``DataSample`` to dict), the prediction under
                ``'output'``.

        Raises:
            KeyError: The data sample has no ``output.<key>`` (or ``<key>``).
            ValueError: An image is too small for NIQE.
        """
        for data in data_samples:
            source = data['output'] if self.is_predicted else data
            try:
                img = obtain_data(source, self.key, self.device)
            except KeyError:
                where = f'output.{self.key}' if self.is_predicted else self.key
                raise KeyError(f'{type(self).__name__}: the data sample has no {where!r} '
                               f'(config key `key={self.key!r}`, '
                               f'`is_predicted={self.is_predicted}`)') from None
            frames = img if img.ndim == 4 else [img]
            scores = []
            for frame in frames:
                self._check_size(frame, data)
                scores.append(float(self.process_image(None, frame, None)))
            self.results.append({self.metric: sum(scores) / len(scores)})

    def _check_size(self, img, data: dict) -> None:
        """Raise a ``ValueError`` unless ``img`` holds two NIQE blocks after cropping."""
        shape = tuple(img.shape)
        if len(shape) == 2:
            h, w = shape
        elif len(shape) == 3:
            h, w = shape[1:] if self.input_order == 'CHW' else shape[:2]
        else:
            raise ValueError(f'{type(self).__name__}: expected an image of 2 or 3 dims '
                             f'({self.input_order}), got shape {shape}')
        h, w = h - 2 * self.crop_border, w - 2 * self.crop_border
        blocks = max(h, 0) // NIQE_BLOCK_SIZE * (max(w, 0) // NIQE_BLOCK_SIZE)
        if blocks < 2:
            path = _image_path(data)
            raise ValueError(
                f'{type(self).__name__}: {path or "an image"} is {h}x{w} after '
                f'crop_border={self.crop_border}; NIQE needs at least two '
                f'{NIQE_BLOCK_SIZE}x{NIQE_BLOCK_SIZE} blocks (e.g. '
                f'{NIQE_BLOCK_SIZE}x{2 * NIQE_BLOCK_SIZE})')


def _image_path(data: dict) -> Optional[str]:
    """The file an evaluated sample came from, if the data sample records it."""
    for key in ('img_path', 'gt_path'):
        value = data.get(key)
        if isinstance(value, (list, tuple)) and value:
            value = value[0]
        if isinstance(value, str):
            return value
    return None
