"""The site's Jinja2 environment for one language, specialised when a template is compiled.

Rendering 200,000 agency pages spent most of its time in calls whose answer never changes
within a language: `_("…")` through Jinja2's newstyle gettext (a context call, a catalogue
lookup and a `Markup % {}` per string per page), `label("lists", "blacklist")` with constant
arguments, and dict rows read as `row.field` (Jinja2 tries the attribute first, so every read
of a dict key raised and caught an AttributeError). Here each language has its own
environment, and the template's syntax tree is rewritten before it is compiled:

- `_("text")` becomes the constant `Markup(translation) % {}`, and `_("text %(n)s", n=x)`
  becomes `Markup(translation) % {"n": x}`: exactly what the newstyle gettext returns (the
  translation is trusted markup, every interpolated value is escaped by `Markup.__mod__`),
  computed once per language instead of once per call. Printed directly (`{{ _(…, n=x) }}`)
  and with only `%(name)s` placeholders, it becomes the translation's pieces around `x`
  itself, which the output escapes exactly as `Markup.__mod__` would. The templates keep
  their `_()` calls, so pybabel still extracts them (site/translations/README.md).
- `label(kind, key)` with both arguments constant becomes the word itself; any other
  `label(kind, key)` or `loc(row, field)` becomes a filter call, which Jinja2 binds once per
  template instead of going through `Context.call` on every use.
- a call of a macro the environment was told is pure (its output depends on its arguments
  alone, `memoized_macros`), imported without context, becomes a filter that renders it once
  per argument value: a list page calls `score()` for every one of 25,000 rows. An import
  left with no use is dropped (Jinja2 would import the module on every page).
- `getattr` reads a plain dict's key directly when the name is not a dict method, which is
  what Jinja2's own lookup ends with, minus the exception.
- the compiled templates escape their output with `escape_text`: markupsafe's escaping
  without building a Markup object for every value, since the output is only ever joined.
- the code generator (SiteCodeGenerator) makes the root and block functions collect their
  output in a list and yield it once, instead of yielding every piece up through the chain of
  `yield from` that template inheritance builds, and reads `name.field` of a dict inline.

Autoescape and StrictUndefined are unchanged: the output of every page is the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

DICT_ATTRIBUTES = frozenset(dir(dict))
GETTEXT_NAMES = ("_", "gettext")
MEMO_LIMIT = 200_000  # outputs remembered per memoized macro
EACH_SEP = "<\x00>"  # never in escaped output: a "<" from data is always escaped
PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%|%")  # the only conversions printed as pieces
_escape_str: Callable[[str], str] = getattr(  # the C function markupsafe.escape wraps
    markupsafe, "_escape_inner", lambda text: str(markupsafe.escape(text))
)


def escape_text(value: Any) -> str:
    """The text markupsafe.escape(value) holds, as a plain str: what a compiled template's
    output needs, since it only joins its pieces (macros still return Markup)."""
    if type(value) is str:
        return _escape_str(value)
    if hasattr(value, "__html__"):
        return value.__html__()
    return _escape_str(str(value))


class SiteTemplate(jinja2.Template):
    """A compiled template whose output escaping is escape_text (same text, no Markup)."""

    @classmethod
    def from_code(
        cls,
        environment: jinja2.Environment,
        code: Any,
        globals: Any,
        uptodate: Callable[[], bool] | None = None,
    ) -> jinja2.Template:
        template = super().from_code(environment, code, globals, uptodate)
        template.root_render_func.__globals__.update(escape=escape_text, escape_str=_escape_str)
        return template


class SiteCodeGenerator(CodeGenerator):
    """Jinja2's code generator with buffered root and block functions and inline dict reads."""

    def blockvisit(self, body: Any, frame: Frame) -> None:
        """The body of a root or block function: collected in a list, yielded once."""
        whole_function = (
            frame.buffer is None
            and frame.parent is None
            and not frame.soft_frame
            and (frame.rootlevel or frame.block_frame)
        )
        if not whole_function:
            super().blockvisit(body, frame)
            return
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = []")
        try:
            super().blockvisit(body, frame)
        finally:
            self.writeline(f"yield concat({frame.buffer})")
            frame.buffer = None

    def _inline_escape(self, frame: Frame, finalize: Any) -> bool:
        return (
            bool(frame.eval_ctx.autoescape)
            and not frame.eval_ctx.volatile
            and (finalize.src is None)
        )

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        """A printed value that is a plain str is escaped by markupsafe's C function directly,
        without a Python call; anything else goes through escape_text as before."""
        if self._inline_escape(frame, finalize):
            self.write("(escape_str(_out) if type(_out := ")
        else:
            super()._output_child_pre(node, frame, finalize)

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        if self._inline_escape(frame, finalize):
            self.write(") is str else escape(_out))")
        else:
            super()._output_child_post(node, frame, finalize)

    @optimizeconst
    def visit_Getattr(self, node: nodes.Getattr, frame: Frame) -> None:
        """`row.field` with row a variable: row[field] when row is a dict holding the key (what
        Jinja2's getattr returns then), else environment.getattr as usual."""
        if not isinstance(node.node, nodes.Name) or node.attr in DICT_ATTRIBUTES:
            super().visit_Getattr(node, frame)
            return
        attr = repr(node.attr)
        self.write("(")
        self.visit(node.node, frame)
        self.write(f"[{attr}] if type(")
        self.visit(node.node, frame)
        self.write(f") is dict and {attr} in ")
        self.visit(node.node, frame)
        self.write(" else environment.getattr(")
        self.visit(node.node, frame)
        self.write(f", {attr}))")


