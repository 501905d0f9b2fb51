"""The saved Logs Insights queries of template.yaml, held to the logs the emulated stack wrote.

scripts/test runs this module after every other suite has exercised the stack, with the
stack's log directory (one file per function, named after its logical id without
"Function" in kebab case: discovery.log, register.log, authorize.log, token.log,
revoke.log, mcp.log, rotate-keys.log):

    ALTA_TEST_STACK_LOGS=target/test-stack/logs .venv-test/bin/pytest tests/after_flows -q -p no:cacheprovider

For every AWS::Logs::QueryDefinition, in the files of its LogGroupNames, the lines its
`filter` commands keep (all of them must hold; and, or, not, parentheses, comparisons with
string and number literals, like, in and ispresent() are evaluated as Logs Insights
evaluates them, a comparison with a missing field being false) must be at least one, and
each field the query names must occur in one of them (the built-ins @timestamp, @message,
@log and @logStream always do; the query's own `as` aliases are not fields). The query of
ERROR lines is the exception: a clean run has none, so its fields need only occur in some
line of its log groups. Each `fields.message = "..."` constant must be some line's message.
A filter this module cannot evaluate fails, naming its query.

The lines are read as Logs Insights reads them: JSON lines flattened to dotted names
(fields.tool, span.requestId); Lambda's START, END and REPORT lines giving @type,
@requestId, and from REPORT @duration, @billedDuration and @initDuration in ms,
@memorySize and @maxMemoryUsed in bytes (MB x 1,000,000); every other line only @message.
The parsing and filtering helpers are tested below on inline samples and sample log
directories, so that a broken helper, or a check that passes vacuously, fails here too.
"""

import functools
import json
import os
import re
from pathlib import Path

import pytest
import yaml

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
LOGS_ENV = "ALTA_TEST_STACK_LOGS"

# Fields Logs Insights gives every event, whatever its content.
BUILT_IN = {"@timestamp", "@message", "@log", "@logStream"}

# --- template.yaml, with CloudFormation's short tags -------------------------------------


class TemplateLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading `!Ref X` as {"Ref": "X"}, `!Sub s` as {"Fn::Sub": s}…"""


def _intrinsic(name):
    def construct(loader, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if name == "Fn::GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {name: value}

    return construct


for _tag in ["Ref", "Condition"]:
    TemplateLoader.add_constructor(f"!{_tag}", _intrinsic(_tag))
for _tag in ["Sub", "GetAtt", "If", "Not", "Equals", "Join", "Select", "Split", "FindInMap",
             "And", "Or", "Base64", "Cidr", "GetAZs", "ImportValue"]:
    TemplateLoader.add_constructor(f"!{_tag}", _intrinsic(f"Fn::{_tag}"))


def load_template(text):
    return yaml.load(text, Loader=TemplateLoader)


def kebab(name):
    """RotateKeys -> rotate-keys."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def log_file_name(resources, log_group_ref):
    """The emulated stack's log file of `!Ref XLogGroup`: its LogGroupName is
    `!Sub "/aws/lambda/${YFunction}"`, and Y's file is kebab(Y).log."""
    if not (isinstance(log_group_ref, dict) and set(log_group_ref) == {"Ref"}):
        raise ValueError(f"a log group must be `!Ref <LogGroup>`, not {log_group_ref!r}")
    group_id = log_group_ref["Ref"]
    group = resources.get(group_id)
    if not group or group.get("Type") != "AWS::Logs::LogGroup":
        raise ValueError(f"{group_id} is not an AWS::Logs::LogGroup of the template")
    name = group["Properties"]["LogGroupName"]
    sub = name.get("Fn::Sub") if isinstance(name, dict) else None
    match = re.fullmatch(r"/aws/lambda/\$\{(\w+)Function\}", sub or "")
    if not match or resources.get(match[1] + "Function", {}).get("Type") != "AWS::Serverless::Function":
        raise ValueError(f"{group_id}'s LogGroupName {name!r} is not /aws/lambda/${{<Function>}}")
    return f"{kebab(match[1])}.log"


def query_definitions(template):
    """(logical id, name, log file names, query string) of every saved query."""
    resources = template["Resources"]
    found = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Logs::QueryDefinition":
            continue
        props = resource["Properties"]
        name = props["Name"]
        name = name.get("Fn::Sub", name) if isinstance(name, dict) else name
        files = [log_file_name(resources, ref) for ref in props.get("LogGroupNames", [])]
        found.append((logical_id, name, files, props["QueryString"]))
    return found


