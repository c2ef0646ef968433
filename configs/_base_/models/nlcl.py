# NLCL: two decomposition generators, a PatchGAN discriminator, NLCL's losses.
# Inputs are scaled to [-1, 1] (the authors' test path; see the README).
model = dict(
    type='NLCL',
    # G_B (background) and G_R (rain), as the authors build them. nlcl_real_rain.py turns
    # on the residual background (B = O + G_B(O)) and zero-initialised output layers.
    generator=dict(type='DecompositionGenerator', residual=False, zero_init_output=False),
    rain_generator=dict(type='DecompositionGenerator', residual=False, zero_init_output=False),
    # the authors' D; nlcl_real_rain.py drops its InstanceNorm (norm='none')
    discriminator=dict(type='NLCLPatchDiscriminator', norm='instance', init_gain=0.02),
    gan_loss=dict(
        type='GANLoss',
        gan_type='lsgan',
        real_label_val=1.0,
        fake_label_val=0.0,
        loss_weight=1.0),
    # symmetric (CVPR / official code) layer loss; nlcl_real_rain.py makes it asymmetric
    layer_loss=dict(type='LayerContrastiveLoss', tau_bg=0.07, tau_rain=0.07, loss_weight=1.0),
    loc_loss=dict(type='LocationContrastiveLoss', tau=0.07, loss_weight=1.0),
    consistency_loss=dict(type='ConsistencyLoss', loss_weight=1.0),
    sparsity_loss=dict(type='SparsityLoss', loss_weight=0.1, target='rainy_minus_bg'),
    objective=dict(
        loc_layers=(0, 2, 4, 8, 12),
        disc_layers=(0, 3, 7, 11),
        num_loc_patches=256,
        num_bg_patches=8,
        num_rain_patches=128,
        patch_size=16,
        search_size=40,
        loc_neg_sampling='nonlocal_similar',
        loc_identity=True,
        legacy_disc_taps=False,
        legacy_freeze_loc_heads=False,
        legacy_adv_head_bug=False,
        # 'learned' (paper) or 'frozen' layer-loss heads (nlcl_real_rain.py: frozen)
        layer_heads='learned',
        # what D sees: 'image' (paper), 'detail', 'gray_detail', 'gray' or 'gray_tone_detail'
        # (nlcl_real_rain.py: 'gray_detail')
        disc_input='image'),
    train_cfg=dict(disc_steps=1, disc_init_steps=0),
    data_preprocessor=dict(
        type='DataPreprocessor', mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5]))
