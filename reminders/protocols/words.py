"""Protocol problems in plain words, for the web editor: what the spec's parsers, PyYAML
and the template checker say, translated for a coordinator who does not write YAML, and
tied to the form field that caused it ("Line 12: the indentation does not match the line
above"; "Say which answer means trouble: yes or no.").

Only the wording changes; which drafts are valid is still decided by spec.py and check.py.
"""

from __future__ import annotations

import re

LANGUAGE_NAMES = {"en": "English", "es": "Spanish"}

# (pattern, field, words); the first match wins. Patterns match the spec's messages.
_SPEC_WORDS: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"concerning_answer is required"), "concerning",
     "Say which answer means trouble: yes or no."),
    (re.compile(r"concerning_answer only applies"), "concerning",
     "Only a yes-or-no question has an answer that means trouble."),
    (re.compile(r"concerning_answer must be"), "concerning", "Choose yes or no."),
    (re.compile(r"key .* must be lower_snake_case"), "key",
     "Use 2 to 59 lower-case letters, digits and _, starting with a letter (like insulin_check)."),
    (re.compile(r"appears twice"), "key", "Another step already uses this id."),
    (re.compile(r"'when' is required"), "when", "Say when to send the message."),
    (re.compile(r"'expires' is required"), "expires",
     "Say how late the message may still go out, like 4 hours."),
    (re.compile(r"expires must be positive"), "expires",
     "Must be more than zero: the message would expire before it is sent."),
    (re.compile(r"cannot come before the procedure"), "when",
     "A message cannot be sent before the procedure."),
    (re.compile(r"is not a 24-hour time"), "when",
     "Write the time as 24-hour hours:minutes, like 09:00."),
    (re.compile(r"the day must be within (\d+)"), "when", "The day must be within {0} days."),
    (re.compile(r"(?:^|: )when .* is not one of"), "when",
     "Choose when to send, and fill in its day, time or length of time."),
    (re.compile(r"(?:^|: )repeat .*the interval must be positive"), "repeat",
     "The time between repeats must be more than zero."),
    (re.compile(r"(?:^|: )repeat .*the count must be between"), "repeat",
     "Repeat between 1 and 60 times."),
    (re.compile(r"(?:^|: )repeat .* is not"), "repeat",
     "Say how many times, and for 'every', how long between them (like 12 hours)."),
    (re.compile(r"condition term '(.*)' is unknown"), "condition",
     "“{0}” is not a condition this form knows."),
    (re.compile(r"expects .* is not one of"), "expects", "Choose one of the listed answers."),
    (re.compile(r"channel .* is not one of"), "channel", "Choose one of the listed ways."),
    (re.compile(r"time_critical must be"), "time_critical", "Tick the box or leave it empty."),
    (re.compile(r"no_response must be"), "reask", "Say how long to wait, like 4 hours."),
    (re.compile(r"'([^']*)' is longer than (\d+) days"), "step", "“{0}” is longer than {1} days."),
    (re.compile(r"'([^']*)' is not a duration|'([^']*)': unknown unit"), "step",
     "“{0}” is not a length of time; write it like 4 hours, 90 minutes or 1 day 6 hours."),
    (re.compile(r"unknown field\(s\) (.*)"), "step", "This step has fields the form does not "
     "know ({0}); edit it in the advanced view."),
    (re.compile(r"not in the step library"), "step", "That library step does not exist."),
    (re.compile(r"far too large|out of range"), "step", "A time in this step is out of range."),
]  # fmt: skip


def field_of(message: str) -> tuple[str, str]:
    """A spec or check message → (form field, the problem in words)."""
    for pattern, name, words in _SPEC_WORDS:
        if match := pattern.search(message):
            groups = [g for g in match.groups() if g is not None]
            return name, words.format(*groups)
    return "step", _sentence(re.sub(r"^step [a-z0-9_]+: ", "", message))


def in_words(message: str) -> str:
    return field_of(message)[1]


