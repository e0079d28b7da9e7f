"""DCGAN players for 28 x 28 images: shapes, width presets and every option that reaches them."""
import pytest
import torch
from torch import nn

from gandiag.config import ConfigError, load_config, make_config
from gandiag.nets import build_nets
from gandiag.nets.dcgan import DCGANDiscriminator, DCGANGenerator, build_dcgan
from tiny import IMAGE

SMALL = {**{k: IMAGE[k] for k in ("g_width", "d_width", "z_dim")}, "d_input_scale": 1.0}


def conv_channels(D) -> list[int]:
    return [m.out_channels for m in D.modules() if isinstance(m, nn.Conv2d)]


@pytest.mark.parametrize("data, channels", [("mnist", 1), ("stacked-mnist", 3)])
def test_players_map_z_to_28x28_images_in_the_tanh_range_and_images_to_one_logit(data, channels):
    torch.manual_seed(0)
    G, D = build_nets(make_config(SMALL, data=data, g_norm="batch", d_norm="batch"))
    x = G(torch.randn(5, 8))
    assert x.shape == (5, channels, 28, 28)
    torch.testing.assert_close(x.clamp(-1, 1), x)
    assert D(x).shape == (5,)


def test_width_presets_are_the_unrolled_papers_small_discriminators():
    quarter, half = build_dcgan(load_config("stacked-mnist")), build_dcgan(load_config("stacked-mnist-half"))
    assert conv_channels(quarter[1]) == [2, 4, 8] and conv_channels(half[1]) == [4, 8, 16]
    # G starts at 4x4x64 in both
    assert quarter[0].project.out_features == half[0].project.out_features == 4 * 4 * 64


def test_generator_batch_norm_is_an_option_that_changes_the_output():
    z = torch.randn(6, 8)
    outs = {}
    for norm in ("none", "batch"):
        torch.manual_seed(1)
        G, _ = build_nets(make_config(SMALL, data="mnist", g_norm=norm))
        outs[norm] = G(z)
        assert any(isinstance(m, nn.BatchNorm2d) for m in G.modules()) == (norm == "batch")
    assert not torch.allclose(outs["none"], outs["batch"])


def test_class_labels_steer_the_generator_and_the_projection_discriminator():
    torch.manual_seed(2)
    G = DCGANGenerator(8, 1, 4, n_classes=10).eval()
    z = torch.randn(1, 8).expand(2, -1)
    x = G(z, torch.tensor([3, 7]))
    assert not torch.allclose(x[0], x[1])
    D = DCGANDiscriminator(1, 4, n_classes=10)
    same = x[:1].expand(2, -1, -1, -1)
    # the projection starts at zero: an unconditional D until it learns the classes
    torch.testing.assert_close(*D(same, torch.tensor([3, 7])).unbind())
    with torch.no_grad():
        D.embed.weight.normal_()
    assert not torch.allclose(*D(same, torch.tensor([3, 7])).unbind())


def test_packed_discriminator_packs_a_single_image_with_copies_of_itself():
    torch.manual_seed(3)
    _, D = build_nets(make_config(SMALL, data="stacked-mnist", pack=2))
    x = torch.rand(4, 3, 28, 28) * 2 - 1
    assert conv_channels(D)[0] == 4 and D.features[1].in_channels == 6
    torch.testing.assert_close(D(x), D(torch.cat([x, x], 1)))


def test_minibatch_discrimination_makes_a_score_depend_on_the_rest_of_the_batch():
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    other = torch.cat([x[:1], torch.rand(3, 1, 28, 28) * 2 - 1])
    for mbd in (False, True):
        torch.manual_seed(4)
        _, D = build_nets(make_config(SMALL, data="mnist", minibatch_disc=mbd,
                                        **({"mbd_kernels": 5, "mbd_dim": 3} if mbd else {})))
        first, first_other = D(x)[0], D(other)[0]
        assert torch.allclose(first, first_other) != mbd


def test_spectral_norm_and_init_reach_the_convolutions():
    torch.manual_seed(5)
    _, D = build_nets(make_config(SMALL, data="mnist", spectral_norm=True))
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert all(nn.utils.parametrize.is_parametrized(m, "weight") for m in convs)
    G, _ = build_nets(make_config({**SMALL, "g_width": 32}, data="mnist", init="normal", init_std=0.02))
    deconv = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)][0]
    torch.testing.assert_close(deconv.weight.std().item(), 0.02, rtol=0.05, atol=0)
    torch.testing.assert_close(deconv.bias, torch.zeros_like(deconv.bias))


def test_generator_dropout_stays_on_in_eval_mode():
    z = torch.randn(3, 8)
    outs = []
    for p in (0.0, 0.5):
        torch.manual_seed(6)
        G, _ = build_nets(make_config(SMALL, data="mnist", g_dropout=p))
        outs.append(G.eval()(z))
    assert not torch.allclose(*outs)


@pytest.mark.parametrize("option, message", [({"d_norm": "virtual-batch"}, "d_norm = virtual-batch"),
                                             ({"d_act": "maxout"}, "d_act = maxout")])
def test_mlp_only_options_are_refused_for_images_in_one_line(option, message):
    with pytest.raises(ConfigError, match=message):
        build_nets(make_config(SMALL, data="mnist", **option))
