"""A page template's frame: what its parent template (base.html) prints around its own blocks,
rendered once for a run of pages that differ only in those blocks and in their own address.

All 25,000 agency pages of a language share their head, header, navigation and footer; only
the title, the main block and the link to the same page in the other language change. Jinja2
would run base.html for every page (a tenth of an agency page's time); here it runs once, with
markers where the per-page parts go, and each page joins the frame's pieces with its own blocks.

The frame is checked against a full render of the first and the last page of every run
(`Framed.verified`): if base.html ever prints something that differs between pages, the frame
is not used and every page is rendered in full, so the output never depends on this shortcut.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import jinja2

from transforms.render_env import escape_text

HREF = "href"  # the marker of the page's own address in the other language
_MARK = "\x00{}\x00"  # never in escaped output: markupsafe keeps NUL, data never holds it
_MARKS = re.compile("\x00([a-z_]+)\x00")


class Framed:
    """Pages of one template rendered as its frame's constant pieces plus each page's blocks."""

    def __init__(self, template: jinja2.Template, ctx: dict[str, Any], blocks: tuple[str, ...]):
        """ctx: the shared context (globals included), with "other_lang" a {"tag", "href"}
        dict; blocks: the template's blocks that change from page to page."""
        self.template = template
        self.blocks = blocks
        self.pieces = _MARKS.split(self._marked(ctx))  # constant, marker, constant, …

    def render(self, ctx: dict[str, Any], href: str) -> str:
        """The page of ctx (whose other_lang.href is href), from the frame."""
        context = self.template.new_context(ctx, shared=True)
        own = {name: "".join(self.template.blocks[name](context)) for name in self.blocks}
        own[HREF] = escape_text(href)
        pieces = self.pieces.copy()
        pieces[1::2] = [own[name] for name in self.pieces[1::2]]
        return "".join(pieces)

    def verified(self, ctx: dict[str, Any], href: str, full: str) -> bool:
        """The frame gives exactly the full render of this page."""
        return self.render(ctx, href) == full

    def _marked(self, ctx: dict[str, Any]) -> str:
        """The whole page with a marker printed for each per-page block and the href."""
        marked = {**ctx, "other_lang": {**ctx["other_lang"], "href": _MARK.format(HREF)}}
        context = self.template.new_context(marked, shared=True)
        for name in self.blocks:
            context.blocks[name] = [_marker_block(name)]
        try:
            return "".join(self.template.root_render_func(context))
        except Exception:
            self.template.environment.handle_exception()
            raise


def _marker_block(name: str) -> Callable[[Any], Iterator[str]]:
    """A block function (Jinja2 calls it as a generator) printing the block's marker."""

    def block(_context: Any) -> Iterator[str]:
        yield _MARK.format(name)

    return block
