import math

import pytest

from workbench.optim import make_lr_schedule, make_momentum


def test_lr_schedules():
    T = 300
    assert make_lr_schedule("constant", 0.1, T)(250) == 0.1
    cos = make_lr_schedule("cosine", 0.1, T)
    assert cos(0) == pytest.approx(0.1) and cos(150) == pytest.approx(0.05) and cos(T) < 1e-12
    st = make_lr_schedule("step", 0.1, T)
    assert [st(0), st(100), st(200)] == pytest.approx([0.1, 0.01, 0.001])
    one = make_lr_schedule("onecycle", 0.1, T)
    assert one(0) == pytest.approx(0.004) and one(90) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="constant, cosine, step, onecycle"):
        make_lr_schedule("linear", 0.1, T)


@pytest.mark.parametrize("lr", [0.0001, 0.01, 0.04, 0.2])
def test_physics_momentum_is_critical_damping(lr):
    sched = make_momentum("physics", make_lr_schedule("constant", lr, 100), 100)
    assert sched(7) == pytest.approx(1 - 2 * math.sqrt(lr))
    assert not sched.clipped(7)


def test_physics_clips_above_lr_quarter_and_explains():
    lr = make_lr_schedule("constant", 0.5, 10)
    with pytest.warns(UserWarning, match="negative for lr > 0.25.*clipped"):
        sched = make_momentum("physics", lr, 10)
    assert sched(0) == 0.0 and sched.clipped(0)


def test_hybrid_switches_at_half_and_onecycle_shape():
    lr = make_lr_schedule("constant", 0.01, 100)
    h = make_momentum("hybrid", lr, 100)
    assert h(49) == pytest.approx(0.8) and h(50) == 0.9
    oc = make_momentum("onecycle", lr, 100)
    assert oc(0) == pytest.approx(0.95) and oc(30) == pytest.approx(0.85)
    assert oc(100) == pytest.approx(0.95)


def test_constant_and_nesterov_specs():
    lr = make_lr_schedule("constant", 0.01, 10)
    assert make_momentum("constant", lr, 10)(3) == 0.9
    n = make_momentum("nesterov:0.95", lr, 10)
    assert n(3) == 0.95 and n.nesterov
    with pytest.raises(ValueError, match="expected a number after ':'"):
        make_momentum("constant:fast", lr, 10)
    with pytest.raises(ValueError, match="constant, nesterov, physics, hybrid, onecycle"):
        make_momentum("adaptive", lr, 10)