def template_words(message: str, lang: str) -> str:
    """A template problem (from ``rendering.check_template`` or the checker) in words."""
    language = LANGUAGE_NAMES.get(lang, lang)
    if "missing template" in message or message == "renders empty":
        return f"Write the {language} message."
    if match := re.search(r"(\d+) SMS segments \((\S+)\)", message) or re.search(
        r"(\d+) SMS segments", message
    ):
        return (f"Too long: {match.group(1)} text messages with long sample names (at most 3). "
                "Shorten it.")  # fmt: skip
    if match := re.search(r"unknown variable '([^']+)' \(allowed: (.*)\)", message):
        return f"{{{{ {match.group(1)} }}}} is not a known placeholder; use one of: {match[2]}."
    return _sentence(message)


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]) if text else text


# Form fields by the names the YAML view uses for them.
YAML_NAMES = {
    "key": "key", "when": "when", "repeat": "repeat", "condition": "condition",
    "channel": "channel", "expects": "expects", "concerning": "concerning_answer",
    "expires": "expires", "window": "answer_window", "time_critical": "time_critical",
    "reask": "no_response",
}  # fmt: skip

# YAML parser messages (PyYAML's ``problem`` text) → plain words.
_YAML_WORDS: list[tuple[str, str]] = [
    ("expected <block end>", "the indentation does not match the line above"),
    ("expected '<document start>'", "the indentation does not match the line above"),
    ("did not find expected key", "the indentation does not match the line above"),
    ("did not find expected '-' indicator",
     "the indentation does not match the line above (each step starts with “- ”)"),
    ("mapping values are not allowed here",
     "a colon (:) is in the wrong place; put text that contains a colon in quotes"),
    ("could not find expected ':'", "a line is missing the colon between a name and its value"),
    ("found character '\\t'", "a tab character: indent with spaces"),
    ("found character that cannot start any token",
     "a character that cannot start a value here (put the text in quotes)"),
    ("found unexpected end of stream", "a quote is opened but never closed"),
    ("found unknown escape character", "a backslash in double quotes: use single quotes"),
    ("found duplicate anchor", "“&” has a special meaning here: put the text in quotes"),
    ("found undefined alias", "“*” has a special meaning here: put the text in quotes"),
    ("expected alphabetic or numeric character", "“*” or “&” has a special meaning here: put "
     "the text in quotes"),
    ("found unexpected ':'", "a colon (:) is in the wrong place; put the text in quotes"),
    ("expected ',' or ']'", "a list in [ ] is not closed"),
    ("expected ',' or '}'", "a group in { } is not closed"),
]  # fmt: skip


def yaml_words(problem: str) -> str:
    """``"invalid YAML: expected <block end>, but found '-'"`` → words."""
    text = problem.removeprefix("invalid YAML: ")
    for needle, words in _YAML_WORDS:
        if needle in text:
            return words
    return "the text cannot be read as a list of steps"


def _misindented(text: str, line: int | None) -> bool:
    """Whether ``line`` starts further in or out than the line above it (a list item's
    "- " counts as indentation, as it does for YAML)."""
    lines = text.splitlines()
    if not line or line > len(lines):
        return False
    above = next((s for s in reversed(lines[: line - 1]) if s.strip()), None)
    if above is None or above.rstrip().endswith(":"):
        return False

    def indent(row: str) -> int:
        return len(row) - len(row.lstrip(" -"))

    return indent(lines[line - 1]) != indent(above)


def problem_words(message: str, line: int | None, text: str = "") -> str:
    """A problem with the advanced (YAML) view's text, in words with its line number."""
    if message.startswith("invalid YAML") and _misindented(text, line):
        words = "the indentation does not match the line above"
    elif message.startswith("invalid YAML"):
        words = yaml_words(message)
    elif message.startswith("expected a list of steps"):
        words = "the text must be a list of steps, each starting with “- key: …”"
    elif message.startswith("each step must be a mapping"):
        words = "each step must be a set of “name: value” lines"
    else:
        step = re.match(r"^step ([a-z0-9_]+): ", message)
        name, said = field_of(message)
        where = ", ".join(x for x in ((f"step {step.group(1)}" if step else ""),
                                      YAML_NAMES.get(name, "")) if x)  # fmt: skip
        words = f"{where}: {said}" if where else said
    return f"Line {line}: {words}" if line else _sentence(words)
