from tqdm.auto import tqdm

from workbench.widgets import ActionButton


def slow_sum(n):
    total = 0
    for i in tqdm(range(n), desc="summing"):
        total += i
    return total


def test_click_runs_the_action_and_keeps_its_result(capsys):
    calls = []
    button = ActionButton(lambda: calls.append(1) or slow_sum(10), description="Fix")
    assert button.button.description == "Fix"
    button.click()
    button.click()
    assert calls == [1, 1]
    assert button.result == 45 and button.runs == 2
    assert not button.button.disabled
    assert "45" in capsys.readouterr().out


def test_button_is_re_enabled_after_an_error():
    def fail():
        raise RuntimeError("boom")

    button = ActionButton(fail)
    button.click()                  # ipywidgets reports a callback's error, it does not raise
    assert not button.button.disabled
    assert (button.runs, button.result) == (0, None)
