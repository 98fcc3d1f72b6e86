# Three architectures: ViT-B/16, ResNet-50 and ConvNeXt-T on ImageNet-1k.
# With N > 2 members, on each image the most confident member teaches all
# the others (a tied best teaches nobody, as in the reference's three- and
# four-member scripts). Settings of cls_pair_vit-b_vit-t.py. The pair
# mixes batches with the ViT's Mixup/CutMix settings; ResNet-50's
# cross-entropy then trains on the mixed (soft) labels too.
_base_ = ['./cls_pair_vit-b_vit-t.py']
zoo = 'https://download.openmmlab.com/mmclassification/v0'
model = dict(
    members=[
        dict(
            name='vit_b',
            config='mmpretrain::vision_transformer/vit-base-p16_32xb128-mae_in1k.py',  # noqa: E501
            checkpoint=zoo
            + '/vit/vit-base-p16_pt-32xb128-mae_in1k_20220623-4c544545.pth',  # noqa: E501
        ),
        dict(
            name='r50',
            config='mmpretrain::resnet/resnet50_8xb32_in1k.py',
            checkpoint=zoo
            + '/resnet/resnet50_8xb32_in1k_20210831-ea4938fc.pth',  # noqa: E501
        ),
        dict(
            name='convnext_t',
            config='mmpretrain::convnext/convnext-tiny_32xb128_in1k.py',
            checkpoint=zoo
            + '/convnext/convnext-tiny_32xb128_in1k_20221207-998cf3e9.pth',  # noqa: E501
        ),
    ]
)
default_hooks = dict(
    checkpoint=dict(
        save_best=[
            'vit_b/accuracy/top1',
            'r50/accuracy/top1',
            'convnext_t/accuracy/top1',
        ]
    )
)
