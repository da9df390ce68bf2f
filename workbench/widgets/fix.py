"""A button that runs one package call and shows its progress bars and result in an Output."""

from __future__ import annotations

from collections.abc import Callable


class ActionButton:
    """Click → ``action()`` runs; its tqdm bars and its result appear in the Output below.

    Parameters
    ----------
    action : callable
        Called with no arguments (one call into the package, e.g. a surgical fine-tune).
    description : str
        The button's label.
    show : bool
        Show the result under the button (its ``_repr_html_`` in a notebook when it has one,
        else its text); False when the action displays what it made itself.

    Attributes
    ----------
    result
        What the last click returned (None before).
    runs : int
        How many times the action finished.
    """

    def __init__(self, action: Callable[[], object], *, description: str = "Run",
                 icon: str = "play", show: bool = True):
        import ipywidgets as w

        self.action = action
        self.show = show
        self.result = None
        self.runs = 0
        self.button = w.Button(description=description, icon=icon, button_style="warning")
        self.output = w.Output()
        self.button.on_click(self._clicked)
        self.widget = w.VBox([self.button, self.output])

    def click(self) -> None:
        """Press the button from code."""
        self.button.click()

    def _clicked(self, _button=None) -> None:
        from IPython.display import display

        self.button.disabled = True
        try:
            with self.output:
                self.output.clear_output()
                self.result = self.action()
                if self.show and hasattr(self.result, "_repr_html_"):
                    display(self.result)  # a table in a notebook (its text outside one)
                elif self.show:
                    print(self.result)
                self.runs += 1
        finally:
            self.button.disabled = False

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def fix_button(model, data, *, groups, test_data, **kwargs) -> ActionButton:
    """A "Fix" button: fine-tune only ``groups`` with :func:`workbench.finetune.surgical_fix`.

    The fine-tune's tqdm progress and its report (errors fixed, broken, net, parameters
    trained, compute saved) show under the button; ``button.result`` holds the report.

    Parameters
    ----------
    model, data, groups, test_data, **kwargs
        Passed to ``surgical_fix`` when the button is clicked.
    """
    def fix():
        from ..finetune import surgical_fix

        return surgical_fix(model, data, groups=list(groups), test_data=test_data, **kwargs)

    return ActionButton(fix, description="Fix", icon="wrench")


__all__ = ["ActionButton", "fix_button"]
