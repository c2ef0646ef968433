# Runtime shared by every NLCL config (MMagic scope, hooks, logging, visualisation).
default_scope = 'mmagic'
custom_imports = dict(imports=['nlcl_plugin.mmagic'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    # iteration-based training: validation metrics are logged at their iteration
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # mmengine's CheckpointHook with crash-safe writes (temporary file + rename; old
    # checkpoints deleted only after the new one is complete), so `--resume` always finds
    # a complete checkpoint after a kill
    checkpoint=dict(
        type='AtomicCheckpointHook',
        interval=5000,
        by_epoch=False,
        max_keep_ckpts=5,
        save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # a NaN/inf loss: the update is not applied, the iteration is logged with every loss
    # term; mode='stop' ends training instead (the last checkpoint is kept)
    nonfinite_loss=dict(type='NonFiniteLossHook', mode='skip', max_consecutive=10),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py switches to gloo on machines without CUDA.
    dist_cfg=dict(backend='nccl'),
)

# Each network gets its own DDP wrapper: the G and D steps alternate.
model_wrapper_cfg = dict(
    type='MMSeparateDistributedDataParallel',
    broadcast_buffers=False,
    find_unused_parameters=False)

log_level = 'INFO'
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=False)

load_from = None
resume = False
randomness = dict(seed=2022, deterministic=False)

vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
# MMagic's ConcatImageVisualizer, with the test set's name in each picture's file name
# (deraining sets share file names: Rain100L/input/1.png, Rain100H/input/1.png, ...)
visualizer = dict(
    type='MultiSetConcatVisualizer',
    vis_backends=vis_backends,
    fn_key='img_path',
    img_keys=['input', 'pred_img', 'pred_rain', 'gt_img'],
    bgr2rgb=True)
custom_hooks = [dict(type='BasicVisualizationHook', interval=1)]
