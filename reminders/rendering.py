"""Render message templates in a Jinja sandbox: SMS/text bodies, and email text + HTML.

Pure: no DB, network or clock. Sources map ``"name.lang"`` to template source (from template
dirs or a protocol version's snapshot); contexts are plain dicts of docs/protocols.md's
variables. Staff edit templates, so they are untrusted: besides the sandbox we refuse what a
message never needs but could build huge output or burn CPU (loops, set, macros, imports,
most filters and str methods, sized ``*``/``**``/``%``), and we cap the output length.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from reminders.segments import SegmentInfo, count, normalize

logger = logging.getLogger(__name__)

FALLBACK_LANGUAGE = "en"
LANGUAGES = ("en", "es")
MAX_OUTPUT_CHARS = 1600  # Twilio refuses longer bodies (error 21617)
MAX_HTML_CHARS = 20_000
MAX_SMS_SEGMENTS = 3
SUBJECT_TEMPLATE = "_email_subject"
LAYOUT_KEY = "_email_layout.html"
ALLOWED_VARIABLES = frozenset({
    "first_name", "clinic_name", "clinic_phone", "emergency_number", "follow_up_date",
    "follow_up_time", "occurrence", "occurrences", "day_number"})  # fmt: skip
# Auto-replies, keyword replies and staff alerts: not protocol steps, may say a bit more.
REPLY_VARIABLES = ALLOWED_VARIABLES | {"link", "ack_code", "severity", "crisis_line"}
LAYOUT_VARIABLES = ALLOWED_VARIABLES | {"subject", "lang", "body_html"}
SYSTEM_TEMPLATE_PREFIXES = ("auto_reply_", "staff_alert", "opt_out_confirm", "opt_in_confirm",
                            "help", "clarify", "reask", "unknown_sender",
                            "prom_invite")  # fmt: skip

_SAFE_FILTERS = frozenset({"abs", "capitalize", "d", "default", "e", "escape", "first", "float",
    "int", "last", "length", "count", "lower", "round", "string", "title", "trim", "truncate",
    "upper"})  # fmt: skip
# Read-only str methods; center/ljust/zfill/replace/format take sizes from the template.
_SAFE_STR_METHODS = frozenset({"upper", "lower", "title", "capitalize", "strip", "lstrip",
                               "rstrip", "startswith", "endswith"})  # fmt: skip
# Without loops or (re)binding names, output grows at most linearly with template size.
_FORBIDDEN_NODES: dict[type[nodes.Node], str] = {
    nodes.For: "for loops", nodes.Macro: "macros", nodes.CallBlock: "call blocks",
    nodes.Include: "include", nodes.Import: "import", nodes.FromImport: "import",
    nodes.Extends: "extends", nodes.Block: "blocks", nodes.Assign: "set",
    nodes.AssignBlock: "set", nodes.With: "with"}  # fmt: skip
_MAX_INT_BITS = 256
_PLAIN_TYPES = (str, int, float, bool, type(None))
_TEMPLATE_FILE = re.compile(r"^(_?[a-z][a-z0-9_]*)\.([a-z]{2,8})\.j2$")
_BLANK_RUNS = re.compile(r"\n{3,}")


class RenderError(ValueError):
    """Rendering failed; the message names the template and line, never text or values."""


@dataclass(frozen=True)
class Rendered:
    text: str
    segments: SegmentInfo
    language: str  # the language actually used
    fell_back: bool


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    language: str
    fell_back: bool


@dataclass(frozen=True)
class TemplateProblem:
    name: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.name}:{self.line}" if self.line else self.name
        return f"{where}: {self.message}"


def _bits(value: Any) -> int:
    return max(abs(value), 2).bit_length() if isinstance(value, int) else 0


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%"})

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        # Context values are plain scalars; nothing else needs attribute access.
        safe = isinstance(obj, str) and attr in _SAFE_STR_METHODS
        return safe and super().is_safe_attribute(obj, attr, value)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "%":
            if isinstance(left, str):  # '%999999999s' % x takes its width from the template
                raise SecurityError("'%' string formatting is not allowed in templates")
        elif operator == "*":
            seq, times = (left, right) if isinstance(left, str | list | tuple) else (right, left)
            if isinstance(seq, str | list | tuple) and isinstance(times, int):
                if len(seq) * max(times, 0) > MAX_OUTPUT_CHARS:
                    raise SecurityError("'*' would build a value that is too long")
            elif _bits(left) + _bits(right) > _MAX_INT_BITS:
                raise SecurityError("'*' result is too large")
        elif isinstance(right, int) and right > 0 and _bits(left) * right > _MAX_INT_BITS:
            raise SecurityError("'**' result is too large")
        return super().call_binop(context, operator, left, right)


def _make_env(*, html: bool) -> _Sandbox:
    env = _Sandbox(undefined=StrictUndefined, autoescape=html, trim_blocks=True, lstrip_blocks=True)
    env.globals.clear()  # range, lipsum, dict, cycler...: nothing a message needs
    env.filters = {name: f for name, f in env.filters.items() if name in _SAFE_FILTERS}
    return env


TEXT_ENV = _make_env(html=False)
HTML_ENV = _make_env(html=True)


def allowed_variables(name: str) -> frozenset[str]:
    """The variables template ``name`` (``"numbness_check"`` or ``"help.es"``) may use."""
    base = name.split(".", 1)[0]
    if base == "_email_layout":
        return LAYOUT_VARIABLES
    return REPLY_VARIABLES if base.startswith(SYSTEM_TEMPLATE_PREFIXES) else ALLOWED_VARIABLES


def sample_context(lang: str = "en", **overrides: object) -> dict[str, object]:
    """Realistic, deliberately long values, so checks measure near worst-case length.

    Pass a clinic's real ``clinic_name``/``clinic_phone`` as overrides to check exactly.
    """
    values: dict[str, object] = {
        "first_name": "Maximiliana", "clinic_name": "Riverside Orthopedics",
        "clinic_phone": "+1 312 555 0100", "emergency_number": "911",
        "follow_up_date": "mié 11 dic" if lang == "es" else "Wed 11 Dec",
        "follow_up_time": "10:30", "occurrence": 2, "occurrences": 3, "day_number": 14,
        "link": "https://aftercare.example.org/c/48213", "ack_code": "K7Q2", "severity": "urgent",
        "crisis_line": "988",
    }  # fmt: skip
    return values | overrides


def load_template_sources(dirs: Sequence[Path]) -> dict[str, str]:
    """Read ``<root>/messages/<name>.<lang>.j2``; earlier roots (clinic overrides) win."""
    sources: dict[str, str] = {}
    for root in dirs:
        folder = Path(root) / "messages"
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.j2")):
            match = _TEMPLATE_FILE.match(path.name)
            if match is None:
                logger.warning("ignoring %s: not named <template>.<lang>.j2", path)
                continue
            sources.setdefault(f"{match[1]}.{match[2]}", path.read_text(encoding="utf-8"))
    return sources


def _parse(source: str, html: bool) -> tuple[nodes.Template | None, list[tuple[int | None, str]]]:
    try:
        ast = (HTML_ENV if html else TEXT_ENV).parse(source)
    except TemplateSyntaxError as exc:
        return None, [(exc.lineno, exc.message or str(exc))]
    found: list[tuple[int | None, str]] = [
        (node.lineno, f"{label} are not allowed in message templates")
        for kind, label in _FORBIDDEN_NODES.items()
        for node in ast.find_all(kind)
    ]
    return ast, found


@functools.lru_cache(maxsize=512)
def _compile(source: str, html: bool) -> Template:
    ast, found = _parse(source, html)
    try:
        if ast is None or found:  # checked here too: snapshots may predate a check
            raise TemplateSyntaxError(found[0][1], found[0][0] or 1)
        return (HTML_ENV if html else TEXT_ENV).from_string(ast)  # unknown filters fail here
    except TemplateSyntaxError as exc:
        raise RenderError(f"line {exc.lineno}: {exc.message or exc}") from None


def _render(source: str, context: Mapping[str, object], *, html: bool, label: str) -> str:
    limit = MAX_HTML_CHARS if html else MAX_OUTPUT_CHARS
    chunks: list[str] = []
    size = 0
    try:
        template = _compile(source, html)
        # Stream, so a runaway template stops early; 2x leaves room for whitespace _tidy drops.
        for chunk in template.generate(dict(context)):
            chunks.append(chunk)
            if (size := size + len(chunk)) > 2 * limit:
                raise RenderError(f"output is longer than {limit} characters")
    except RenderError as exc:
        raise RenderError(f"{label}: {exc}") from None
    except (TemplateError, ArithmeticError, TypeError, ValueError) as exc:
        raise RenderError(f"{label}: {type(exc).__name__}: {exc}") from None
    return "".join(chunks)


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in normalize(text).split("\n")]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def _plain_context(context: Mapping[str, object], allowed: frozenset[str]) -> dict[str, object]:
    """Keep only the allowed variables, and only plain values (never ORM objects)."""
    plain = {key: value for key, value in context.items() if key in allowed}
    for key, value in plain.items():
        if not isinstance(value, _PLAIN_TYPES):
            raise RenderError(f"variable {key!r} must be a plain value, not {type(value).__name__}")
    return plain


def render_text(
    sources: Mapping[str, str], template: str, lang: str, context: Mapping[str, object]
) -> Rendered:
    """Render an SMS/plain-text body, falling back to English when ``lang`` is missing."""
    used = lang if f"{template}.{lang}" in sources else FALLBACK_LANGUAGE
    if f"{template}.{used}" not in sources:
        raise RenderError(f"no template {template!r} in {lang!r} or {FALLBACK_LANGUAGE!r}")
    if fell_back := used != lang:  # only names, never text or patient data, in logs
        logger.warning("template %s has no %s version; using %s", template, lang, used)
    source = sources[f"{template}.{used}"]
    ctx = _plain_context(context, allowed_variables(template))
    text = _tidy(_render(source, ctx, html=False, label=f"{template}.{used}"))
    if len(text) > MAX_OUTPUT_CHARS:
        raise RenderError(f"{template}.{used}: output is longer than {MAX_OUTPUT_CHARS} characters")
    return Rendered(text=text, segments=count(text), language=used, fell_back=fell_back)


def _paragraphs(text: str) -> Markup:
    # Markup.join/format escape every piece of text; only our own tags stay raw.
    paras = (Markup("<br>\n").join(p.split("\n")) for p in text.split("\n\n") if p.strip())
    return Markup("\n").join(Markup("<p>{}</p>").format(p) for p in paras)


def render_email(
    sources: Mapping[str, str], template: str, lang: str, context: Mapping[str, object]
) -> RenderedEmail:
    """The same template as text, wrapped in the HTML layout, with a subject line."""
    body = render_text(sources, template, lang, context)
    subject = render_text(sources, SUBJECT_TEMPLATE, body.language, context).text
    subject = " ".join(subject.split())  # a header is one line
    if LAYOUT_KEY not in sources:
        raise RenderError(f"no template {LAYOUT_KEY!r}")
    ctx = _plain_context(context, ALLOWED_VARIABLES) | {"subject": subject, "lang": body.language}
    ctx["body_html"] = _paragraphs(body.text)  # Markup: the layout must not escape it again
    html = _render(sources[LAYOUT_KEY], ctx, html=True, label=LAYOUT_KEY)
    return RenderedEmail(subject, body.text, html, body.language, body.fell_back)


def check_template(
    source: str, name: str, context: Mapping[str, object] | None = None
) -> list[TemplateProblem]:
    """Problems with template ``name`` (like ``"numbness_check.es"``): syntax, forbidden
    constructs, unknown variables/filters, sample-render errors, SMS over 3 segments."""
    html, allowed = name == LAYOUT_KEY, allowed_variables(name)
    ast, found = _parse(source, html)
    problems = [TemplateProblem(name, line, message) for line, message in found]
    if ast is not None:
        try:  # this runs the code generator, which also rejects unknown filters
            unknown = sorted(meta.find_undeclared_variables(ast) - allowed)
        except TemplateSyntaxError as exc:
            return [*problems, TemplateProblem(name, exc.lineno, exc.message or str(exc))]
        first_use = {n.name: n.lineno for n in reversed(list(ast.find_all(nodes.Name)))}
        for var in unknown:
            message = f"unknown variable {var!r} (allowed: {', '.join(sorted(allowed))})"
            problems.append(TemplateProblem(name, first_use.get(var), message))
    if problems:
        return problems
    ctx = sample_context(name.rsplit(".", 1)[-1], **(context or {}))
    if html:
        ctx |= {"subject": "Subject", "lang": "en", "body_html": Markup("<p>Text</p>")}
    try:
        text = _tidy(_render(source, _plain_context(ctx, allowed), html=html, label=name))
    except RenderError as exc:
        line = re.search(r": line (\d+): ", str(exc))
        return [TemplateProblem(name, int(line[1]) if line else None, str(exc))]
    info = count(text)
    if html or name.startswith("_email_") or 0 < info.segments <= MAX_SMS_SEGMENTS:
        return []
    message = f"{info.segments} SMS segments ({info.encoding}) with sample values; max 3"
    return [TemplateProblem(name, None, message if info.segments else "renders empty")]
