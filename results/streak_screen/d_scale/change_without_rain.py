"""How much a derainer changes images that hold little or no rain: for each pair of folders
(inputs, the derainer's outputs of them), the mean over images of PSNR(output, input) and of
the RMS of the change's grey detail layer (channel mean, minus its Gaussian blur at sigma 3).

    python change_without_rain.py INPUTS OUTPUTS [INPUTS OUTPUTS ...]

With INPUTS a folder of rainy cells and OUTPUTS the rain-free twins, it gives the rain's own
figures (its PSNR and detail RMS), the scale against which a change is read.
"""
import glob
import os.path as osp
import sys

import cv2
import numpy as np

from nlcl_plugin.evaluation.error_bands import grey_detail


def main():
    args = sys.argv[1:]
    if not args or len(args) % 2:
        sys.exit(__doc__)
    print('| inputs | outputs | images | PSNR(output, input) (dB) | change detail RMS |')
    print('| --- | --- | ---: | ---: | ---: |')
    for inputs, outputs in zip(args[::2], args[1::2]):
        psnr, rms = [], []
        for f in sorted(glob.glob(osp.join(inputs, '*.png'))):
            x = cv2.imread(f).astype(np.float64) / 255
            y = cv2.imread(osp.join(outputs, osp.basename(f))).astype(np.float64) / 255
            psnr.append(10 * np.log10(1 / max(((y - x) ** 2).mean(), 1e-12)))
            rms.append(np.sqrt((grey_detail(y, x) ** 2).mean()))
        print(f'| {inputs} | {outputs} | {len(psnr)} | {np.mean(psnr):.2f} | {np.mean(rms):.4f} |')


if __name__ == '__main__':
    main()
