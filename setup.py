"""nlcl_plugin: NLCL unsupervised single-image deraining for MMagic and BasicSR."""
import os.path as osp
import re

from setuptools import find_packages, setup

here = osp.dirname(osp.abspath(__file__))
with open(osp.join(here, 'nlcl_plugin', '__init__.py')) as f:
    version = re.search(r"__version__ = '([^']+)'", f.read()).group(1)


def read_requirements(name):
    out = []
    with open(osp.join(here, 'requirements', name)) as f:
        for line in f:
            line = line.split('#')[0].strip()
            if line:
                out.append(line)
    return out


setup(
    name='nlcl_plugin',
    version=version,
    description='NLCL unsupervised single-image deraining (CVPR 2022 / TPAMI 2024) for '
    'MMagic and BasicSR',
    long_description=open(osp.join(here, 'README.md')).read() if osp.exists(
        osp.join(here, 'README.md')) else '',
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    packages=find_packages(include=['nlcl_plugin', 'nlcl_plugin.*']),
    python_requires='>=3.9',
    install_requires=read_requirements('torch-cpu.txt') + read_requirements('runtime.txt'),
    extras_require={'hosts': read_requirements('hosts.txt'), 'tests': read_requirements('tests.txt')},
    include_package_data=True,
)
