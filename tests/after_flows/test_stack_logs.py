"""The saved Logs Insights queries of template.yaml, held to the logs the emulated stack wrote.

scripts/test runs this module after every other suite has exercised the stack, with the
stack's log directory (one file per function, named after its logical id without
"Function" in kebab case: discovery.log, register.log, authorize.log, token.log,
revoke.log, mcp.log, rotate-keys.log):

    ALTA_TEST_STACK_LOGS=target/test-stack/logs .venv-test/bin/pytest tests/after_flows -q -p no:cacheprovider

For every AWS::Logs::QueryDefinition, in the files of its LogGroupNames: each field the
query names occurs in some line (the built-ins @timestamp, @message, @log and @logStream
always do); each `fields.message = "..."` constant is some line's message; and the
query's filter on fields.message, @type and ispresent() finds at least one line, except
for a query of ERROR lines (a clean run has none). The lines are read as Logs Insights
reads them: JSON lines flattened to dotted names (fields.tool, span.requestId), Lambda's
START, END and REPORT lines giving @type, @requestId, @duration, @billedDuration,
@memorySize, @maxMemoryUsed and @initDuration; other lines are ignored. The parsing
helpers are tested below on inline samples, so that a broken parser fails here too.
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
REPORT_FIELD = re.compile(
    r"(Billed Duration|Init Duration|Max Memory Used|Memory Size|Duration): ([0-9.]+)")
REPORT_FIELDS = {
    "Duration": "@duration",
    "Billed Duration": "@billedDuration",
    "Memory Size": "@memorySize",
    "Max Memory Used": "@maxMemoryUsed",
    "Init Duration": "@initDuration",
}


def parse_line(line):
    """The fields of one log line, or None for a line Logs Insights finds nothing in."""
    line = line.rstrip("\r\n")
    text = line.strip()
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError:
            return None
        if not isinstance(doc, dict):
            return None
        record = flatten(doc)
    else:
        match = PLATFORM_LINE.match(text)
        if not match:
            return None
        record = {"@type": match[1], "@requestId": match[2]}
        if match[1] == "REPORT":
            for name, value in REPORT_FIELD.findall(text):
                record[REPORT_FIELDS[name]] = float(value)
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
        if query[pos] == "/" and previous and previous[1].lower() in ("like", "=~"):
            end = pos + 1
            while end < len(query) and query[end] != "/":
                end += 2 if query[end] == "\\" else 1
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


def referenced_fields(query):
    """The log fields a query reads: neither keywords, functions, nor its own aliases."""
    toks = tokens(query)
    aliases = {toks[i + 1][1] for i, (kind, text) in enumerate(toks[:-1])
               if kind == "ident" and text.lower() == "as" and toks[i + 1][0] == "ident"}
    fields = set()
    for i, (kind, text) in enumerate(toks):
        if kind != "ident" or text.lower() in KEYWORDS or text in aliases:
            continue
        if i + 1 < len(toks) and toks[i + 1] == ("op", "("):
            continue  # a function: count(…), bin(…), ispresent(…)
        fields.add(text)
    return fields


def commands(query):
    """The query's commands, each a list of tokens, split at the top-level `|`."""
    out = [[]]
    for tok in tokens(query):
        if tok == ("op", "|"):
            out.append([])
        else:
            out[-1].append(tok)
    return [c for c in out if c]


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


def filter_requirements(query):
    """What a line must have for the query's filters to keep it, as far as this module
    reads them: fields.message, @type and level equal to their constants, and the fields
    of ispresent(). A filter with `or` or `not` is not read (it asks nothing here)."""
    equal, present = {}, set()
    for command in commands(query):
        if command[0][1].lower() != "filter":
            continue
        words = {text.lower() for kind, text in command if kind == "ident"}
        if words & {"or", "not"}:
            continue
        for field, values in equalities(command, {"fields.message", "@type", "level"}).items():
            equal.setdefault(field, set()).update(values)
        for i in range(len(command) - 2):
            if command[i] == ("ident", "ispresent") and command[i + 1] == ("op", "("):
                present.add(command[i + 2][1])
    return equal, present


def matches(record, requirements):
    equal, present = requirements
    return all(record.get(f) in values for f, values in equal.items()) and all(
        record.get(f) is not None for f in present)


# --- the helpers themselves, on small samples --------------------------------------------

SAMPLE_REPORT = ("REPORT RequestId: 3f1c-42\tDuration: 12.34 ms\tBilled Duration: 13 ms\t"
                 "Memory Size: 256 MB\tMax Memory Used: 30 MB\tInit Duration: 45.67 ms\t\n")


def test_report_start_and_end_lines_give_lambdas_fields():
    assert parse_line(SAMPLE_REPORT) == {
        "@type": "REPORT", "@requestId": "3f1c-42", "@duration": 12.34,
        "@billedDuration": 13.0, "@memorySize": 256.0, "@maxMemoryUsed": 30.0,
        "@initDuration": 45.67, "@message": SAMPLE_REPORT.rstrip("\n"),
    }
    warm = parse_line("REPORT RequestId: r2\tDuration: 1.50 ms\tBilled Duration: 2 ms\t"
                      "Memory Size: 128 MB\tMax Memory Used: 20 MB")
    assert "@initDuration" not in warm and warm["@duration"] == 1.5
    assert parse_line("START RequestId: r2 Version: $LATEST")["@type"] == "START"
    assert parse_line("END RequestId: r2") == {
        "@type": "END", "@requestId": "r2", "@message": "END RequestId: r2"}
    assert parse_line("thread 'main' panicked at src/main.rs:1:1") is None
    assert parse_line("{not json") is None
    assert parse_line("[1, 2]") is None


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
    assert message_constants(query) == ["tools/call"]
    assert message_constants('filter fields.message == "a" or fields.message = \'b\'') == ["a", "b"]
    assert filter_requirements(query) == ({"fields.message": {"tools/call"}}, {"span.requestId"})
    assert filter_requirements('filter @type = "REPORT" | filter level = "X" or level = "Y"') == (
        {"@type": {"REPORT"}}, set())
    assert matches({"fields.message": "tools/call", "span.requestId": "r"}, filter_requirements(query))
    assert not matches({"fields.message": "tools/call"}, filter_requirements(query))
    assert not matches({"fields.message": "request", "span.requestId": "r"}, filter_requirements(query))


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
    logical_id, name, files, query = definition
    label = f"query {logical_id} ({name!r})"
    missing = [f for f in files if not (stack_logs / f).is_file()]
    assert not missing, f"{label}: no log file {', '.join(missing)} in {stack_logs}"
    records = [r for f in files for r in read_log(stack_logs / f)]
    where = f"{', '.join(files)} in {stack_logs}"

    absent = sorted(f for f in referenced_fields(query) - BUILT_IN
                    if not any(f in r for r in records))
    assert not absent, f"{label}: no line of {where} has the field(s) {', '.join(absent)}"

    for constant in message_constants(query):
        assert any(r.get("fields.message") == constant for r in records), (
            f"{label}: no line of {where} has fields.message = {constant!r}")

    requirements = filter_requirements(query)
    if "ERROR" in requirements[0].get("level", set()):
        return  # ERROR lines may rightly be absent: their fields exist, checked above
    assert any(matches(r, requirements) for r in records), (
        f"{label}: its filter ({requirements[0]}, present: {sorted(requirements[1])}) "
        f"finds no line of {where}")
