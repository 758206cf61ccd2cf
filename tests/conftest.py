"""Test-wide safety nets."""

from __future__ import annotations

from typing import Any

try:
    from hypothesis.extra import _patching
except ImportError:  # the patch writer needs libcst; without it there is nothing to guard
    _patching = None


def _patch_or_none(*args: Any, **kwargs: Any) -> Any:
    """Hypothesis's patch for a failing example, or None when writing it fails.

    Its libcst codemod trips over zope.interface's `__provides__` (Scrapy imports Twisted),
    and the resulting INTERNALERROR hid the failing example itself. The example matters;
    the suggested patch does not.
    """
    try:
        return _write_patch(*args, **kwargs)
    except AttributeError:
        return None


if _patching is not None:
    _write_patch = _patching.get_patch_for
    _patching.get_patch_for = _patch_or_none