# --- log lines, as Logs Insights discovers their fields ----------------------------------


def flatten(value, prefix=""):
    """A JSON document's leaves under dotted names, as Logs Insights flattens them:
    {"fields": {"tool": "x"}} -> {"fields.tool": "x"}; list items by index (a.0.b)."""
    out = {}
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = ((str(i), v) for i, v in enumerate(value))
    else:
        if value is not None and prefix:
            out[prefix] = value
        return out
    for key, child in items:
        out.update(flatten(child, f"{prefix}.{key}" if prefix else key))
    return out


PLATFORM_LINE = re.compile(r"(START|END|REPORT) RequestId: (\S+)")
# Logs Insights' names for REPORT's fields, and the factor from the line's unit to theirs:
# durations stay in ms, memory goes from MB to bytes (its docs: @maxMemoryUsed / 1000 / 1000).
REPORT_FIELDS = {
    "Duration": ("@duration", "ms", 1),
    "Billed Duration": ("@billedDuration", "ms", 1),
    "Init Duration": ("@initDuration", "ms", 1),
    "Memory Size": ("@memorySize", "MB", 1_000_000),
    "Max Memory Used": ("@maxMemoryUsed", "MB", 1_000_000),
}
REPORT_FIELD = re.compile(r"([A-Za-z ]+): ([0-9]+(?:\.[0-9]+)?) (ms|MB)")


def _number(text):
    return float(text) if "." in text else int(text)


def parse_line(line):
    """The fields of one log line, or None for a blank line. A JSON object gives its
    flattened leaves; START, END and REPORT give Lambda's fields; any line gives @message."""
    line = line.rstrip("\r\n")
    text = line.strip()
    if not text:
        return None
    record = {}
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            record = flatten(doc)
    else:
        match = PLATFORM_LINE.match(text)
        if match:
            record = {"@type": match[1], "@requestId": match[2]}
        if match and match[1] == "REPORT":
            for part in text.split("\t")[1:]:
                field = REPORT_FIELD.fullmatch(part.strip())
                if field and field[1] in REPORT_FIELDS:
                    name, unit, factor = REPORT_FIELDS[field[1]]
                    if field[3] != unit:
                        raise ValueError(f"REPORT's {field[1]} in {field[3]}, not {unit}: {line!r}")
                    value = _number(field[2]) * factor
                    if isinstance(value, float) and factor != 1 and value.is_integer():
                        value = int(value)  # 27.5 MB: 27500000 bytes
                    record[name] = value
    record["@message"] = line
    return record


