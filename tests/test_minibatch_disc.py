"""Minibatch discrimination (Salimans et al. 2016): o(x_i)_b = sum over j != i of exp(-||M_i,b - M_j,b||_1)."""
import pytest
import torch
from torch.testing import assert_close

from gandiag.nets import build_nets, layers
from gandiag.nets.layers import MinibatchDiscrimination

from tiny import scores_depend_on_batch, toy_config


def layer(a=6, b=4, c=3, dtype=torch.float64):
    torch.manual_seed(0)
    return MinibatchDiscrimination(a, b, c, init_std=0.5).to(dtype)


def similarity(mbd, f):
    return mbd(f)[:, f.shape[1]:]


def test_features_pass_through_and_similarities_follow_the_definition():
    mbd, f = layer(), torch.randn(5, 6, dtype=torch.float64)
    m = (f @ mbd.T).view(5, 4, 3)
    l1 = (m[:, None] - m[None]).abs().sum(-1)                    # (i, j, b)
    expected = (torch.exp(-l1) * (1 - torch.eye(5, dtype=torch.float64))[..., None]).sum(1)
    out = mbd(f)
    assert_close(out[:, :6], f, rtol=0, atol=0)
    assert_close(out[:, 6:], expected)


def test_output_is_permutation_equivariant_over_the_batch():
    mbd, f = layer(), torch.randn(7, 6, dtype=torch.float64)
    perm = torch.randperm(7)
    assert_close(mbd(f[perm]), mbd(f)[perm])


def test_identical_samples_give_maximal_similarity():
    mbd = layer()
    f = torch.randn(1, 6, dtype=torch.float64).expand(9, 6)
    assert_close(similarity(mbd, f), torch.full((9, 4), 8.0, dtype=torch.float64))


def test_self_term_is_excluded():
    mbd = layer()
    assert_close(similarity(mbd, torch.randn(1, 6, dtype=torch.float64)), torch.zeros(1, 4, dtype=torch.float64))


def test_gradients_flow_to_T_and_through_themselves():
    mbd, f = layer(), torch.randn(5, 6, dtype=torch.float64, requires_grad=True)

    def fn(T, f):
        return torch.func.functional_call(mbd, {"T": T}, (f,))

    T = mbd.T.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(fn, (T, f))
    assert torch.autograd.gradgradcheck(fn, (T, f))  # unrolling differentiates D's gradient again


def test_chunked_distances_equal_the_whole_batch_at_once(monkeypatch):
    mbd, f = layer(dtype=torch.float32), torch.randn(11, 6)
    whole = mbd(f)
    monkeypatch.setattr(layers, "_MBD_CHUNK_ELEMENTS", 3 * 4)  # three rows per chunk
    assert_close(mbd(f), whole, rtol=0, atol=0)


@pytest.mark.parametrize("on", [True, False])
def test_discriminator_scores_a_sample_against_its_batch_only_with_the_layer(on):
    torch.manual_seed(0)
    _, D = build_nets(toy_config(minibatch_disc=on, **({"mbd_kernels": 5, "mbd_dim": 3} if on else {})))
    assert D.head.in_features == 16 + 5 * on
    assert scores_depend_on_batch(D) == on
