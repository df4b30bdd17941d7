"""Rendering: sandboxing, strict variables, escaping, fallback, caps and checks."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from reminders.rendering import (
    ALLOWED_VARIABLES,
    MAX_OUTPUT_CHARS,
    RenderError,
    check_template,
    load_template_sources,
    render_email,
    render_text,
    sample_context,
)

LAYOUT = '<html lang="{{ lang }}"><title>{{ subject }}</title>{{ body_html }}</html>'
SOURCES = {
    "hello.en": "Hi {{ first_name }}, it's {{ clinic_name }}.",
    "hello.es": "Hola {{ first_name }}, le escribe {{ clinic_name }}.",
    "only_en.en": "Hi {{ first_name }}.",
    "_email_subject.en": "A message from {{ clinic_name }}",
    "_email_subject.es": "Un mensaje de {{ clinic_name }}",
    "_email_layout.html": LAYOUT,
}
CTX: dict[str, object] = {"first_name": "Alice", "clinic_name": "Riverside Ortho"}


def render_one(source: str, context: dict[str, object] | None = None) -> str:
    return render_text({"t.en": source}, "t", "en", context or CTX).text


def test_renders_plain_text_with_segments() -> None:
    out = render_text(SOURCES, "hello", "en", CTX)
    assert out.text == "Hi Alice, it's Riverside Ortho."
    assert (out.language, out.fell_back) == ("en", False)
    assert (out.segments.encoding, out.segments.segments) == ("GSM-7", 1)


def test_undefined_variable_raises_render_error_naming_it() -> None:
    with pytest.raises(RenderError, match="first_nme"):
        render_one("Hi {{ first_nme }}")


def test_missing_context_value_raises() -> None:
    with pytest.raises(RenderError, match="clinic_phone"):
        render_one("Call {{ clinic_phone }}")


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ first_name.__class__ }}",
        "{{ 'x' * 10**9 }}",
        "{{ 'x' * 999999999 }}",
        "{{ 999999999 * 'x' }}",
        "{{ 2 ** 100000 }}",
        "{{ '%999999999s' % 'x' }}",
        "{{ 'x'.center(999999999) }}",
        "{{ 'x'.zfill(999999999) }}",
        "{{ 'x'|center(999999999) }}",
        "{{ 'x'|format() }}",
        "{{ 'x'|attr('__class__') }}",
        "{{ range(10)|list }}",
        "{{ lipsum(100000) }}",
        "{% for i in range(10) %}x{% endfor %}",
        "{% set a = 'xxxxxxxxxx' %}{{ a ~ a }}",
        "{% macro m() %}x{% endmacro %}{{ m() }}",
        "{% include 'other' %}",
    ],
)
def test_sandbox_refuses_unsafe_or_unbounded_templates(source: str) -> None:
    with pytest.raises(RenderError):
        render_one(source)


def test_harmless_expressions_still_work() -> None:
    out = render_one(
        "{{ first_name|upper }} {{ occurrence + 1 }}/{{ occurrences }} {{ 2 * 3 }} {{ 2 ** 8 }} "
        "{{ '-' * 3 }}{% if follow_up_date %} on {{ follow_up_date }}{% endif %}",
        {**CTX, "occurrence": 0, "occurrences": 3, "follow_up_date": None},
    )
    assert out == "ALICE 1/3 6 256 ---"


def test_text_is_not_escaped_but_html_is() -> None:
    ctx = {**CTX, "first_name": "<b>Al & Bo</b>", "clinic_name": 'R&R "Ortho"'}
    email = render_email(SOURCES, "hello", "en", ctx)
    assert email.text == 'Hi <b>Al & Bo</b>, it\'s R&R "Ortho".'
    assert "<b>Al" not in email.html
    assert "&lt;b&gt;Al &amp; Bo&lt;/b&gt;" in email.html
    assert "<title>A message from R&amp;R &#34;Ortho&#34;</title>" in email.html
    assert email.subject == 'A message from R&R "Ortho"'


def test_email_html_has_paragraphs_and_line_breaks() -> None:
    sources = {**SOURCES, "two.en": "Hi {{ first_name }}.\nLine two.\n\nSecond paragraph."}
    email = render_email(sources, "two", "en", CTX)
    assert "<p>Hi Alice.<br>\nLine two.</p>\n<p>Second paragraph.</p>" in email.html
    assert email.html.startswith('<html lang="en">')


def test_email_subject_follows_the_body_language() -> None:
    email = render_email(SOURCES, "hello", "es", CTX)
    assert email.subject == "Un mensaje de Riverside Ortho"
    assert email.language == "es"
    assert 'lang="es"' in email.html


def test_falls_back_to_english_and_logs_names_only(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="reminders.rendering"):
        out = render_text(SOURCES, "only_en", "es", CTX)
    assert out.text == "Hi Alice."
    assert (out.language, out.fell_back) == ("en", True)
    assert "only_en" in caplog.text
    assert "es" in caplog.text
    assert "Alice" not in caplog.text  # never the text or patient data


def test_missing_template_in_every_language_raises() -> None:
    with pytest.raises(RenderError, match="nope"):
        render_text(SOURCES, "nope", "es", CTX)


def test_output_is_normalised_and_tidied() -> None:
    out = render_one("\n\n  \u201cHi\u201d {{ first_name }} \u2013 ok\u2026   \n\n\n\n\nBye  \n")
    assert out == '"Hi" Alice - ok...\n\nBye'


def test_output_cap() -> None:
    assert len(render_one("x" * MAX_OUTPUT_CHARS)) == MAX_OUTPUT_CHARS
    with pytest.raises(RenderError, match="longer than"):
        render_one("x" * (MAX_OUTPUT_CHARS + 1))
    with pytest.raises(RenderError, match="longer than"):
        render_one("{{ first_name }}" * 200, {**CTX, "first_name": "y" * 100})


def test_context_must_hold_plain_values() -> None:
    class Patient:
        first_name = "Alice"

    with pytest.raises(RenderError, match="plain value"):
        render_one("Hi {{ first_name }}", {"first_name": Patient()})


def test_variables_outside_the_allowed_set_are_not_passed() -> None:
    with pytest.raises(RenderError, match="diagnosis"):
        render_one("{{ diagnosis }}", {**CTX, "diagnosis": "osteoarthritis"})
    # Staff alerts may use link and ack_code; patient step templates may not.
    ctx = {**CTX, "link": "https://x.example/1", "ack_code": "K7Q2", "severity": "urgent"}
    alert = render_text({"staff_alert.en": "{{ severity }} {{ link }} {{ ack_code }}"},
                        "staff_alert", "en", ctx)  # fmt: skip
    assert alert.text == "urgent https://x.example/1 K7Q2"
    with pytest.raises(RenderError, match="link"):
        render_one("{{ link }}", ctx)


def test_load_template_sources_earlier_dirs_override(tmp_path: Path) -> None:
    clinic, builtin = tmp_path / "clinic", tmp_path / "builtin"
    for root in (clinic, builtin):
        (root / "messages").mkdir(parents=True)
    (builtin / "messages" / "hello.en.j2").write_text("built-in", encoding="utf-8")
    (builtin / "messages" / "hello.es.j2").write_text("integrado", encoding="utf-8")
    (builtin / "messages" / "_email_layout.html.j2").write_text("<p>x</p>", encoding="utf-8")
    (clinic / "messages" / "hello.en.j2").write_text("clinic", encoding="utf-8")
    (clinic / "messages" / "README.txt").write_text("ignored", encoding="utf-8")
    (clinic / "messages" / "Bad Name.j2").write_text("ignored", encoding="utf-8")
    sources = load_template_sources([clinic, builtin, tmp_path / "missing"])
    assert sources == {
        "hello.en": "clinic",
        "hello.es": "integrado",
        "_email_layout.html": "<p>x</p>",
    }


def test_sample_context_covers_every_allowed_variable_with_long_values() -> None:
    ctx = sample_context("es", clinic_name="Clinica Norte")
    assert ctx.keys() >= ALLOWED_VARIABLES
    assert len(str(ctx["first_name"])) >= 10
    assert ctx["clinic_name"] == "Clinica Norte"


def test_check_template_accepts_a_good_template() -> None:
    assert check_template("Hi {{ first_name }}, reply YES or NO.", "q.en") == []


def test_check_template_reports_unknown_variables_with_lines() -> None:
    problems = check_template("Hi {{ first_name }}\n\n{{ diagnosis }} {{ link }}", "q.en")
    assert [(p.line, p.message.split(" (")[0]) for p in problems] == [
        (3, "unknown variable 'diagnosis'"),
        (3, "unknown variable 'link'"),
    ]
    assert check_template("{{ link }} {{ ack_code }} {{ severity }}", "staff_alert.en") == []


def test_check_template_reports_syntax_errors_with_lines() -> None:
    (problem,) = check_template("Hi\n{% if first_name %}\nno end", "q.en")
    assert problem.line is not None
    assert problem.name == "q.en"
    (problem,) = check_template("Hi\n{{ first_name | nosuchfilter }}", "q.en")
    assert (problem.line, "nosuchfilter" in problem.message) == (2, True)


def test_check_template_reports_forbidden_constructs_and_runtime_errors() -> None:
    (problem,) = check_template("a\n{% for x in 'ab' %}{{ x }}{% endfor %}", "q.en")
    assert (problem.line, problem.message) == (2, "for loops are not allowed in message templates")
    (problem,) = check_template("{{ first_name.__class__ }}", "q.en")
    assert "unsafe" in problem.message


def test_check_template_measures_segments_with_sample_values() -> None:
    (problem,) = check_template("{{ first_name }} " + "x" * 450, "q.en")
    assert "4 SMS segments (GSM-7)" in problem.message
    (problem,) = check_template("{{ first_name }} " + "á" * 190, "q.es")
    assert "4 SMS segments (UCS-2)" in problem.message
    assert check_template("", "q.en")[0].message == "renders empty"
    # Email-only parts are not SMS.
    assert check_template("{{ clinic_name }} " + "x" * 600, "_email_subject.en") == []


def test_check_template_checks_the_html_layout() -> None:
    assert check_template(LAYOUT + "{{ clinic_phone }}", "_email_layout.html") == []
    (problem,) = check_template("{{ body_html }}{{ link }}", "_email_layout.html")
    assert "link" in problem.message