@functools.lru_cache(maxsize=None)
def read_log(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return tuple(r for r in map(parse_line, f) if r is not None)


# --- query strings -----------------------------------------------------------------------

KEYWORDS = {
    "fields", "filter", "stats", "sort", "limit", "display", "parse", "dedup", "unmask",
    "unnest", "pattern", "diff", "anomaly", "lookup", "filterindex", "source",
    "as", "by", "and", "or", "not", "in", "like", "asc", "desc", "true", "false",
}
TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<quoted>`[^`]*`)
  | (?P<num>\d+(?:\.\d+)?[A-Za-z]*)
  | (?P<ident>@?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_@]+)*)
  | (?P<op>==|!=|=~|<=|>=|[=<>|,()\[\]*+\-/%^!])
""", re.VERBOSE)


def tokens(query):
    """(kind, text) of each token: str, quoted (a `field name`), num, ident, op, regex.
    Comments and white space are dropped; a /regex/ after `like` or `=~` is one token."""
    out, pos = [], 0
    while pos < len(query):
        previous = out[-1] if out else None
        if (query[pos] == "/" and previous and previous[0] in ("ident", "op")
                and previous[1].lower() in ("like", "=~")):
            end = pos + 1
            while end < len(query) and query[end] != "/":
                end += 2 if query[end] == "\\" else 1
            if end >= len(query):
                raise ValueError(f"unterminated regex at {query[pos:pos + 20]!r}")
            out.append(("regex", query[pos:end + 1]))
            pos = end + 1
            continue
        match = TOKEN.match(query, pos)
        if not match:
            raise ValueError(f"cannot read the query at {query[pos:pos + 20]!r}")
        kind = match.lastgroup
        if kind not in ("space", "comment"):
            text = match.group()
            if kind == "str":
                text = re.sub(r"\\(.)", r"\1", text[1:-1])
            elif kind == "quoted":
                kind, text = "ident", text[1:-1]
            out.append((kind, text))
        pos = match.end()
    return out


def commands(query):
    """The query's commands, each a list of tokens, split at the top-level `|`."""
    out = [[]]
    for tok in tokens(query):
        if tok == ("op", "|"):
            out.append([])
        else:
            out[-1].append(tok)
    return [c for c in out if c]


def aliases(query):
    """The names a query defines itself: the one after each `as`, and every name after a
    `parse` command's `as`."""
    found = set()
    for command in commands(query):
        is_parse = command[0][1].lower() == "parse"
        after_as = False
        for i, (kind, text) in enumerate(command[:-1]):
            if kind == "ident" and text.lower() == "as":
                after_as = True
                if command[i + 1][0] == "ident":
                    found.add(command[i + 1][1])
            elif is_parse and after_as and kind == "ident":
                found.add(text)
        if is_parse and after_as and command[-1][0] == "ident":
            found.add(command[-1][1])
    return found


def referenced_fields(query):
    """The log fields a query reads: neither keywords, functions, nor its own aliases."""
    toks = tokens(query)
    own = aliases(query)
    fields = set()
    for i, (kind, text) in enumerate(toks):
        if kind != "ident" or text.lower() in KEYWORDS or text in own:
            continue
        if i + 1 < len(toks) and toks[i + 1] == ("op", "("):
            continue  # a function: count(…), bin(…), ispresent(…)
        fields.add(text)
    return fields


def equalities(toks, fields):
    """{field: constant} of each `field = "constant"` (or ==) among the tokens."""
    found = {}
    for i in range(len(toks) - 2):
        (k1, field), (k2, op), (k3, value) = toks[i:i + 3]
        if k1 == "ident" and field in fields and k2 == "op" and op in ("=", "==") and k3 == "str":
            found.setdefault(field, []).append(value)
    return found


def message_constants(query):
    """Every constant the query compares fields.message with."""
    return equalities(tokens(query), {"fields.message"}).get("fields.message", [])


# --- filter commands, evaluated on one line's fields -------------------------------------


class UnsupportedFilter(ValueError):
    """A filter this module cannot evaluate faithfully."""


RESERVED = {"and", "or", "not", "like", "in", "as", "by", "true", "false"}
COMPARISONS = {"=", "==", "!=", "<", ">", "<=", ">="}


class _FilterParser:
    """A filter command's expression, as a tree of tuples:
    ("or", a, b), ("and", a, b), ("not", a), ("cmp", field, op, literal),
    ("like", field, kind, pattern) with kind "regex" (a compiled re) or "str",
    ("in", field, literals), ("present", field)."""

    def __init__(self, toks, own_aliases):
        self.toks, self.pos, self.aliases = toks, 0, own_aliases

    def peek(self, offset=0):
        i = self.pos + offset
        return self.toks[i] if i < len(self.toks) else (None, None)

    def word(self, offset=0):
        kind, text = self.peek(offset)
        return text.lower() if kind == "ident" else None

    def take(self):
        tok = self.peek()
        self.pos += 1
        return tok

    def fail(self, why):
        rest = " ".join(t for _, t in self.toks[self.pos:self.pos + 6])
        raise UnsupportedFilter(f"{why} at {rest!r}" if rest else f"{why} at the end")

    def parse(self):
        if not self.toks:
            self.fail("an empty filter")
        node = self.or_expr()
        if self.pos != len(self.toks):
            self.fail("unexpected token")
        return node

    def or_expr(self):
        node = self.and_expr()
        while self.word() == "or":
            self.take()
            node = ("or", node, self.and_expr())
        return node

    def and_expr(self):
        node = self.not_expr()
        while self.word() == "and":
            self.take()
            node = ("and", node, self.not_expr())
        return node

    def not_expr(self):
        if self.word() == "not":
            self.take()
            return ("not", self.not_expr())
        return self.primary()

    def field(self):
        kind, text = self.peek()
        if kind != "ident" or text.lower() in RESERVED or self.peek(1) == ("op", "("):
            self.fail("expected a field")
        if text in self.aliases:
            self.fail(f"a filter on the query's own alias {text!r} (computed, not a log field)")
        self.take()
        return text

    def literal(self):
        kind, text = self.take()
        if kind == "str":
            return text
        negative = (kind, text) == ("op", "-")
        if negative:
            kind, text = self.take()
        if kind == "num" and re.fullmatch(r"\d+(?:\.\d+)?", text):
            value = _number(text)
            return -value if negative else value
        self.pos -= 2 if negative else 1
        self.fail("expected a string or number literal")

    def primary(self):
        if self.peek() == ("op", "("):
            self.take()
            node = self.or_expr()
            if self.take() != ("op", ")"):
                self.pos -= 1
                self.fail("expected )")
            return node
        if self.peek()[0] == "ident" and self.peek(1) == ("op", "("):
            name = self.word()
            if name != "ispresent":
                self.fail(f"the function {self.peek()[1]}()")
            self.pos += 2
            field = self.field()
            if self.take() != ("op", ")"):
                self.pos -= 1
                self.fail("expected ) after ispresent's field")
            return ("present", field)
        field = self.field()
        negate = False
        if self.word() == "not" and self.word(1) in ("like", "in"):
            self.take()
            negate = True
        kind, text = self.peek()
        if self.word() == "like" or (kind, text) == ("op", "=~"):
            self.take()
            kind, pattern = self.take()
            if kind == "regex":
                body = pattern[1:-1]
                try:
                    node = ("like", field, "regex", re.compile(body))
                except re.error as error:
                    raise UnsupportedFilter(f"the regex {pattern} ({error})") from None
            elif kind == "str" and text.lower() == "like":
                node = ("like", field, "str", pattern)
            else:
                self.pos -= 1
                self.fail(f"expected a /regex/{' or a string' if text.lower() == 'like' else ''}")
        elif self.word() == "in":
            self.take()
            if self.take() != ("op", "["):
                self.pos -= 1
                self.fail("expected [")
            values = [self.literal()]
            while self.peek() == ("op", ","):
                self.take()
                values.append(self.literal())
            if self.take() != ("op", "]"):
                self.pos -= 1
                self.fail("expected ]")
            node = ("in", field, values)
        elif kind == "op" and text in COMPARISONS:
            self.take()
            node = ("cmp", field, "=" if text == "==" else text, self.literal())
        else:
            self.fail(f"expected a comparison after {field}")
        return ("not", node) if negate else node


def parse_filter(command, own_aliases=frozenset()):
    """The expression tree of one `filter` command's tokens (its first token `filter`)."""
    return _FilterParser(command[1:], set(own_aliases)).parse()


def query_filters(query):
    """The expression trees of the query's `filter` commands, all of which a line must
    pass. Raises UnsupportedFilter for a filter this module cannot evaluate on lines."""
    try:
        pipeline = commands(query)
    except ValueError as error:
        raise UnsupportedFilter(str(error)) from None
    own = aliases(query)
    filters, aggregated = [], False
    for command in pipeline:
        word = command[0][1].lower() if command[0][0] == "ident" else None
        if word == "stats":
            aggregated = True
        elif word == "filter":
            if aggregated:
                raise UnsupportedFilter("a filter after stats (it reads aggregates, not lines)")
            filters.append(parse_filter(command, own))
    return filters


def _text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _compare(value, op, literal):
    """Logs Insights' comparison of a line's value with a literal; a missing value is false."""
    if value is None:
        return False
    if isinstance(literal, (int, float)):
        if isinstance(value, bool):
            return False
        if not isinstance(value, (int, float)):
            try:
                value = float(value)
            except (TypeError, ValueError):
                return False
    else:
        value = _text(value)
    return {"=": value == literal, "!=": value != literal, "<": value < literal,
            ">": value > literal, "<=": value <= literal, ">=": value >= literal}[op]


def evaluate(node, record):
    """Whether a line with these fields passes the expression."""
    kind = node[0]
    if kind == "or":
        return evaluate(node[1], record) or evaluate(node[2], record)
    if kind == "and":
        return evaluate(node[1], record) and evaluate(node[2], record)
    if kind == "not":
        return not evaluate(node[1], record)
    if kind == "present":
        return record.get(node[1]) is not None
    value = record.get(node[1])
    if kind == "cmp":
        return _compare(value, node[2], node[3])
    if value is None:
        return False
    if kind == "in":
        return any(_compare(value, "=", literal) for literal in node[2])
    if kind == "like":
        text = _text(value)
        return bool(node[3].search(text)) if node[2] == "regex" else node[3] in text
    raise AssertionError(f"unknown filter node {node!r}")


def keeps(filters, record):
    return all(evaluate(f, record) for f in filters)


def _atoms(node):
    if node[0] in ("or", "and"):
        return _atoms(node[1]) + _atoms(node[2])
    if node[0] == "not":
        return _atoms(node[1])
    return [node]


def is_errors_query(filters):
    """A query of ERROR lines: one of its filters compares level with "ERROR"."""
    return any(atom == ("cmp", "level", "=", "ERROR") for f in filters for atom in _atoms(f))


# --- the check itself --------------------------------------------------------------------


def check_query(directory, definition):
    """Hold one saved query to the log files in directory; an AssertionError says why not."""
    logical_id, name, files, query = definition
    label = f"query {logical_id} ({name!r})"
    try:
        filters = query_filters(query)
    except UnsupportedFilter as error:
        raise AssertionError(f"{label}: its filter cannot be evaluated here: {error}") from None
    directory = Path(directory)
    missing = [f for f in files if not (directory / f).is_file()]
    assert not missing, f"{label}: no log file {', '.join(missing)} in {directory}"
    records = [r for f in files for r in read_log(directory / f)]
    where = f"{', '.join(files)} in {directory}"
    fields = referenced_fields(query) - BUILT_IN

    for constant in message_constants(query):
        assert any(r.get("fields.message") == constant for r in records), (
            f"{label}: no line of {where} has fields.message = {constant!r}")

    if is_errors_query(filters):
        # A clean run may have no ERROR line: its fields must exist, on any line.
        for record in records:
            keeps(filters, record)  # evaluates without error on every line
        absent = sorted(f for f in fields if not any(f in r for r in records))
        assert not absent, f"{label}: no line of {where} has the field(s) {', '.join(absent)}"
        return

    kept = [r for r in records if keeps(filters, r)]
    assert kept, f"{label}: its filter keeps none of the {len(records)} lines of {where}"
    absent = sorted(f for f in fields if not any(f in r for r in kept))
    elsewhere = [f for f in absent if any(f in r for r in records)]
    assert not absent, (
        f"{label}: none of the {len(kept)} lines its filter keeps in {where} has the field(s) "
        f"{', '.join(absent)}"
        + (f" (only lines it drops have {', '.join(elsewhere)})" if elsewhere else ""))


# --- the helpers themselves, on small samples --------------------------------------------

SAMPLE_REPORT = ("REPORT RequestId: 3f1c-42\tDuration: 12.34 ms\tBilled Duration: 13 ms\t"
                 "Memory Size: 256 MB\tMax Memory Used: 30 MB\tInit Duration: 45.67 ms\t\n")


def test_report_start_and_end_lines_give_lambdas_fields():
    assert parse_line(SAMPLE_REPORT) == {
        "@type": "REPORT", "@requestId": "3f1c-42", "@duration": 12.34,
        "@billedDuration": 13, "@memorySize": 256_000_000, "@maxMemoryUsed": 30_000_000,
        "@initDuration": 45.67, "@message": SAMPLE_REPORT.rstrip("\n"),
    }
    warm = parse_line("REPORT RequestId: r2\tDuration: 1.50 ms\tBilled Duration: 2 ms\t"
                      "Memory Size: 128 MB\tMax Memory Used: 20 MB")
    assert "@initDuration" not in warm and warm["@duration"] == 1.5
    assert warm["@memorySize"] == 128_000_000 and warm["@maxMemoryUsed"] == 20_000_000
    timed_out = parse_line("REPORT RequestId: r3\tDuration: 15000.00 ms\tBilled Duration: 15000 ms\t"
                           "Memory Size: 256 MB\tMax Memory Used: 28 MB\tStatus: timeout")
    assert timed_out["@duration"] == 15000 and timed_out["@maxMemoryUsed"] == 28_000_000
    assert parse_line("START RequestId: r2 Version: $LATEST")["@type"] == "START"
    assert parse_line("END RequestId: r2") == {
        "@type": "END", "@requestId": "r2", "@message": "END RequestId: r2"}
    # Every other line is an event with @message alone.
    for text in ["thread 'main' panicked at src/main.rs:1:1", "{not json", "[1, 2]",
                 "2026-12-03T18:00:00.000Z r3 Task timed out after 15.00 seconds"]:
        assert parse_line(text + "\n") == {"@message": text}
    assert parse_line("  \n") is None


def test_json_lines_are_flattened_to_dotted_names():
    line = ('{"level":"INFO","fields":{"message":"tools/call","tool":"list_campaigns",'
            '"latency_us":5213,"gone":null},"span":{"requestId":"51506f88","name":"Lambda runtime invoke"},'
            '"_aws":{"CloudWatchMetrics":[{"Namespace":"AltaMcp/s","Metrics":[{"Name":"ToolCalls"}]}]}}')
    record = parse_line(line)
    assert record["level"] == "INFO"
    assert record["fields.message"] == "tools/call"
    assert record["fields.latency_us"] == 5213
    assert record["span.requestId"] == "51506f88"
    assert record["_aws.CloudWatchMetrics.0.Metrics.0.Name"] == "ToolCalls"
    assert "fields.gone" not in record and "fields" not in record
    assert record["@message"] == line


def test_a_querys_fields_are_what_it_reads_and_not_its_words():
    query = '''
        # a comment naming fields.not_read and `filter`
        filter fields.message = "tools/call" and fields.outcome in ["ok", "fields.fake"]
          and ispresent(span.requestId) and @message like /fields\\.regex|x/
        | fields fields.latency_us / 1000 as latency_ms, `fields.odd-name`
        | stats count(*) as calls, pct(latency_ms, 99) as p99 by bin(1d) as day, fields.tool, @log
        | sort p99 desc
        | limit 10
    '''
    assert referenced_fields(query) == {
        "fields.message", "fields.outcome", "span.requestId", "@message", "fields.latency_us",
        "fields.odd-name", "fields.tool", "@log"}
    assert aliases(query) == {"latency_ms", "calls", "p99", "day"}
    assert referenced_fields('parse @message "* of *" as a, b | stats count(*) by a, b') == {"@message"}
    assert message_constants(query) == ["tools/call"]
    assert message_constants('filter fields.message == "a" or fields.message = \'b\'') == ["a", "b"]


SIGN_IN = {"level": "INFO", "fields.message": "sign-in", "fields.method": "password",
           "fields.outcome": "failed", "fields.email_hash": "b19743cd25d749f6",
           "fields.source": "127.0.0.1", "span.requestId": "37c8", "@message": "{…}"}
REPORT = parse_line(SAMPLE_REPORT)
TIMEOUT = parse_line("2026-12-03T18:00:00.000Z 37c8 Task timed out after 15.00 seconds")


def passes(filter_text, record):
    return keeps(query_filters(filter_text), record)


def test_the_filter_evaluator_reads_logs_insights_expressions():
    assert passes('filter fields.message = "sign-in" and fields.outcome != "succeeded"', SIGN_IN)
    assert not passes('filter fields.message = "sign-in" and fields.outcome = "succeeded"', SIGN_IN)
    assert passes('filter fields.message == "x" or fields.method = "password"', SIGN_IN)
    assert not passes('filter fields.message = "x" or fields.method = "sso"', SIGN_IN)
    assert passes('filter not fields.message = "x"', SIGN_IN)
    assert not passes('filter not (fields.message = "sign-in" and level = "INFO")', SIGN_IN)
    # and binds tighter than or; parentheses override it.
    assert passes('filter level = "INFO" or level = "X" and level = "Y"', SIGN_IN)
    assert not passes('filter (level = "INFO" or level = "X") and level = "Y"', SIGN_IN)
    # like: a regex searched for, or a substring; not like.
    assert passes('filter fields.source like /^127\\.0\\./', SIGN_IN)
    assert not passes('filter fields.source like /^10\\./', SIGN_IN)
    assert passes('filter fields.message like "gn-i"', SIGN_IN)
    assert passes('filter fields.message not like "sign-up"', SIGN_IN)
    assert passes('filter @message like /Task timed out/', TIMEOUT)
    assert passes('filter level = "ERROR" or @message like /Task timed out|panicked/', TIMEOUT)
    assert not passes('filter level = "ERROR" or @message like /panicked/', TIMEOUT)
    # ispresent, in, and several filter commands, all of which must hold.
    assert passes('filter ispresent(fields.email_hash) and not ispresent(fields.tool)', SIGN_IN)
    assert passes('filter fields.outcome in ["failed", "locked"]', SIGN_IN)
    assert not passes('filter fields.outcome not in ["failed", "locked"]', SIGN_IN)
    assert not passes('filter level = "INFO" | fields x | filter fields.method = "sso"', SIGN_IN)
    # Numbers, and REPORT's fields in ms and bytes.
    assert passes('filter @type = "REPORT" and @duration > 12 and @duration <= 12.34', REPORT)
    assert passes('filter @maxMemoryUsed >= 30000000 and @memorySize < 256000001', REPORT)
    assert passes('filter @billedDuration = 13 and @billedDuration = "13"', REPORT)
    assert not passes('filter @type = "REPORT"', SIGN_IN)
    assert passes('filter @duration > -1', REPORT)


def test_a_comparison_with_a_missing_field_is_false():
    for text in ['filter fields.tool = "x"', 'filter fields.tool != "x"', 'filter fields.tool < 5',
                 'filter fields.tool >= 0', 'filter fields.tool like /./',
                 'filter fields.tool like ""', 'filter fields.tool in ["x"]',
                 'filter ispresent(fields.tool)', 'filter @type = "REPORT"']:
        assert not passes(text, TIMEOUT), text
    assert passes('filter not fields.tool = "x"', TIMEOUT)
    # A number literal against text that is not a number is false too.
    assert not passes('filter fields.outcome > 1', SIGN_IN)
    assert not passes('filter fields.outcome != 1', SIGN_IN)


def test_a_filter_this_module_cannot_evaluate_fails_loudly():
    for text in ['filter isempty(fields.tool)', 'filter fields.latency_us / 1000 > 5',
                 'filter fields.a = fields.b', 'filter fields.a = true', 'filter fields.a',
                 'filter (fields.a = "x"', 'filter fields.a = "x" fields.b = "y"',
                 'filter', 'filter @duration > 5m', 'filter fields.a like /(/',
                 'filter fields.a = "x" && fields.b = "y"', 'filter ! fields.a = "x"',
                 'fields @duration / 1000 as s | filter s > 1',
                 'stats count(*) as n by fields.tool | filter n > 5',
                 'filter fields.a like /unterminated']:
        with pytest.raises(UnsupportedFilter):
            query_filters(text)
    definition = ("OddQuery", "odd", ["mcp.log"], "filter isempty(fields.tool) | stats count(*)")
    with pytest.raises(AssertionError, match=r"OddQuery.*cannot be evaluated.*isempty"):
        check_query("/nonexistent", definition)


def test_the_errors_query_is_told_by_its_level_comparison():
    assert is_errors_query(query_filters('filter level = "ERROR"'))
    assert is_errors_query(query_filters('filter level = "ERROR" or @message like /timed out/'))
    assert not is_errors_query(query_filters('filter level = "INFO"'))
    assert not is_errors_query(query_filters('fields @message'))


SAMPLE_LOG = "\n".join([
    "START RequestId: 37c8 Version: $LATEST",
    json.dumps({"level": "INFO", "fields": {"message": "sign-in", "method": "password",
                "outcome": "failed", "email_hash": "b19743cd25d749f6", "source": "127.0.0.1"},
                "span": {"requestId": "37c8", "name": "Lambda runtime invoke"}}),
    json.dumps({"level": "INFO", "fields": {"message": "request", "status": 200, "latency_us": 5},
                "span": {"requestId": "37c8"}}),
    "END RequestId: 37c8",
    "REPORT RequestId: 37c8\tDuration: 57.85 ms\tBilled Duration: 58 ms\tMemory Size: 256 MB\t"
    "Max Memory Used: 28 MB\tInit Duration: 14.04 ms",
    "2026-12-03T18:00:00.000Z 37c8 Task timed out after 15.00 seconds",
]) + "\n"


@pytest.fixture
def sample_logs(tmp_path):
    (tmp_path / "authorize.log").write_text(SAMPLE_LOG, encoding="utf-8")
    return tmp_path


def sample(query):
    return ("SampleQuery", "sample", ["authorize.log"], query)


def test_a_query_whose_filter_keeps_lines_with_its_fields_passes(sample_logs):
    check_query(sample_logs, sample(
        'filter fields.message = "sign-in" and fields.outcome != "succeeded"\n'
        '| stats count(*) as failures, earliest(@timestamp) as first by fields.email_hash, fields.source'))
    check_query(sample_logs, sample(
        'filter @type = "REPORT" | stats count(@initDuration) as cold, '
        'max(@maxMemoryUsed / 1000 / 1000) as mb by @log'))


def test_a_query_whose_filter_keeps_nothing_fails(sample_logs):
    with pytest.raises(AssertionError, match=r"SampleQuery.*keeps none of the 6 lines"):
        check_query(sample_logs, sample('filter fields.message = "sign-in" and fields.outcome = "succeeded"'
                                        ' | stats count(*) by fields.source'))
    # A typo in a filter's field keeps nothing, as a comparison with a missing field is false.
    with pytest.raises(AssertionError, match="keeps none"):
        check_query(sample_logs, sample('filter fields.outcom != "succeeded" | stats count(*)'))


def test_a_query_whose_field_is_only_on_lines_its_filter_drops_fails(sample_logs):
    # fields.latency_us is on the "request" line, which the filter drops.
    with pytest.raises(AssertionError, match=r"SampleQuery.*fields\.latency_us.*only lines it drops"):
        check_query(sample_logs, sample(
            'filter fields.message = "sign-in" | stats avg(fields.latency_us) by fields.source'))
    with pytest.raises(AssertionError, match=r"fields\.source"):
        check_query(sample_logs, sample('filter @type = "REPORT" | stats max(@duration) by fields.source'))
    # A field no line has at all, and a message constant no line has.
    with pytest.raises(AssertionError, match=r"fields\.nowhere"):
        check_query(sample_logs, sample('filter fields.message = "sign-in" | stats count(*) by fields.nowhere'))
    with pytest.raises(AssertionError, match=r"fields\.message = 'sign-up'"):
        check_query(sample_logs, sample('filter fields.message = "sign-in" or fields.message = "sign-up"'))


def test_the_errors_query_needs_its_fields_on_some_line_not_an_error_line(sample_logs):
    errors = 'filter level = "ERROR" or @message like /Task timed out/\n| fields @timestamp, span.requestId, fields.message'
    check_query(sample_logs, sample(errors))
    check_query(sample_logs, sample('filter level = "ERROR" | fields span.requestId, fields.message'))
    with pytest.raises(AssertionError, match=r"fields\.error_kind"):
        check_query(sample_logs, sample('filter level = "ERROR" | fields fields.error_kind'))
    with pytest.raises(AssertionError, match="cannot be evaluated"):
        check_query(sample_logs, sample('filter level = "ERROR" or isblank(fields.message)'))
    with pytest.raises(AssertionError, match=r"no log file mcp\.log"):
        check_query(sample_logs, ("SampleQuery", "sample", ["mcp.log"], 'filter level = "ERROR"'))


def test_the_template_loader_reads_short_tags_as_long_forms():
    doc = load_template('a: !Ref X\nb: !GetAtt T.Arn\nc: !Sub |\n  /aws/${F}\n'
                        'd: !If [C, !Join ["-", [x, !Ref AWS::Region]], !Ref AWS::NoValue]\n'
                        'e: !Select [0, !GetAZs ""]\nf: !Condition HasIt\n')
    assert doc == {
        "a": {"Ref": "X"}, "b": {"Fn::GetAtt": ["T", "Arn"]}, "c": {"Fn::Sub": "/aws/${F}\n"},
        "d": {"Fn::If": ["C", {"Fn::Join": ["-", ["x", {"Ref": "AWS::Region"}]]}, {"Ref": "AWS::NoValue"}]},
        "e": {"Fn::Select": [0, {"Fn::GetAZs": ""}]}, "f": {"Condition": "HasIt"},
    }
    assert kebab("RotateKeys") == "rotate-keys" and kebab("Mcp") == "mcp"


# --- the template's queries against the stack's logs -------------------------------------

TEMPLATE_DOC = load_template(TEMPLATE.read_text(encoding="utf-8"))
QUERIES = query_definitions(TEMPLATE_DOC)


def test_the_template_has_saved_queries_and_each_reads_its_functions_log_files():
    assert QUERIES, "template.yaml has no AWS::Logs::QueryDefinition"
    resources = TEMPLATE_DOC["Resources"]
    for logical_id, _, files, _ in QUERIES:
        assert files, f"{logical_id} names no log group"
    # The emulator names each function's file after its binary: the same name.
    for function_id, function in resources.items():
        if function.get("Type") == "AWS::Serverless::Function":
            binary = function["Metadata"]["BuildProperties"]["Binary"]
            assert kebab(function_id.removesuffix("Function")) == binary, function_id


@pytest.mark.parametrize("definition", QUERIES, ids=[q[0] for q in QUERIES])
def test_a_saved_querys_filter_can_be_evaluated(definition):
    logical_id, name, _, query = definition
    try:
        query_filters(query)
    except UnsupportedFilter as error:
        pytest.fail(f"query {logical_id} ({name!r}): its filter cannot be evaluated here: {error}")


@pytest.fixture(scope="module")
def stack_logs():
    directory = os.environ.get(LOGS_ENV)
    if not directory:
        raise RuntimeError(
            f"{LOGS_ENV} is not set: it names the emulated stack's log directory "
            "(scripts/test sets it to target/test-stack/logs after the other suites ran)")
    directory = Path(directory)
    if not directory.is_dir():
        raise RuntimeError(f"{LOGS_ENV}={directory} is not a directory")
    return directory


@pytest.mark.parametrize("definition", QUERIES, ids=[q[0] for q in QUERIES])
def test_a_saved_query_reads_fields_and_lines_the_stack_writes(stack_logs, definition):
    check_query(stack_logs, definition)
