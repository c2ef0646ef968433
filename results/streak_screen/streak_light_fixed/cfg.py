_base_ = '../../../configs/nlcl_demo_long_transplant.py'
model = dict(generator=dict(removes_light=True, thin_light_size=7, streak_length=21))
