"""nlcl_plugin.hardware: the CPU named from /proc/cpuinfo, gracefully elsewhere."""
from nlcl_plugin.hardware import bf16_fast, cpu_info, describe_cpu

EPYC = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B13
flags\t\t: fpu sse sse2 avx avx2 fma bmi2

processor\t: 1
model name\t: AMD EPYC 7B13
flags\t\t: fpu sse sse2 avx avx2 fma bmi2
"""

XEON = """processor\t: 0
model name\t: Intel(R) Xeon(R)   Processor
flags\t\t: avx2 avx512f avx512bw avx512_bf16 amx_bf16 amx_tile
"""


def test_avx2_only_cpu(tmp_path):
    path = tmp_path / 'cpuinfo'
    path.write_text(EPYC)
    info = cpu_info(str(path))
    assert info['model'] == 'AMD EPYC 7B13' and info['features'] == ['AVX2']
    assert describe_cpu(str(path)).startswith('AMD EPYC 7B13, ')
    assert describe_cpu(str(path)).endswith('AVX2 (no AVX-512)')
    assert bf16_fast(str(path)) is False


def test_avx512_amx_cpu(tmp_path):
    path = tmp_path / 'cpuinfo'
    path.write_text(XEON)
    assert describe_cpu(str(path)).endswith('AVX2 AVX-512 AVX-512 BF16 AMX')
    assert 'Intel(R) Xeon(R) Processor' in describe_cpu(str(path))
    assert bf16_fast(str(path)) is True


def test_without_cpuinfo(tmp_path):
    text = describe_cpu(str(tmp_path / 'missing'))
    assert 'instruction sets unknown' in text and 'core' in text
    assert bf16_fast(str(tmp_path / 'missing')) is None
    assert describe_cpu()  # this machine, whatever it is
