import numpy as np
import pytest
import torch

from lossmix_mm.mixing import check_mix_args, check_mix_lambda


@pytest.mark.parametrize('lam,value', [(0.25, 0.25), (np.float32(0.5), 0.5),
                                       (np.float64(1.0), 1.0),
                                       (torch.tensor(0.75), 0.75), (0, 0.0)])
def test_check_mix_lambda_takes_numbers(lam, value):
    out = check_mix_lambda(lam)
    assert type(out) is float and out == value


@pytest.mark.parametrize('lam', ['0.5', b'0.5', True, np.bool_(False), None])
def test_check_mix_lambda_refuses_strings_and_bools(lam):
    with pytest.raises(
            ValueError,
            match=r'lam must be a number in \[0, 1\], '
            r'got ' + repr(lam).replace('.', r'\.')):
        check_mix_lambda(lam, 'lam')


@pytest.mark.parametrize('name,value', [('alpha', True), ('prob', True),
                                        ('alpha', np.bool_(True))])
def test_check_mix_args_refuses_bools(name, value):
    args = dict(mode='lossmix', alpha=1.0, prob=1.0, noise_range=(0.0, 0.2))
    args[name] = value
    with pytest.raises(
            ValueError,
            match=f'{name} must be a number.*got ' +
            repr(value).replace('.', r'\.')):
        check_mix_args(**args)
    args[name] = 1  # an int is a number
    assert check_mix_args(**args) == (0.0, 0.2)
