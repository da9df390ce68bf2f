"""The one-line error for an integration whose extra is not installed."""


def missing(extra: str, package: str) -> ImportError:
    """``ImportError`` naming the ``pip install`` that provides ``package``."""
    return ImportError(f"workbench.integrations.{extra} needs {package}, which is not "
                       f"installed: pip install 'workbench[{extra}]'")