class SiteEnvironment(jinja2.Environment):
    """Autoescaping, strict Jinja2 for one language of the site; see the module docstring."""

    template_class = SiteTemplate
    code_generator_class = SiteCodeGenerator

    def __init__(
        self,
        templates: Path,
        translate: Callable[[str], str],
        label: Callable[[object, str], str],
        localized: Callable[[dict[str, Any], str], Any],
        memoized_macros: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        """label(key, kind): the word for a code; localized(row, field): the row's text in
        this language (both are filters, and `label()` / `loc()` globals for other callers);
        memoized_macros: {template: names of its macros whose output depends on their
        arguments alone}."""
        super().__init__(
            loader=jinja2.FileSystemLoader(templates),
            autoescape=jinja2.select_autoescape(["html", "xml"]),
            undefined=jinja2.StrictUndefined,
            auto_reload=False,  # one render: no stat() of every template on every page
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.translate = translate
        self.label = label
        self.globals.update(label=lambda kind, key: label(key, kind), loc=localized,
                            gettext=self._gettext, _=self._gettext)  # fmt: skip
        self.filters.update(label=label, loc=localized)
        self.memoized_macros = {
            (template, name): macro_filter_name(template, name)
            for template, names in (memoized_macros or {}).items()
            for name in names
        }
        for (template, name), filter_name in self.memoized_macros.items():
            self.filters[filter_name] = self._memoized(template, name)
        self._each: dict[tuple[str, str], jinja2.Template] = {}

    def render_each(self, name: str, items: list[Any], var: str) -> list[str]:
        """Template `name` rendered for each item (bound to `var`) in one pass, instead of one
        render call per item. The template must print data only escaped (as timeline_item.html
        does): the pieces are cut apart at a separator escaped text cannot hold."""
        if (name, var) not in self._each:
            source, _, _ = self.loader.get_source(self, name)  # type: ignore[union-attr]
            loop = f"{{% for {var} in items %}}{EACH_SEP}{source}{{% endfor %}}"
            loop = "{% autoescape true %}" + loop + "{% endautoescape %}"  # as for name.html
            self._each[(name, var)] = self.from_string(loop)
        parts = self._each[(name, var)].render(items=items).split(EACH_SEP)
        if len(parts) != len(items) + 1:
            raise ValueError(f"{name} printed its separator unescaped; cannot cut it apart")
        return parts[1:]

    def _memoized(self, template: str, name: str) -> Callable[..., Any]:
        """The macro as a function rendering it once per argument values (their types are
        part of the key: 1, 1.0 and True print differently)."""
        seen: dict[tuple[Any, ...], Any] = {}

        def call(*args: Any) -> Any:
            key = tuple((type(a), a) for a in args)
            try:
                return seen[key]
            except KeyError:
                pass
            except TypeError:  # an unhashable argument
                return getattr(self.get_template(template).module, name)(*args)
            if len(seen) >= MEMO_LIMIT:  # a long-lived worker sees new dates every day
                seen.clear()
            seen[key] = out = getattr(self.get_template(template).module, name)(*args)
            return out

        return call

    def _gettext(self, message: str, **variables: Any) -> Markup:
        """What a `_()` the compiler could not fold returns (a message that is not a literal)."""
        return Markup(self.translate(message)) % variables

    def getattr(self, obj: Any, attribute: str) -> Any:
        """`row.field` on a dict: its key, unless the name is a dict method (then Jinja2's way)."""
        if type(obj) is dict and attribute not in DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def _generate(
        self,
        source: nodes.Template,
        name: str | None,
        filename: str | None,
        defer_init: bool = False,
    ) -> str:
        Specialiser(self, name).visit(source)
        return super()._generate(source, name, filename, defer_init=defer_init)


def macro_filter_name(template: str, name: str) -> str:
    return f"macro {template} {name}"


class Specialiser(NodeTransformer):
    """Rewrites the calls of a parsed template that one language answers once (module docs)."""

    def __init__(self, env: SiteEnvironment, name: str | None) -> None:
        self.env = env
        self.name = name  # of the template being compiled
        self.memoized: dict[str, str] = {}  # local name of a pure macro → its filter

    def visit_Template(self, node: nodes.Template) -> nodes.Node:
        for macro in node.find_all(nodes.Macro):  # a pure macro called where it is defined
            found = self.env.memoized_macros.get((self.name or "", macro.name))
            if found is not None:
                self.memoized[macro.name] = found
        for imp in node.find_all(nodes.FromImport):
            if imp.with_context or not isinstance(imp.template, nodes.Const):
                continue
            for entry in imp.names:
                name, alias = entry if isinstance(entry, tuple) else (entry, entry)
                found = self.env.memoized_macros.get((imp.template.value, name))
                if found is not None:
                    self.memoized[alias] = found
        node = self.generic_visit(node)  # type: ignore[assignment]
        for imp in list(node.find_all(nodes.FromImport)):
            if self._unused(imp, node):
                node.body.remove(imp)
        return node

    def _unused(self, imp: nodes.FromImport, template: nodes.Template) -> bool:
        """An import at the top of the template whose names all became filters and are not
        read anywhere else: dropping it saves importing the macro module on every page."""
        if imp not in template.body:
            return False
        aliases = {e[1] if isinstance(e, tuple) else e for e in imp.names}
        if not aliases <= self.memoized.keys():
            return False
        return not any(n.name in aliases for n in template.find_all(nodes.Name))

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        """`{{ _("… %(n)s …", n=x) }}`: the translation's pieces around x (module docstring)."""
        items: list[nodes.Expr] = []
        for child in node.nodes:
            pieces = self._printed_pieces(child)
            items.extend(pieces if pieces is not None else [self.visit(child)])
        node.nodes = items
        return node

    def _printed_pieces(self, node: nodes.Expr) -> list[nodes.Expr] | None:
        if not (
            isinstance(node, nodes.Call)
            and isinstance(node.node, nodes.Name)
            and node.node.name in GETTEXT_NAMES
            and node.kwargs
            and node.dyn_args is None
            and node.dyn_kwargs is None
            and _constant_string(node.args, 1)
        ):
            return None
        message = self.env.translate(node.args[0].as_const())  # type: ignore[attr-defined]
        values = {k.key: k.value for k in node.kwargs}
        pieces: list[nodes.Expr] = []
        text, last = "", 0
        for m in PLACEHOLDER.finditer(message):
            text += message[last : m.start()]
            last = m.end()
            if m.group(0) == "%%":
                text += "%"
            elif m.group(1) in values:
                pieces += [nodes.TemplateData(text), self.visit(values[m.group(1)])]
                text = ""
            else:  # another conversion, or a name not given: Markup.__mod__ decides
                return None
        pieces.append(nodes.TemplateData(text + message[last:]))
        return [p for p in pieces if not (isinstance(p, nodes.TemplateData) and not p.data)]

    def visit_Call(self, node: nodes.Call) -> nodes.Node:
        node = self.generic_visit(node)  # type: ignore[assignment]
        callee = node.node.name if isinstance(node.node, nodes.Name) else None
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            return node
        if callee in GETTEXT_NAMES and _constant_string(node.args, 1):
            return self._translated(node)
        if callee == "label" and len(node.args) == 2 and not node.kwargs:
            if _constant_string(node.args, 2, allow_other=True):
                kind, key = (a.as_const() for a in node.args)  # type: ignore[attr-defined]
                return nodes.Const(self.env.label(key, kind), lineno=node.lineno)
            return nodes.Filter(node.args[1], "label", [node.args[0]], [], None, None,
                                lineno=node.lineno)  # fmt: skip
        if callee in self.memoized and node.args and not node.kwargs:
            return nodes.Filter(node.args[0], self.memoized[callee], node.args[1:], [], None,
                                None, lineno=node.lineno)  # fmt: skip
        if callee == "loc" and len(node.args) == 2 and not node.kwargs:
            return nodes.Filter(node.args[0], "loc", [node.args[1]], [], None, None,
                                lineno=node.lineno)  # fmt: skip
        return node

    def _translated(self, node: nodes.Call) -> nodes.Expr:
        message = self.env.translate(node.args[0].as_const())  # type: ignore[attr-defined]
        if not node.kwargs:
            return nodes.MarkSafe(nodes.Const(str(Markup(message) % {})), lineno=node.lineno)
        pairs = [nodes.Pair(nodes.Const(k.key), k.value, lineno=node.lineno) for k in node.kwargs]
        return nodes.Mod(
            nodes.MarkSafe(nodes.Const(message), lineno=node.lineno),
            nodes.Dict(pairs, lineno=node.lineno),
            lineno=node.lineno,
        )


def _constant_string(args: list[nodes.Expr], count: int, allow_other: bool = False) -> bool:
    """The call has exactly `count` positional arguments, all literal (strings, or any literal
    when allow_other)."""
    if len(args) != count or not all(isinstance(a, nodes.Const) for a in args):
        return False
    return allow_other or all(isinstance(a.as_const(), str) for a in args)  # type: ignore[attr-defined]
